"""`@schedule` as an EventBridge Scheduler schedule of the production namespace.

EventBridge cron has six fields (minutes hours day-of-month month day-of-week year), needs `?`
in one of the two day fields, and numbers weekdays 1-7 from Sunday. `@schedule(cron=...)` takes
that form as Metaflow does, and also the classic five-field form, converted here.
"""

from __future__ import annotations

import re
from typing import Any

from branchline.aws.compile.context import CompileContext, CompileError
from branchline.graph.model import FlowGraph
from branchline.namespaces import Names, is_production

DEFAULT_TIMEZONE = "UTC"
_WEEKDAY_NUMBER = re.compile(r"(?<![/#\d])(\d+)")


def _eventbridge_weekdays(field: str) -> str:
    """Classic weekday numbers (0 or 7 = Sunday) to EventBridge's (1 = Sunday); steps (`/2`) and `#n` kept."""
    return _WEEKDAY_NUMBER.sub(lambda m: str(int(m.group(1)) % 7 + 1), field)


def eventbridge_cron(cron: str) -> str:
    """The six-field EventBridge form of a five- or six-field cron expression."""
    fields = cron.split()
    if len(fields) == 6:
        return " ".join(fields)
    if len(fields) != 5:
        raise CompileError(
            f"@schedule(cron={cron!r}) has {len(fields)} fields",
            hint="give 5 (classic: 'min hour day month weekday') or 6 (EventBridge) fields",
        )
    minute, hour, day, month, weekday = fields
    if weekday == "*":
        weekday = "?"
    elif day == "*":
        day, weekday = "?", _eventbridge_weekdays(weekday)
    else:
        raise CompileError(
            f"@schedule(cron={cron!r}) sets both a day of month and a day of week",
            hint="EventBridge runs on one or the other: set the unused one to '*'",
        )
    return " ".join((minute, hour, day, month, weekday, "*"))


def compile_schedule(graph: FlowGraph, ctx: CompileContext) -> dict[str, Any] | None:
    """`{"name", "expression", "timezone"}` for a `@schedule` flow in production; None otherwise.

    Branch namespaces never run on a schedule: they are triggered by their pull request.
    """
    if not graph.schedule or not is_production(ctx.namespace):
        return None
    cron = graph.schedule.get("cron")
    if not cron:
        raise CompileError(f"flow {graph.name}: @schedule has no cron expression")
    return {
        "name": Names(ctx.project, ctx.namespace).schedule(graph.name),
        "expression": f"cron({eventbridge_cron(str(cron))})",
        "timezone": graph.schedule.get("timezone") or DEFAULT_TIMEZONE,
    }
