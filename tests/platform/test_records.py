"""Run and task records: typed, written once per attempt, readable whatever version wrote them."""

from __future__ import annotations

import json

import pytest

from branchline.client import latest_run
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, Status, TaskError, TaskRecord
from branchline.datastore.storage import LocalStorage


def test_a_task_record_is_written_once_when_the_attempt_ends(project):
    project.run("records.py", "run")
    run = latest_run("RecordsFlow")
    assert run["start"].task.data.record_while_running is False  # no "running" marker: one write, at the end
    record = run["start"].task.record
    assert record is not None and record.status is Status.SUCCEEDED and record.attempt == 0
    assert record.started and record.finished and record.started <= record.finished
    assert record.artifacts == ("record_while_running",)
    assert run.status is Status.SUCCEEDED and run.record.runtime == "local"


def test_the_scheduler_records_a_worker_that_died_without_writing(project):
    (project.state / "die").touch()
    proc = project.run("records.py", "run", check=False)
    assert proc.returncode == 1
    assert "worker exited with code 7 before recording a result" in proc.stderr
    record = latest_run("RecordsFlow", successful=False)["end"].task.record
    assert record is not None and record.status is Status.FAILED
    assert record.error == TaskError("WorkerDied", "worker exited with code 7 before recording a result")
    assert record.log_paths and record.started and record.finished
    assert latest_run("RecordsFlow", successful=False).status is Status.FAILED


def test_documents_written_by_the_previous_version_still_read(tmp_path):
    """meta.json once held a `running` marker, the worker's pid and fallback fields; run.json from containers
    lacked `ci` and `finished`."""
    ds = FlowDatastore(LocalStorage(tmp_path), "user-test")
    ds.write_task_meta("F", "r1", "start", "0", {
        "flow": "F", "run_id": "r1", "step": "start", "task_id": "0", "attempt": 0, "status": "running",
        "started": "2026-01-02T10:00:01+00:00", "pid": 4242, "fallback_type": "Timeout", "log_paths": ["a", "b"],
    })  # fmt: skip
    ds.write_run("F", "r1", {
        "flow": "F", "run_id": "r1", "namespace": "user-test", "project": "p", "status": "failed", "params": {"a": 1},
        "started": "2026-01-02T10:00:00+00:00", "steps": ["start", "end"], "runtime": "batch",
        "git": {"sha": None, "branch": None}, "image": None, "execution_arn": "arn:x", "flow_file": "flows/f.py",
        "tracking_uri": None,
    })  # fmt: skip
    task = ds.read_task_record("F", "r1", "start", "0")
    assert task == TaskRecord("F", "r1", "start", "0", Status.RUNNING, started="2026-01-02T10:00:01+00:00",
                              log_paths=("a", "b"))
    run = ds.read_run_record("F", "r1")
    assert run is not None and run.status is Status.FAILED and run.steps == ("start", "end")
    assert run.params == {"a": 1} and run.execution_arn == "arn:x" and run.finished is None


def test_records_round_trip_as_plain_json_without_nulls(tmp_path):
    ds = FlowDatastore(LocalStorage(tmp_path), "user-test")
    caught = TaskError("ValueError", "ValueError: no", "Traceback ...")
    record = TaskRecord("F", "r1", "a", "0-2", Status.SUCCEEDED, attempt=1, inputs=("start/0",), caught=caught)
    ds.write_task_record(record)
    raw = json.loads((tmp_path / "user-test/runs/F/r1/a/0-2/meta.json").read_text())
    assert raw["status"] == "succeeded" and raw["caught"]["type"] == "ValueError" and raw["inputs"] == ["start/0"]
    assert "error" not in raw and "cloned_from" not in raw  # absent, not null
    assert ds.read_task_record("F", "r1", "a", "0-2") == record
    run = RunRecord.starting("F", "r1", "user-test", runtime="local", steps=("start", "end"), params={"x": [1]})
    ds.write_run_record(run.ended(Status.SUCCEEDED))
    back = ds.read_run_record("F", "r1")
    assert back is not None and back.status is Status.SUCCEEDED and back.finished and back.params == {"x": [1]}


@pytest.mark.parametrize("status", list(Status))
def test_status_values_are_the_strings_readers_compare_with(status):
    assert status == status.value and json.dumps(status) == json.dumps(status.value)
    assert status.finished is (status is not Status.RUNNING)
