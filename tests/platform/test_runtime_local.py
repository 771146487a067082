"""The local runtime runs every construct and produces the expected artifacts (real processes, real files)."""

from __future__ import annotations

import itertools
import re

from branchline.authoring.exceptions import CaughtException
from branchline.client import Run, latest_run


def _run_id(stdout: str) -> str:
    match = re.search(r"(?:running|resuming) (\w+)/(\S+)", stdout)
    assert match, stdout
    return match.group(2)


def test_all_constructs_produce_expected_artifacts(project):
    notes = project.root / "notes.txt"
    notes.write_text("some notes")
    proc = project.run("constructs.py", "run", "--alpha", "0.25", "--count", "2", "--notes", str(notes))
    run = latest_run("ConstructsFlow")
    assert run.successful
    assert run.id == _run_id(proc.stdout)
    end = run["end"].task.data
    assert end.summary == {"alpha": 0.25, "label": "x", "cells": 4, "notes": "some notes"}
    assert end.grid == ["0a", "0b", "1a", "1b"]
    assert end.values == ("from a", "from b")
    assert end.shared == 1
    assert end.seen_run == run.id and end.seen_flow == "ConstructsFlow"
    # nested foreach: 2 outer tasks x 2 inner tasks, with deterministic ids and foreach stacks
    inner = {t.id: t.data for t in run["inner"]}
    assert sorted(inner) == ["0-0-0", "0-0-1", "0-1-0", "0-1-1"]
    assert inner["0-1-0"].cell == "1a"
    assert inner["0-1-0"].stack == [(1, 2), (0, 2)]
    # parameters are typed from their defaults and stored as artifacts of start
    start = run["start"].task.data
    assert start.alpha == 0.25 and isinstance(start.count, int)
    assert "[inner/0-1-1]" not in proc.stdout  # steps that print nothing echo nothing
    assert "summary {'alpha': 0.25" in proc.stdout


def test_artifacts_are_stored_once_per_content(project):
    project.run("constructs.py", "run", "--count", "2")
    project.run("constructs.py", "run", "--count", "2")
    objects = list((project.root / ".branchline" / "datastore").glob("*/objects/*/*"))
    first = latest_run("ConstructsFlow")
    shared_sha = first._ds.read_task_artifacts("ConstructsFlow", first.id, "branch_a", "0")["shared"].sha
    assert sum(1 for o in objects if o.name == shared_sha) == 1


def test_merge_artifacts_conflict_is_a_clear_error(project):
    proc = project.run("conflict.py", "run", check=False)
    assert proc.returncode == 1
    assert "cannot merge artifacts whose values differ between inputs: model" in proc.stderr
    assert "exclude=[...]" in proc.stderr
    assert "step 'join' failed" in proc.stderr
    assert "Traceback" not in proc.stderr.split("error:")[-1].split("logs:")[0]


def test_retry_timeout_and_catch(project):
    proc = project.run("resilience.py", "run")
    assert (project.state / "flaky").read_text() == "3"  # failed twice, then succeeded
    assert (project.state / "slow").read_text() == "1"  # timeout kills it; catch keeps the flow going
    run = latest_run("ResilienceFlow")
    assert run.successful
    data = run["end"].task.data
    assert data.attempts == 3
    assert isinstance(data.slow_error, CaughtException)
    assert data.slow_error.type == "Timeout" and "timed out after 1 s" in data.slow_error.message
    assert data.broken_error.type == "ValueError" and "broken on purpose" in data.broken_error.message
    assert run["broken"].task.data.partial == "kept"  # as Metaflow: what the step assigned before it failed
    assert "partial" in data and data.partial == "kept"
    assert "retry flaky/0: attempt 2/3 now" in proc.stdout  # at once, as Metaflow's local runtime
    meta = run["flaky"].task.metadata
    assert meta["attempt"] == 2 and meta["status"] == "succeeded"


