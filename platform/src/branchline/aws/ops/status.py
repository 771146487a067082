"""What a run is doing: its execution history folded into one row per state entered.

`steps_from_history` is pure (events in, rows out) so it is tested on recorded histories; the
I/O around it reads the history (and the child executions of Distributed Maps) page by page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from branchline.aws.session import ClientFactory

_STATUS_BY_EVENT = {
    "TaskScheduled": "SCHEDULED",
    "TaskStarted": "STARTED",
    "TaskSubmitted": "RUNNING",
    "TaskSucceeded": "SUCCEEDED",
    "TaskFailed": "FAILED",
    "TaskTimedOut": "TIMED_OUT",
    "TaskAborted": "ABORTED",
    "TaskSubmitFailed": "FAILED",
    "TaskStartFailed": "FAILED",
    "MapRunStarted": "RUNNING",
    "MapRunSucceeded": "SUCCEEDED",
    "MapRunFailed": "FAILED",
    "MapRunAborted": "ABORTED",
    "MapStateStarted": "RUNNING",
    "MapStateSucceeded": "SUCCEEDED",
    "MapStateFailed": "FAILED",
    "MapStateAborted": "ABORTED",
    "ParallelStateStarted": "RUNNING",
    "ParallelStateSucceeded": "SUCCEEDED",
    "ParallelStateFailed": "FAILED",
    "ParallelStateAborted": "ABORTED",
}


@dataclass
class StepRow:
    state: str
    kind: str
    status: str = "ENTERED"
    job_ids: list[str] = field(default_factory=list)
    error: str = ""
    map_run_arn: str = ""


@dataclass
class ExecutionStatus:
    arn: str
    status: str
    rows: list[StepRow]
    children: list[ExecutionStatus] = field(default_factory=list)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _job_id(text: str | None) -> str | None:
    """The Batch job id in a task's output (`JobId` as Step Functions spells it, or `jobId`)."""
    try:
        data = json.loads(text or "")
    except (TypeError, ValueError):
        return None
    if isinstance(data, dict):
        found = data.get("JobId") or data.get("jobId")
        return str(found) if found else None
    return None


def steps_from_history(events: Iterable[dict[str, Any]]) -> list[StepRow]:
    """One row per state entered; task/map/parallel events update the row of the state they follow."""
    rows: list[StepRow] = []
    row_of: dict[int, StepRow] = {}
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        details = _details(event)
        row = row_of.get(event.get("previousEventId", 0))
        if kind.endswith("StateEntered"):
            row = StepRow(state=details.get("name", "?"), kind=kind.removesuffix("StateEntered"))
            rows.append(row)
        elif kind.endswith("StateExited") and row is not None and row.status == "ENTERED":
            row.status = "SUCCEEDED"  # Pass, Choice, Wait...: exiting is succeeding
        if row is None:
            continue
        row_of[event["id"]] = row
        if kind in _STATUS_BY_EVENT:
            row.status = _STATUS_BY_EVENT[kind]
        job = _job_id(details.get("output")) if kind in ("TaskSubmitted", "TaskSucceeded", "TaskFailed") else None
        if job and job not in row.job_ids:
            row.job_ids.append(job)
        if details.get("error"):
            row.error = f"{details['error']}: {str(details.get('cause', ''))[:200]}"
        if details.get("mapRunArn"):
            row.map_run_arn = details["mapRunArn"]
    return rows


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page.get("events", [])
    return events


def execution_status(clients: ClientFactory, execution_arn: str, *, max_children: int = 20) -> ExecutionStatus:
    """Status and rows of an execution, plus (some of) the child executions of its Distributed Maps."""
    sfn = clients("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    rows = steps_from_history(_history(sfn, execution_arn))
    result = ExecutionStatus(execution_arn, described["status"], rows)
    for row in rows:
        if not row.map_run_arn:
            continue
        try:
            children = sfn.list_executions(mapRunArn=row.map_run_arn, maxResults=max_children).get("executions", [])
        except Exception:  # a Map Run that moto or AWS does not list: show the parent row only
            continue
        for child in children:
            result.children.append(execution_status(clients, child["executionArn"], max_children=0))
    return result


_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "red", "RUNNING": "yellow"}


def status_table(status: ExecutionStatus) -> Table:
    title = f"{status.arn.rsplit(':', 1)[-1]}  [{_STYLE.get(status.status, 'white')}]{status.status}[/]"
    table = Table(title=title, title_justify="left")
    for column in ("state", "type", "status", "batch job ids", "error"):
        table.add_column(column)
    for row in status.rows:
        style = _STYLE.get(row.status, "white")
        table.add_row(row.state, row.kind, f"[{style}]{row.status}[/]", ", ".join(row.job_ids), row.error)
    for child in status.children:
        for row in child.rows:
            style = _STYLE.get(row.status, "white")
            table.add_row(f"  └ {row.state}", f"{row.kind} (map item)", f"[{style}]{row.status}[/]",
                          ", ".join(row.job_ids), row.error)
    return table


def execution_arn_for(state_machine_arn: str, run_id: str) -> str:
    """Executions (also those started through an alias) are named under their state machine."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{run_id}"
