"""Checks inside an MLflow run (a real `mlflow server`): artifacts, tags, raise vs record-only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from branchline.checks import DataChecksFailed, validate
from tests.checks.conftest import iris

pytestmark = pytest.mark.mlflow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tracked(mlflow_server: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment("branchline-checks-tests")  # exports MLFLOW_*: restore_mlflow_env undoes it
    return mlflow


def artifact(mlflow_server: str, run_id: str, path: str) -> str:
    import mlflow

    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, tracking_uri=mlflow_server)
    ).read_text()


def test_a_check_in_a_run_logs_its_result_and_data_docs_and_tags_the_run(
    gx_project: Path, tracked: Any, mlflow_server: str
) -> None:
    with tracked.start_run() as run:
        result = validate(iris(), suite="raw_data")
    assert result.mlflow_run_id == run.info.run_id
    assert result.artifacts == ("checks/raw_data.json", "checks/raw_data.html")
    tags = tracked.MlflowClient().get_run(run.info.run_id).data.tags
    assert tags["branchline.checks.raw_data.success"] == "true"
    assert tags["branchline.checks.raw_data.failed"] == "0"
    document = json.loads(artifact(mlflow_server, run.info.run_id, "checks/raw_data.json"))
    assert document["success"] is True and document["statistics"]["evaluated_expectations"] == 16
    assert document["branchline"]["suite"] == "raw_data"
    page = artifact(mlflow_server, run.info.run_id, "checks/raw_data.html")
    assert page.lstrip().lower().startswith("<!doctype html") and "expect" in page.lower()


def test_a_failing_check_is_recorded_before_it_raises(gx_project: Path, tracked: Any, mlflow_server: str) -> None:
    frame = iris()
    frame.loc[0, "petal_length"] = None
    with tracked.start_run() as run, pytest.raises(DataChecksFailed, match="petal_length"):
        validate(frame, suite="raw_data")
    tags = tracked.MlflowClient().get_run(run.info.run_id).data.tags
    assert (tags["branchline.checks.raw_data.success"], tags["branchline.checks.raw_data.failed"]) == ("false", "1")
    document = json.loads(artifact(mlflow_server, run.info.run_id, "checks/raw_data.json"))
    assert document["success"] is False
    failed = [e for e in document["branchline"]["expectations"] if not e["success"]]
    assert [(e["type"], e["column"]) for e in failed] == [("expect_column_values_to_not_be_null", "petal_length")]


def test_record_only_and_a_failure_sticks_within_the_run(gx_project: Path, tracked: Any) -> None:
    bad = iris().drop(columns=["target"])
    with tracked.start_run() as run:
        first = validate(bad, suite="raw_data", raise_on_failure=False)
        second = validate(iris(), suite="raw_data", raise_on_failure=False)
    assert not first.success and second.success
    tags = tracked.MlflowClient().get_run(run.info.run_id).data.tags
    assert tags["branchline.checks.raw_data.success"] == "false"  # a later pass does not hide the failure
    assert int(tags["branchline.checks.raw_data.failed"]) == len(first.failed) >= 3


def test_a_tracked_task_that_never_imported_mlflow_still_records(gx_project: Path, mlflow_server: str) -> None:
    """The task's run opens on `import mlflow` (branchline.tracking.task_run's hook); validate triggers it."""
    code = f"""
import sys
from branchline.tracking.task_run import _MlflowImportHook
from tests.checks.conftest import iris
from branchline.checks import validate

def open_run():
    import mlflow
    mlflow.set_tracking_uri({mlflow_server!r})
    mlflow.set_experiment("branchline-checks-tests")
    mlflow.start_run()

sys.meta_path.insert(0, _MlflowImportHook(open_run))
assert "mlflow" not in sys.modules
result = validate(iris(), suite="raw_data")
print("RUN_ID=" + result.mlflow_run_id)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=gx_project,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split("RUN_ID=")[1].split()[0]
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=mlflow_server).get_run(run_id).data.tags
    assert tags["branchline.checks.raw_data.success"] == "true"