def test_failure_report_names_step_traceback_and_logs(project):
    (project.state / "fail_gate").touch()
    proc = project.run("resilience.py", "run", check=False)
    assert proc.returncode == 1
    assert "step 'gate' failed (task 0, attempt 1): RuntimeError: gate refused" in proc.stderr
    assert "logs:" in proc.stderr and "resume" in proc.stderr
    run = latest_run("ResilienceFlow", successful=False)
    assert not run.successful
    assert 'raise RuntimeError("gate refused")' in run["gate"].task.stderr
    assert "resilience.py" in run["gate"].task.metadata["error"]["traceback"]


def test_resume_reuses_successful_tasks(project):
    (project.state / "fail_gate").touch()
    failed = project.run("resilience.py", "run", check=False)
    origin = _run_id(failed.stdout)
    counts = {n: (project.state / n).read_text() for n in ("start", "flaky", "slow")}
    (project.state / "fail_gate").unlink()
    proc = project.run("resilience.py", "resume")
    resumed = latest_run("ResilienceFlow")
    assert resumed.successful and resumed.id != origin
    # the successful tasks were not re-run: their side effects did not happen again
    assert {n: (project.state / n).read_text() for n in ("start", "flaky", "slow")} == counts
    assert (project.state / "gate").read_text() == "2"
    assert resumed["start"].task.metadata["cloned_from"] == f"{origin}/start/0"
    assert "cloned_from" not in resumed["gate"].task.metadata
    assert resumed["end"].task.data.attempts == 3
    assert "4 task(s) reused" in proc.stdout


def test_resume_from_a_named_step(project):
    project.run("resilience.py", "run")
    origin = latest_run("ResilienceFlow").id
    project.run("resilience.py", "resume", origin, "--step", "gate")
    assert (project.state / "gate").read_text() == "2"
    assert (project.state / "flaky").read_text() == "3"


def test_foreach_tasks_run_in_parallel_up_to_max_workers(project):
    project.run("parallel.py", "run", "--width", "4", "--max-workers", "4")
    spans = latest_run("ParallelFlow")["end"].task.data.spans
    overlapping = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlapping >= 1
    project.run("parallel.py", "run", "--width", "3", "--pause", "0.05", "--max-workers", "1")
    spans = latest_run("ParallelFlow")["end"].task.data.spans
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))


def test_parameter_errors_are_clear(project):
    proc = project.run("constructs.py", "run", "--count", "many", check=False)
    assert proc.returncode != 0
    assert "many" in proc.stderr and "Traceback" not in proc.stderr
    proc = project.run("constructs.py", "run", "--notes", "/nonexistent/file.txt", check=False)
    assert proc.returncode == 1
    assert "parameter --notes: cannot read /nonexistent/file.txt" in proc.stderr


def test_run_client_reads_by_pathspec(project):
    project.run("constructs.py", "run", "--count", "1", "--run-id", "fixed-run")
    run = Run("ConstructsFlow/fixed-run")
    assert run.params["count"] == 1
    assert [s.name for s in run.steps()][-1] == "start"  # the last step first, as Metaflow lists them
    assert run.data.grid == ["0a", "0b"]
    assert run["outer"].task.data.row == 0
    proc = project.run("constructs.py", "run", "--run-id", "fixed-run", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr


def test_metaflow_flow_runs_with_only_its_import_changed(project):
    source = (project.root / "flows" / "metaflow_style.py").read_text()
    changed = source.replace("from metaflow import", "from branchline import", 1)
    assert [a for a, b in zip(source.splitlines(), changed.splitlines(), strict=True) if a != b] == [
        "from metaflow import FlowSpec, Parameter, current, retry, step"
    ]
    (project.root / "flows" / "metaflow_style.py").write_text(changed)
    proc = project.run("metaflow_style.py", "run", "--epochs", "3")
    assert "best 0.8999999999999999 lr 0.01" in proc.stdout or "best 0.9" in proc.stdout
    assert latest_run("MetaflowStyleFlow")["pick"].task.data.best == max(x * 3 for x in (0.1, 0.2, 0.3))


def test_show_prints_the_graph(project):
    proc = project.run("constructs.py", "show")
    assert "outer" in proc.stdout and "foreach over self.rows" in proc.stdout
    assert "--alpha (float)" in proc.stdout
