"""Every form of `@schedule` Metaflow documents compiles to the EventBridge Scheduler schedule it means (production
only), with Metaflow's precedence (cron, then weekly, then hourly, then daily) and a time zone."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from branchline.aws.compile import compile_schedule
from branchline.runtime.loader import graph_from_class
from tests.aws_compile.support import make_ctx

FLOW = '''
from branchline import FlowSpec, schedule, step


@schedule{args}
class ScheduledFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def scheduled(args: str, tmp_path: Any) -> dict[str, Any] | None:
    """The production schedule of a flow decorated with `@schedule<args>` (loaded as a user's file is)."""
    from branchline.runtime.loader import load_flow_class

    path = tmp_path / f"flow_{abs(hash(args))}.py"
    path.write_text(textwrap.dedent(FLOW.format(args=args)))
    graph = graph_from_class(load_flow_class(path))
    return compile_schedule(graph, make_ctx(namespace="prod"))


@pytest.mark.parametrize(
    ("args", "expression", "timezone"),
    [
        ("", "cron(0 0 * * ? *)", "UTC"),  # bare @schedule: daily at midnight
        ("()", "cron(0 0 * * ? *)", "UTC"),
        ("(daily=True)", "cron(0 0 * * ? *)", "UTC"),
        ("(hourly=True)", "cron(0 * * * ? *)", "UTC"),
        ("(weekly=True)", "cron(0 0 ? * SUN *)", "UTC"),  # Sundays at midnight
        ("(cron='0 10 * * ? *')", "cron(0 10 * * ? *)", "UTC"),  # the docs' example: 10am UTC every day
        ("(cron='30 6 * * *', timezone='Europe/Paris')", "cron(30 6 * * ? *)", "Europe/Paris"),
        ("(daily=True, timezone='America/Los_Angeles')", "cron(0 0 * * ? *)", "America/Los_Angeles"),
        ("(hourly=True, weekly=True)", "cron(0 0 ? * SUN *)", "UTC"),  # Metaflow: weekly wins over hourly
        ("(weekly=True, cron='0 9 * * ? *')", "cron(0 9 * * ? *)", "UTC"),  # and cron over everything
    ],
)
def test_each_documented_form_compiles_to_its_schedule(args: str, expression: str, timezone: str, tmp_path) -> None:
    got = scheduled(args, tmp_path)
    assert got is not None
    assert (got["expression"], got["timezone"]) == (expression, timezone)


def test_daily_false_alone_means_no_schedule(tmp_path) -> None:
    assert scheduled("(daily=False)", tmp_path) is None


def test_branch_namespaces_never_run_on_a_schedule(tmp_path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(textwrap.dedent(FLOW.format(args="(hourly=True)")))
    from branchline.runtime.loader import load_flow_class

    graph = graph_from_class(load_flow_class(path))
    assert compile_schedule(graph, make_ctx(namespace="br-feature-x-1a2b3c4d")) is None
    assert compile_schedule(graph, make_ctx(namespace="user-alice")) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("(timezone='Mars/Olympus')", "not an IANA time zone name"),
        ("(cron='0 10 *')", "needs 5 or 6 fields"),
    ],
)
def test_impossible_schedules_are_refused_when_the_flow_loads(args: str, message: str) -> None:
    from branchline import schedule

    with pytest.raises(TypeError, match=message):
        eval(f"schedule{args}", {"schedule": schedule})

