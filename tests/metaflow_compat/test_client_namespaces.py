"""The client and namespace semantics of local runs, compared with Metaflow 2.19's own (differential).

Alice runs a flow three times (the last run fails), Bob once; Alice's client then reads them as the production
chapter's namespace section does. Both frameworks must show the same things. The documented difference in how
namespaces are *spelled* (Metaflow's tag `user:alice`, branchline's namespace `user-alice`) is normalised away
before comparing, and `namespace('user:bob')` is used as written in Metaflow's docs: branchline accepts it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.metaflow_compat.conftest import sides_in
from tests.metaflow_compat.harness import Side

pytestmark = pytest.mark.slow  # each side runs its flows as processes; Metaflow's take seconds each

NUMBER_FLOW = """
    from metaflow import FlowSpec, Parameter, current, get_namespace, step


    class NumberFlow(FlowSpec):
        num = Parameter("num", help="Give a number", default=1)

        @step
        def start(self):
            print("my namespace is", get_namespace())
            self.x = self.num
            if self.num < 0:
                raise ValueError("negative numbers fail")
            self.next(self.end)

        @step
        def end(self):
            self.doubled = 2 * self.x


    if __name__ == "__main__":
        NumberFlow()
"""

OTHER_FLOW = """
    from metaflow import FlowSpec, step


    class OtherFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        OtherFlow()
"""

OBSERVE = """
    import json
    from metaflow import Flow, Metaflow, Run, Step, Task, default_namespace, get_namespace, namespace

    def kind(call):
        try:
            call()
        except KeyError:
            return "KeyError"
        except Exception as exc:
            name = type(exc).__name__
            return "mismatch" if "Mismatch" in name else "not found" if "NotFound" in name else name
        return "ok"

    def run_view(run):
        return {"x": run["start"].task.data.x, "successful": run.successful, "finished": run.finished,
                "finished_at": run.finished_at is not None, "data": run.data is not None,
                "steps": [s.id for s in run], "end_task": run.end_task is not None, "start_in": "start" in run,
                "nope_in": "nope" in run}

    shown = {"default": get_namespace()}
    flow = Flow("NumberFlow")
    runs = list(flow)
    shown["runs"] = [run_view(r) for r in runs]
    latest = flow.latest_run
    shown["latest_x"] = latest["start"].task.data.x
    shown["latest_successful"] = flow.latest_successful_run.data.doubled
    ok = flow.latest_successful_run
    shown["order_ok"] = latest.created_at >= ok.created_at and ok.finished_at >= ok.created_at
    task = ok["start"].task
    shown["task"] = [task.successful, task.finished, task.finished_at is not None, task.index, "x" in task.data,
                     task["x"].data, [a.id for a in task if a.id == "x"], "my namespace is" in task.stdout]
    shown["by_pathspec"] = [Run(ok.pathspec).data.doubled, Step(ok.pathspec + "/start").task.data.x,
                            Task(task.pathspec).data.x, flow[ok.id].data.doubled]
    shown["missing"] = [kind(lambda: Flow("NoSuchFlow")), kind(lambda: flow["nope"]), kind(lambda: ok["nope"]),
                        kind(lambda: Run("NumberFlow/nope"))]
    shown["flows"] = sorted(f.id for f in Metaflow().flows)
    shown["bob"] = namespace("user:bob")
    bob = Flow("NumberFlow").latest_run
    shown["bob_latest"] = [bob.data.doubled, len(list(Flow("NumberFlow"))), sorted(f.id for f in Metaflow())]
    shown["reset"] = default_namespace()
    shown["bob_from_alice"] = kind(lambda: Run(bob.pathspec))
    shown["other_from_alice"] = kind(lambda: Flow("OtherFlow"))
    namespace(None)
    shown["global"] = [get_namespace(), Flow("NumberFlow").latest_run.data.doubled, Run(bob.pathspec).data.doubled,
                       len(list(Flow("NumberFlow"))), sorted(f.id for f in Metaflow().flows)]
    namespace("user:carol")
    shown["carol"] = [kind(lambda: Flow("NumberFlow")), Metaflow().flows]
    print(json.dumps(shown))
