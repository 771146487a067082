"""@schedule → an EventBridge Scheduler schedule, in production only."""

from __future__ import annotations

import pytest

from branchline.aws.compile import CompileError, compile_schedule
from branchline.aws.compile.schedule import eventbridge_cron
from branchline.namespaces import Names
from branchline.namespaces.limits import SCHEDULER
from branchline.runtime.loader import graph_from_file
from tests.aws_compile.support import make_ctx
from tests.flows import flow_path


def test_scheduled_flow_gets_a_schedule_in_production() -> None:
    ctx = make_ctx(namespace="prod")
    schedule = compile_schedule(graph_from_file(flow_path("schedule_flow")), ctx)
    assert schedule == {
        "name": Names("demo", "prod").schedule("ScheduleFlow"),
        "expression": "cron(30 6 * * ? *)",
        "timezone": "Europe/Paris",
    }
    assert SCHEDULER.accepts(schedule["name"])


def test_branch_namespaces_and_unscheduled_flows_get_none() -> None:
    assert compile_schedule(graph_from_file(flow_path("schedule_flow")), make_ctx()) is None
    assert compile_schedule(graph_from_file(flow_path("linear_flow")), make_ctx(namespace="prod")) is None


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 0 * * ? *", "0 0 * * ? *"),  # already EventBridge (the decorator's shorthands)
        ("0 0 ? * SUN *", "0 0 ? * SUN *"),
        ("15 3 1 * *", "15 3 1 * ? *"),
        ("0 9 * * 1-5", "0 9 ? * 2-6 *"),  # classic Mon-Fri is EventBridge 2-6
        ("0 9 * * 0,6", "0 9 ? * 1,7 *"),
        ("0 9 * * 7", "0 9 ? * 1 *"),
        ("*/5 * * * *", "*/5 * * * ? *"),
        ("0 9 * * */2", "0 9 ? * */2 *"),
        ("0 9 * * 5#3", "0 9 ? * 6#3 *"),
    ],
)
def test_cron_expressions_become_eventbridge_ones(cron: str, expected: str) -> None:
    assert eventbridge_cron(cron) == expected


@pytest.mark.parametrize(("cron", "message"), [("0 9 1 * 1", "both a day of month"), ("0 9 *", "3 fields")])
def test_impossible_cron_expressions_are_clear_errors(cron: str, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        eventbridge_cron(cron)
