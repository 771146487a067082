"""The task side: lazy activation through the import hook, and `in_task` mode as in a container.

Each task runs in a fresh interpreter (tests/tracking/task_process.py), so `sys.modules` tells what the
task really imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from branchline.datastore.artifacts import FlowDatastore
from branchline.tracking.evidence import read_flow_evidence
from branchline.tracking.runs import read_link
from tests.tracking.conftest import NAMESPACE, make_run_doc

SCRIPT = Path(__file__).with_name("task_process.py")


def run_task(ds: FlowDatastore, project: str, uri: str, step: str, action: str, **extra: Any) -> dict[str, Any]:
    spec = {
        "datastore": ds.storage.url,
        "namespace": NAMESPACE,
        "project": project,
        "flow": "TrainFlow",
        "run_id": "r1",
        "step": step,
        "uri": uri,
        "action": action,
        **extra,
    }
    proc = subprocess.run([sys.executable, str(SCRIPT), json.dumps(spec)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def open_parent(ds: FlowDatastore, project: str, uri: str, **doc: Any) -> dict[str, Any]:
    """What the recorder does first (recorder mode): the parent run and mlflow.json."""
    from branchline.tracking.connect import connect
    from branchline.tracking.runs import open_parent as _open_parent

    run_doc = make_run_doc(project, **doc)
    ds.write_run("TrainFlow", "r1", run_doc)
    return _open_parent(connect(uri), ds, run_doc, project)


def test_step_that_never_imports_mlflow_costs_no_import(ds: FlowDatastore, project: str, tmp_path: Path) -> None:
    """No server needed: nothing is contacted when the step does not use mlflow."""
    out = run_task(ds, project, "http://127.0.0.1:9", "start", "none")
    assert out["hook_installed"] is True
    assert out["mlflow_imported_after"] is False
    assert out["mlflow_run_id"] is None
    assert out["hook_left"] is False


@pytest.mark.mlflow
def test_lazy_import_in_the_step_logs_to_the_task_run(ds: FlowDatastore, project: str, mlflow_server: str) -> None:
    from mlflow import MlflowClient

    link = open_parent(ds, project, mlflow_server)
    out = run_task(ds, project, mlflow_server, "train", "metric", task_id="0-2", attempt=1,
                   tags={"branchline.batch_job_id": "job-7", "empty": ""})  # fmt: skip
    assert out["mlflow_imported_before_step"] is False
    assert out["hook_installed"] is True and out["hook_left"] is False
    assert out["failed"] is False
    run = MlflowClient(mlflow_server).get_run(out["mlflow_run_id"])
    assert run.info.run_name == "train/0-2"
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"accuracy": 0.93}
    assert run.data.params == {"inner": "yes"}
    assert run.data.tags["mlflow.parentRunId"] == link["run_id"]
    assert run.data.tags["branchline.attempt"] == "1"
    assert run.data.tags["branchline.batch_job_id"] == "job-7"
    assert run.data.tags["branchline.git_sha"] == make_run_doc(project)["git"]["sha"]
    assert "empty" not in run.data.tags
    client = MlflowClient(mlflow_server)
    assert [a.path for a in client.list_artifacts(run.info.run_id, "reports")] == ["reports/notes.txt"]
    local = client.download_artifacts(run.info.run_id, "reports/notes.txt", str(ds.storage.url))
    assert Path(local).read_text() == "fold report"


@pytest.mark.mlflow
def test_failed_step_ends_its_run_failed(ds: FlowDatastore, project: str, mlflow_server: str) -> None:
    from mlflow import MlflowClient

    open_parent(ds, project, mlflow_server)
    out = run_task(ds, project, mlflow_server, "train", "fail")
    assert out["failed"] is True and "boom" in out["error"]
    run = MlflowClient(mlflow_server).get_run(out["mlflow_run_id"])
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"accuracy": 0.93}  # what was logged before the failure is kept


@pytest.mark.mlflow
def test_a_pyfunc_model_of_the_users_own_class_registers_with_the_requirements_given(
    ds: FlowDatastore, project: str, mlflow_server: str, tmp_path: Path
) -> None:
    """`register_model(model, flavor="pyfunc", pip_requirements=...)`: the class goes in as `python_model`, the
    options reach `log_model` as they are, and the version loads back and predicts."""
    import mlflow
    from mlflow import MlflowClient

    open_parent(ds, project, mlflow_server)
    out = run_task(ds, project, mlflow_server, "train", "register_pyfunc")
    assert out["failed"] is False, out["error"]
    client = MlflowClient(mlflow_server)
    (version,) = client.search_model_versions(f"name = '{project}-trainflow-dev'")
    assert version.run_id == out["mlflow_run_id"] and version.tags["kind"] == "own"
    source = client.get_model_version_download_uri(version.name, version.version)
    local = mlflow.artifacts.download_artifacts(source, dst_path=str(tmp_path), tracking_uri=mlflow_server)
    assert mlflow.pyfunc.load_model(local).predict([1, 2]) == [2, 4]
    required = (Path(local) / "requirements.txt").read_text().split()
    assert [r for r in required if not r.startswith("mlflow==")] == ["branchline"]  # given (MLflow adds itself)


def test_recorder_mode_waits_bounded_for_a_recorder_that_never_came(ds: FlowDatastore, project: str) -> None:
    ds.write_run("TrainFlow", "r1", make_run_doc(project))
    out = run_task(ds, project, "http://127.0.0.1:9", "train", "metric", link_wait=1)
    assert out["failed"] is True
    assert "TrackingError" in out["error"] and "did not appear within 1s" in out["error"]


@pytest.mark.mlflow
def test_in_task_mode_runs_a_whole_flow_without_recorder(ds: FlowDatastore, project: str, mlflow_server: str) -> None:
    """As in step containers: start creates the parent, train registers a model, end closes the parent."""
    from mlflow import MlflowClient

    ds.write_run("TrainFlow", "r1", make_run_doc(project))
    start = run_task(ds, project, mlflow_server, "start", "none", mode="in_task")
    link = read_link(ds, "TrainFlow", "r1")
    assert link is not None and link["tracking_uri"] == mlflow_server
    assert start["mlflow_run_id"] is not None  # containers always activate: every task has its run
    train = run_task(ds, project, mlflow_server, "train", "register", mode="in_task",
                     end_tags={"branchline.artifacts": "model"})  # fmt: skip
    end = run_task(ds, project, mlflow_server, "end", "none", mode="in_task")

    client = MlflowClient(mlflow_server)
    parent = client.get_run(link["run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.params["alpha"] == "0.5"
    assert parent.data.tags["branchline.execution_arn"] == make_run_doc(project)["execution_arn"]
    children = client.search_runs(
        [link["experiment_id"]], filter_string=f"tags.`mlflow.parentRunId` = '{link['run_id']}'"
    )
    assert {r.info.run_id for r in children} == {start["mlflow_run_id"], train["mlflow_run_id"], end["mlflow_run_id"]}
    assert read_link(ds, "TrainFlow", "r1")["recorded"] is True  # type: ignore[index]

    trained = client.get_run(train["mlflow_run_id"])
    assert trained.data.metrics["accuracy"] > 0.9
    assert trained.data.tags["branchline.artifacts"] == "model"
    name = f"{project}-trainflow-dev"  # a branch's versions never go to production's model
    versions = client.search_model_versions(f"name = '{name}'")
    assert len(versions) == 1
    version = versions[0]
    assert version.run_id == train["mlflow_run_id"]
    assert version.tags["namespace"] == NAMESPACE
    assert version.tags["run_id"] == "r1"
    assert version.tags["flow"] == "TrainFlow" and version.tags["step"] == "train"
    # every task wrote its own record of what it put in MLflow into its datastore prefix
    records = {r["step"]: r for r in read_flow_evidence(ds, "TrainFlow", "r1")}
    assert set(records) == {"start", "train", "end", None}  # None: the flow run's own (its summary's metrics)
    # the end task summarised the run on its parent run before closing it (in_task mode: no recorder)
    parent = client.get_run(link["run_id"])
    assert parent.data.metrics == {"accuracy": trained.data.metrics["accuracy"]}  # no gate here: every metric
    assert parent.data.tags["branchline.summary.model"] == f"{name} v1"
    assert parent.data.tags["branchline.summary.metric_sources"] == "accuracy=train/0"
    assert records[None]["runs"][link["run_id"]]["metrics"] == parent.data.metrics
    assert records["train"]["model_versions"] == [{"name": name, "version": "1", "run_id": train["mlflow_run_id"]}]
    assert records["train"]["runs"][train["mlflow_run_id"]]["metrics"]["accuracy"] > 0.9
    assert records["train"]["namespace"] == NAMESPACE and records["start"]["model_versions"] == []
    assert version.tags["git_sha"] == make_run_doc(project)["git"]["sha"]
    assert version.tags["dataset"] == "iris"

    import mlflow.sklearn
    from sklearn.datasets import load_iris

    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.sklearn.load_model(f"models:/{name}/{version.version}")
    x, _ = load_iris(return_X_y=True)
    assert model.predict(x[:3]).shape == (3,)


@pytest.mark.mlflow
def test_parent_run_is_found_not_duplicated_when_created_twice(
    ds: FlowDatastore, project: str, mlflow_server: str
) -> None:
    """in_task after a resume: the first task to run creates the parent; a second creator reuses it."""
    first = open_parent(ds, project, mlflow_server)
    ds.put_json(f"{ds.run_key('TrainFlow', 'r1')}/mlflow.json", {})  # as if the link were lost
    second = open_parent(ds, project, mlflow_server)
    assert second["run_id"] == first["run_id"]
    assert read_link(ds, "TrainFlow", "r1") == second


@pytest.mark.mlflow
def test_finish_flow_run_closes_the_parent_of_a_failed_container_run(
    ds: FlowDatastore, project: str, mlflow_server: str
) -> None:
    from mlflow import MlflowClient

    from branchline.tracking.task_run import TaskTracking, finish_flow_run

    link = open_parent(ds, project, mlflow_server)
    ctx = TaskTracking(
        datastore=ds, namespace=NAMESPACE, project=project, flow="TrainFlow", run_id="r1", step="train",
        task_id="0", attempt=2, tracking_uri=mlflow_server, mode="in_task",
    )  # fmt: skip
    finish_flow_run(ctx, failed=True)
    assert MlflowClient(mlflow_server).get_run(link["run_id"]).info.status == "FAILED"
    assert read_link(ds, "TrainFlow", "r1")["status"] == "FAILED"  # type: ignore[index]
