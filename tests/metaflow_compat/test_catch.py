"""`@catch` + `@retry` as Metaflow defines them: the compute-layer chapter's foreach example gives Metaflow's result.

`@catch(var=...)` sets `var` on every task of the step (None on success, the exception on failure), so the join
can filter on it; what the step assigned before it failed is kept; the local runtime retries at once (Metaflow's
does not wait `minutes_between_retries` either) and says where that wait applies. The same holds in a step
container (`branchline task`, the entry point Batch runs), including the fallback task the state machine runs
after a killed attempt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.metaflow_compat.conftest import sides_in
from tests.metaflow_compat.harness import Side

DIVIDE = """
    from metaflow import FlowSpec, catch, retry, step


    class DivideFlow(FlowSpec):
        @step
        def start(self):
            self.divisors = [0, 1, 2]
            self.next(self.divide, foreach="divisors")

        @catch(var="divide_failed")
        @retry(times=2)
        @step
        def divide(self):
            self.div = self.input
            self.x = 10 / self.div
            self.next(self.join)

        @step
        def join(self, inputs):
            self.results = [i.x for i in inputs if not i.divide_failed]
            self.failed = [i.div for i in inputs if i.divide_failed]
            self.next(self.end)

        @step
        def end(self):
            print("results", sorted(self.results), "failed", self.failed)


    if __name__ == "__main__":
        DivideFlow()
"""

OBSERVE = """
    import json
    from metaflow import Flow

    run = Flow("DivideFlow").latest_run
    tasks = sorted(run["divide"], key=lambda t: t.index)
    caught = tasks[0].data.divide_failed
    print(json.dumps({
        "successful": run.successful,
        "results": sorted(run.data.results),
        "failed": run.data.failed,
        "tasks": [[t.index, t.data.divide_failed is None, t.successful, t.finished, t.data.div, "x" in t.data,
                   t.current_attempt] for t in tasks],
        "caught_type": caught.type.rsplit(".", 1)[-1],
        "caught_exception": caught.exception,
        "caught_stacktrace": "ZeroDivisionError: division by zero" in caught.stacktrace,
    }))
"""


@pytest.fixture(scope="module")
def divided(tmp_path_factory: pytest.TempPathFactory, metaflow_interpreter: Path) -> dict[str, tuple[Side, str]]:
    """The example run once by each framework: (side, stdout of the run)."""
    sides = sides_in(tmp_path_factory.mktemp("catch"), metaflow_interpreter)
    runs = {}
    for name, side in sides.items():
        side.write("divide.py", DIVIDE)
        runs[name] = (side, side.run("divide.py", "run").stdout)
    return runs


@pytest.mark.slow
def test_the_foreach_example_gives_metaflows_result(divided: dict[str, tuple[Side, str]]) -> None:
    shown = {name: side.observe(OBSERVE) for name, (side, _) in divided.items()}
    assert shown["branchline"] == shown["metaflow"]
    assert shown["branchline"]["results"] == [5.0, 10.0] and shown["branchline"]["failed"] == [0]
    # every task has the var; the caught one kept what it assigned (div) and not what it never reached (x)
    assert shown["branchline"]["tasks"] == [[0, False, False, True, 0, False, 2], [1, True, True, True, 1, True, 0],
                                            [2, True, True, True, 2, True, 0]]


@pytest.mark.slow
def test_local_retries_start_at_once_and_say_where_the_wait_applies(divided: dict[str, tuple[Side, str]]) -> None:
    _, out = divided["branchline"]
    line = "retry divide/0-0: attempt 2/3 now (no wait here; a deployed flow waits 2 min: minutes_between_retries)"
    assert line in out
    assert "attempt 3/3 now" in out and "results [5.0, 10.0] failed [0]" in out


# ----------------------------------------------------------------------------- the step container's path

CONTAINER_FLOW = """
    from branchline import FlowSpec, catch, current, retry, step


    class ContainerCatchFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.risky)

        @catch(var="risky_failed")
        @retry(times=1, minutes_between_retries=0.01)
        @step
        def risky(self):
            self.tried = current.retry_count
            if current.retry_count < 1:
                raise RuntimeError("first attempt fails")
            self.next(self.end)

        @step
        def end(self):
            self.seen = self.risky_failed
"""


def _task(project: Path, step: str, attempt: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    """`branchline task` as a Batch container runs it (attempt numbers from AWS_BATCH_JOB_ATTEMPT)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_"))}
    full.update(BRANCHLINE_FLOW_FILE="flow.py", BRANCHLINE_STEP=step, BRANCHLINE_RUN_ID="r1",
                BRANCHLINE_NAMESPACE="br-catch-1234abcd", BRANCHLINE_DATASTORE=str(project / "store"),
                BRANCHLINE_TRACKING="0", AWS_BATCH_JOB_ATTEMPT=str(attempt + 1), **env)
    return subprocess.run([sys.executable, "-m", "branchline.runtime.entrypoint"], cwd=project, env=full,
                          capture_output=True, text=True, timeout=120, check=False)


def _data(project: Path, step: str) -> dict:
    refs = json.loads((project / "store/br-catch-1234abcd/runs/ContainerCatchFlow/r1" / step / "0/artifacts.json")
                      .read_text())
    from branchline.client import Run

    task = Run("ContainerCatchFlow/r1", namespace="br-catch-1234abcd", datastore=str(project / "store"))[step].task
    return {name: getattr(task.data, name) for name in refs}


def test_a_container_sets_var_none_when_a_retry_succeeds(tmp_path: Path) -> None:
    # the wait between attempts is a Wait state of the state machine (aws/compile/asl.py), not in the container
    (tmp_path / "flow.py").write_text(textwrap.dedent(CONTAINER_FLOW))
    retry_env = {"BRANCHLINE_MAX_ATTEMPTS": "2"}
    assert _task(tmp_path, "start").returncode == 0
    first = _task(tmp_path, "risky", 0, **retry_env)
    assert first.returncode == 1 and "first attempt fails" in first.stderr
    second = _task(tmp_path, "risky", 1, **retry_env)
    assert second.returncode == 0, second.stderr
    assert _data(tmp_path, "risky") == {"tried": 1, "risky_failed": None}
    assert _task(tmp_path, "end").returncode == 0
    assert _data(tmp_path, "end")["seen"] is None


def test_a_killed_attempt_is_caught_by_the_fallback_task(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(textwrap.dedent(CONTAINER_FLOW))
    assert _task(tmp_path, "start").returncode == 0
    # the state machine's catch-fallback Task: the job failed or was killed, the task only records it
    fallback = _task(tmp_path, "risky", 0, BRANCHLINE_CATCH_FALLBACK="1", BRANCHLINE_MAX_ATTEMPTS="2")
    assert fallback.returncode == 0, fallback.stderr
    caught = _data(tmp_path, "risky")["risky_failed"]
    assert caught.type == "TaskKilled" and caught.step == "risky"
    assert _task(tmp_path, "end").returncode == 0
    assert _data(tmp_path, "end")["seen"].type == "TaskKilled"