"""


def normalise(shown: dict, side: Side) -> dict:
    """Metaflow spells a user's namespace `user:<name>`, branchline `user-<name>`: compare them as one."""
    if side.is_metaflow:
        return shown
    text = json.dumps(shown).replace('"user-alice"', '"user:alice"').replace('"user-bob"', '"user:bob"')
    return json.loads(text)


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory, metaflow_interpreter: Path) -> dict[str, Side]:
    sides = sides_in(tmp_path_factory.mktemp("client"), metaflow_interpreter)
    for side in sides.values():
        side.write("number_flow.py", NUMBER_FLOW)
        side.write("other.py", OTHER_FLOW)
        side.run("number_flow.py", "run", "--num", "1")
        side.run("number_flow.py", "run", "--num", "2")
        side.run("number_flow.py", "run", "--num", "-1", check=False)
        side.run("number_flow.py", "run", "--num", "3", user="bob")
        side.run("other.py", "run", user="bob")
    return sides


def test_client_and_namespaces_match_metaflow(numbers: dict[str, Side]) -> None:
    shown = {name: normalise(side.observe(OBSERVE), side) for name, side in numbers.items()}
    assert shown["branchline"] == shown["metaflow"]
    got = shown["branchline"]
    # what the documentation promises, spelled out (so that a shared mistake cannot pass)
    assert got["default"] == "user:alice" and got["reset"] == "user:alice" and got["bob"] == "user:bob"
    assert [r["x"] for r in got["runs"]] == [-1, 2, 1]  # newest first, failed runs included
    assert got["runs"][0] == {"x": -1, "successful": False, "finished": False, "finished_at": False, "data": False,
                              "steps": ["start"], "end_task": False, "start_in": True, "nope_in": False}
    assert got["runs"][1]["steps"] == ["end", "start"]
    assert got["latest_x"] == -1 and got["latest_successful"] == 4
    assert got["bob_latest"] == [6, 1, ["NumberFlow", "OtherFlow"]]
    assert got["bob_from_alice"] == "mismatch" and got["other_from_alice"] == "mismatch"
    assert got["global"] == [None, 6, 6, 4, ["NumberFlow", "OtherFlow"]]
    assert got["carol"] == ["mismatch", []]
    assert got["missing"] == ["not found", "KeyError", "KeyError", "not found"]


def test_a_flow_prints_its_namespace(numbers: dict[str, Side]) -> None:
    """The production chapter's first example: `get_namespace()` inside a flow is the run's namespace."""
    printed = {}
    for name, side in numbers.items():
        out = side.run("number_flow.py", "run", "--num", "5").stdout
        printed[name] = next(line for line in out.splitlines() if "my namespace is" in line).split("is ")[-1]
    assert printed == {"metaflow": "user:alice", "branchline": "user-alice"}


PROJECT_FIRST = """
    from metaflow import FlowSpec, current, project, step


    @project(name="demo_project")
    class FirstFlow(FlowSpec):
        @step
        def start(self):
            self.model = "this is a demo model"
            self.where = [current.project_name, current.branch_name, current.is_production, current.is_user_branch]
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FirstFlow()
"""

PROJECT_SECOND = """
    from metaflow import Flow, FlowSpec, project, step


    @project(name="demo_project")
    class SecondFlow(FlowSpec):
        @step
        def start(self):
            self.model = Flow("FirstFlow").latest_run.data.model
            print("model:", self.model)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SecondFlow()
"""

OBSERVE_PROJECT = """
    import json
    from metaflow import Flow, namespace

    namespace(None)
    print(json.dumps({"where": [r["start"].task.data.where for r in Flow("FirstFlow")],
                      "model": Flow("SecondFlow").latest_run["start"].task.data.model}))
"""


def test_project_flows_share_a_namespace_and_report_their_branch(tmp_path: Path, metaflow_interpreter: Path) -> None:
    sides = sides_in(tmp_path, metaflow_interpreter)
    (sides["branchline"].root / "pyproject.toml").unlink()  # as a Metaflow user's directory: @project names it
    shown = {}
    for name, side in sides.items():
        side.write("first.py", PROJECT_FIRST)
        side.write("second.py", PROJECT_SECOND)
        side.run("first.py", "run")
        assert "model: this is a demo model" in side.run("second.py", "run").stdout
        side.run("first.py", "--branch", "better_version", "run")
        side.run("first.py", "--production", "run")
        shown[name] = side.observe(OBSERVE_PROJECT)
    assert shown["branchline"] == shown["metaflow"]
    assert shown["branchline"]["where"] == [["demo_project", "prod", True, False],
                                            ["demo_project", "test.better_version", False, False],
                                            ["demo_project", "user.alice", False, True]]
