"""A step's decorators read once, with defaults and checks, into the settings Batch and ASL need.

The parser gives decorator arguments as written (literal values from the source, or the live
values of the class); anything missing or not literal falls back to the decorator's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from branchline.aws.compile.compute import step_compute
from branchline.aws.compile.context import (
    BATCH_MAX_ATTEMPTS,
    BATCH_MIN_TIMEOUT_SECONDS,
    HOST_FAILURE_ATTEMPTS,
    STATE_MAX_TIMEOUT_SECONDS,
    CompileContext,
    CompileError,
)
from branchline.graph.model import StepNode

Transition = Literal["linear", "split", "foreach", "end"]

RESERVED_ENV_PREFIXES = ("BRANCHLINE_", "AWS_BATCH_")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class StepSettings:
    """What one step asks of the compute and of the state machine."""

    cpu: float
    memory: int
    gpu: int
    attempts: int
    """User attempts: `@retry(times=n)` gives n+1; a step without @retry gets 1."""
    retry_delay_seconds: int
    timeout_seconds: int | None
    """`@timeout`, per attempt (None: the project's default applies)"""
    catch: bool
    environment: dict[str, str]

    @property
    def retries(self) -> int:
        return self.attempts - 1

    def attempt_timeout(self, ctx: CompileContext) -> int:
        """Seconds one attempt may run: `@timeout`, else the project's `step_timeout_seconds`."""
        return self.timeout_seconds if self.timeout_seconds is not None else ctx.step_timeout_seconds

    def state_timeout(self, ctx: CompileContext) -> int:
        """Seconds the step's Task state may last: its job may wait `queue_timeout_seconds` for compute, then
        run its attempts (host failures are retried inside one Task), so no step can hang for ever."""
        total = ctx.queue_timeout_seconds + HOST_FAILURE_ATTEMPTS * self.attempt_timeout(ctx)
        return min(total, STATE_MAX_TIMEOUT_SECONDS)


def transition(node: StepNode) -> Transition:
    """How `node` ends, from its out-edges (robust to `type` being `start` or `join`)."""
    if not node.out_funcs:
        return "end"
    if node.foreach_var:
        return "foreach"
    return "split" if len(node.out_funcs) > 1 else "linear"


def _arg(node: StepNode, deco: str, key: str, default: Any) -> Any:
    found = node.decorator(deco)
    value = found.args.get(key) if found is not None else None
    return default if value is None else value


def _number(node: StepNode, deco: str, key: str, value: Any, *, minimum: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise CompileError(
            f"step {node.name!r}: @{deco}({key}={value!r}) is not a number >= {minimum:g}",
            hint=f"give @{deco} a literal {key} on line {node.lineno}",
        )
    return value


def _attempts(node: StepNode) -> int:
    if node.decorator("retry") is None:
        return 1
    times = _number(node, "retry", "times", _arg(node, "retry", "times", 3), minimum=0)
    if int(times) != times or times + 1 > BATCH_MAX_ATTEMPTS:
        raise CompileError(
            f"step {node.name!r}: @retry(times={times!r}) is not an integer from 0 to {BATCH_MAX_ATTEMPTS - 1}",
            hint=f"AWS Batch allows at most {BATCH_MAX_ATTEMPTS} attempts of a job",
        )
    return int(times) + 1


def _timeout(node: StepNode) -> int | None:
    if node.decorator("timeout") is None:
        return None
    seconds = _number(node, "timeout", "seconds", _arg(node, "timeout", "seconds", 0), minimum=1)
    # Batch refuses attemptDurationSeconds below 60: a shorter @timeout is rounded up on AWS.
    return max(BATCH_MIN_TIMEOUT_SECONDS, int(seconds + 0.999))


def _environment(node: StepNode) -> dict[str, str]:
    raw = _arg(node, "environment", "vars", {})
    if not isinstance(raw, dict):
        raise CompileError(
            f"step {node.name!r}: @environment(vars=...) is not a literal dict", hint="write vars={'NAME': 'value'}"
        )
    return {str(k): str(v) for k, v in raw.items()}


def check_environment(env: dict[str, str], where: str) -> None:
    """Environment names must be valid and must not shadow the entrypoint's own variables."""
    for name in env:
        if not _ENV_NAME.fullmatch(name):
            raise CompileError(f"{where}: {name!r} is not a valid environment variable name",
                               hint="use letters, digits and `_`, not starting with a digit")
        if name.startswith(RESERVED_ENV_PREFIXES):
            raise CompileError(
                f"{where}: environment variable {name} is reserved for branchline and AWS Batch",
                hint=f"rename it: names starting with {' or '.join(RESERVED_ENV_PREFIXES)} are set by the platform",
            )


def settings(node: StepNode) -> StepSettings:
    """Read and check the decorators of `node`."""
    env = _environment(node)
    check_environment(env, f"step {node.name!r}")
    compute = step_compute(node)  # @resources and @batch: the larger of each
    delay_minutes = (
        _number(node, "retry", "minutes_between_retries", _arg(node, "retry", "minutes_between_retries", 2), minimum=0)
        if node.decorator("retry") is not None
        else 0
    )
    return StepSettings(
        cpu=compute.cpu,
        memory=compute.memory,
        gpu=compute.gpu,
        attempts=_attempts(node),
        retry_delay_seconds=int(delay_minutes * 60),
        timeout_seconds=_timeout(node),
        catch=node.decorator("catch") is not None,
        environment=env,
    )
