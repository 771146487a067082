"""Step decorators (`@step`, `@resources`, `@retry`, `@timeout`, `@catch`) and the flow-level `@schedule`.

They only record their arguments on the function (or class); the graph reads them, the local
runtime honours retry/timeout/catch and the AWS compiler turns all of them into ASL and Batch.
Order does not matter: `@retry` may sit above or below `@step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "_branchline_step"
DECORATORS_ATTR = "_branchline_decorators"
SCHEDULE_ATTR = "_branchline_schedule"


def step(func: F) -> F:
    """Mark a method of a FlowSpec as a step."""
    setattr(func, STEP_MARK, True)
    if not hasattr(func, DECORATORS_ATTR):
        setattr(func, DECORATORS_ATTR, {})
    return func


def _recorder(name: str, args: dict[str, Any]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        decos = dict(getattr(func, DECORATORS_ATTR, {}))
        decos[name] = args
        setattr(func, DECORATORS_ATTR, decos)
        return func

    return apply


def _positive(name: str, field: str, value: Any, *, allow_zero: bool = True) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0 or (not allow_zero and value == 0):
        raise TypeError(f"@{name}({field}=...) must be a {'non-negative' if allow_zero else 'positive'} number")


def resources(
    func: F | None = None, *, cpu: float = 1, memory: int = 4096, gpu: int = 0, disk: int | None = None
) -> Any:
    """Compute a step needs: vCPUs, memory in MiB, GPUs (Batch ResourceRequirements)."""
    _positive("resources", "cpu", cpu, allow_zero=False)
    _positive("resources", "memory", memory, allow_zero=False)
    _positive("resources", "gpu", gpu)
    deco = _recorder("resources", {"cpu": cpu, "memory": memory, "gpu": gpu, "disk": disk})
    return deco(func) if func is not None else deco


def retry(func: F | None = None, *, times: int = 3, minutes_between_retries: float = 2) -> Any:
    """Retry the step on failure; Batch retryStrategy on AWS (at most 10 attempts in all)."""
    if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= 9:
        raise TypeError("@retry(times=...) must be an integer from 0 to 9 (Batch allows 10 attempts)")
    _positive("retry", "minutes_between_retries", minutes_between_retries)
    deco = _recorder("retry", {"times": times, "minutes_between_retries": minutes_between_retries})
    return deco(func) if func is not None else deco


def retry_wait_text(seconds: float) -> str:
    """`2 min`, `30 s`, `1 h 30 min`: how long a retry waits, for the local display and a container's log."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    hours, minutes = divmod(round(whole / 60), 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part)


def timeout(func: F | None = None, *, seconds: int = 0, minutes: int = 0, hours: int = 0) -> Any:
    """Kill the step after this long (Batch attemptDurationSeconds on AWS, at least 60 s there)."""
    total = seconds + 60 * minutes + 3600 * hours
    if total <= 0:
        raise TypeError("@timeout needs a positive duration: seconds=, minutes= or hours=")
    deco = _recorder("timeout", {"seconds": total})
    return deco(func) if func is not None else deco


def catch(func: F | None = None, *, var: str | None = None, print_exception: bool = True) -> Any:
    """Let the flow continue when the step fails; the exception is stored in `self.<var>`."""
    if var is not None and (not isinstance(var, str) or not var.isidentifier()):
        raise TypeError("@catch(var=...) must be a valid attribute name")
    deco = _recorder("catch", {"var": var, "print_exception": print_exception})
    return deco(func) if func is not None else deco


def environment(func: F | None = None, *, vars: dict[str, str] | None = None) -> Any:
    """Environment variables set for the step (locally and in its Batch container)."""
    deco = _recorder("environment", {"vars": dict(vars or {})})
    return deco(func) if func is not None else deco


_SHORTHANDS = {"hourly": "0 * * * ? *", "daily": "0 0 * * ? *", "weekly": "0 0 ? * SUN *"}


def _check_timezone(timezone: str) -> None:
    """An IANA time zone name (EventBridge Scheduler's `ScheduleExpressionTimezone`), checked where the
    machine has a time zone database (a slim step image may have none: the deploy checks it then)."""
    if not isinstance(timezone, str) or not timezone:
        raise TypeError("@schedule(timezone=...) must be an IANA time zone name, e.g. 'Europe/Paris'")
    import zoneinfo  # only flows that name a time zone pay for the import

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if zoneinfo.available_timezones():
            raise TypeError(
                f"@schedule(timezone={timezone!r}) is not an IANA time zone name (e.g. 'Europe/Paris', 'UTC')"
            ) from None


def schedule(
    cls: type | None = None,
    *,
    cron: str | None = None,
    hourly: bool = False,
    daily: bool = True,
    weekly: bool = False,
    timezone: str | None = None,
) -> Any:
    """Run the flow on a schedule in production (EventBridge Scheduler), with Metaflow's arguments and precedence:
    `cron`, else `weekly` (Sundays at midnight), else `hourly`, else `daily` (midnight); `daily=False` alone
    means no schedule. Times are UTC unless `timezone` names an IANA zone."""
    if cron is not None:
        if not isinstance(cron, str) or len(cron.split()) not in (5, 6):
            raise TypeError(f"@schedule(cron={cron!r}) needs 5 or 6 fields (EventBridge cron syntax)")
    else:
        chosen = next((name for name, on in (("weekly", weekly), ("hourly", hourly), ("daily", daily)) if on), None)
        cron = _SHORTHANDS[chosen] if chosen else None
    if timezone is not None:
        _check_timezone(timezone)
    value = {"cron": cron, "timezone": timezone} if cron else None

    def apply(flow_cls: type) -> type:
        setattr(flow_cls, SCHEDULE_ATTR, value)
        return flow_cls

    return apply(cls) if cls is not None else apply
