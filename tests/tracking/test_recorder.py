"""The recorder process against a real `mlflow server`, fed with the runtime's datastore documents."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from branchline.datastore.artifacts import FlowDatastore
from branchline.errors import ServiceUnreachable
from branchline.tracking import task_run
from branchline.tracking.recorder import EXIT_UNREACHABLE, start_recorder, wait_for_recorder
from branchline.tracking.runs import read_link
from tests.tracking.conftest import NAMESPACE, make_meta, make_run_doc

pytestmark = pytest.mark.mlflow


def _start(ds: FlowDatastore, project: str, uri: str, run_id: str = "r1", **kw: Any) -> subprocess.Popen:
    return start_recorder(
        datastore_url=ds.storage.url,
        namespace=NAMESPACE,
        flow="TrainFlow",
        run_id=run_id,
        project=project,
        tracking_uri=uri,
        **kw,
    )


def _wait_link(ds: FlowDatastore, run_id: str = "r1", key: str = "run_id", timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        link = read_link(ds, "TrainFlow", run_id)
        if link and key in link:
            return link
        time.sleep(0.1)
    raise AssertionError(f"mlflow.json never got {key!r}: {read_link(ds, 'TrainFlow', run_id)}")


def _children(client: Any, experiment_id: str, parent: str) -> dict[str, Any]:
    runs = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    return {r.info.run_name: r for r in runs}


def test_recorder_mirrors_a_run_with_tags_params_and_nested_task_runs(
    ds: FlowDatastore, project: str, mlflow_server: str
) -> None:
    from mlflow import MlflowClient

    doc = make_run_doc(project)
    ds.write_run("TrainFlow", "r1", doc)
    proc = _start(ds, project, mlflow_server)
    link = _wait_link(ds)  # published as soon as the parent run exists, before any task finished
    assert link["tracking_uri"] == mlflow_server
    ds.write_task_meta("TrainFlow", "r1", "start", "0", make_meta("start", artifacts=["alpha"]))
    ds.write_task_meta("TrainFlow", "r1", "train", "0-0", make_meta("train", "0-0", batch_job_id="job-1"))
    failed = {"type": "ValueError", "message": "bad fold", "traceback": "..."}
    ds.write_task_meta("TrainFlow", "r1", "train", "0-1", make_meta("train", "0-1", "failed", attempt=1, error=failed))
    ds.write_run("TrainFlow", "r1", {**doc, "status": "failed", "finished": "2026-01-02T10:00:09+00:00"})
    final = wait_for_recorder(proc, timeout=60)

    assert final["recorded"] is True and final["status"] == "FAILED"
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(f"{project}/TrainFlow/dev")
    assert experiment is not None and experiment.experiment_id == final["experiment_id"]
    parent = client.get_run(final["run_id"])
    assert parent.info.run_name == "r1"
    assert parent.info.status == "FAILED"
    assert parent.data.params == {"alpha": "0.5", "n_estimators": "10", "features": '["a", "b"]'}
    tags = parent.data.tags
    assert tags["branchline.namespace"] == NAMESPACE
    assert tags["branchline.run_id"] == "r1"
    assert tags["branchline.git_sha"] == tags["mlflow.source.git.commit"] == doc["git"]["sha"]
    assert tags["branchline.branch"] == "feature/x"
    assert tags["branchline.pr_number"] == "42"
    assert tags["branchline.image"] == "sha256:feedface"
    assert tags["branchline.execution_arn"] == doc["execution_arn"]

    children = _children(client, experiment.experiment_id, parent.info.run_id)
    assert sorted(children) == ["start/0", "train/0-0", "train/0-1"]
    ok, bad = children["train/0-0"], children["train/0-1"]
    assert ok.info.status == "FINISHED" and bad.info.status == "FAILED"
    assert ok.data.tags["branchline.batch_job_id"] == "job-1"
    assert ok.data.tags["branchline.artifacts"] == "model,score"
    assert ok.data.tags["branchline.step"] == "train" and ok.data.tags["branchline.task_id"] == "0-0"
    assert bad.data.tags["branchline.attempt"] == "1"
    assert bad.data.tags["branchline.error"] == "ValueError: bad fold"
    assert ok.info.end_time - ok.info.start_time == 1000  # the task's own times, not the recorder's


def test_a_task_that_opened_its_own_run_is_completed_not_duplicated(
    ds: FlowDatastore, project: str, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task logged a metric into its run (mlflow already imported: immediate activation)."""
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)  # activation exports it: restore it after

    doc = make_run_doc(project, steps=["start"])
    ds.write_run("TrainFlow", "r1", doc)
    proc = _start(ds, project, mlflow_server)
    ctx = task_run.TaskTracking(
        datastore=ds, namespace=NAMESPACE, project=project, flow="TrainFlow", run_id="r1", step="start",
        task_id="0", attempt=0, tracking_uri=mlflow_server,
    )  # fmt: skip
    handle = task_run.activate(ctx)
    assert handle is not None and handle.hook is None  # mlflow was imported: opened at once
    mlflow.log_metric("accuracy", 0.9)
    own = task_run.deactivate(handle, failed=False)
    assert mlflow.active_run() is None
    ds.write_task_meta("TrainFlow", "r1", "start", "0", make_meta("start", mlflow_run_id=own, batch_job_id="j-9"))
    ds.write_run("TrainFlow", "r1", {**doc, "status": "succeeded"})
    final = wait_for_recorder(proc, timeout=60)

    client = MlflowClient(mlflow_server)
    children = _children(client, final["experiment_id"], final["run_id"])
    assert list(children) == ["start/0"]
    run = children["start/0"]
    assert run.info.run_id == own
    assert run.data.metrics == {"accuracy": 0.9}
    assert run.data.tags["branchline.batch_job_id"] == "j-9"  # added afterwards by the recorder
    assert run.info.status == "FINISHED"
    assert client.get_run(final["run_id"]).info.status == "FINISHED"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_fails_fast_with_the_uri(
    ds: FlowDatastore, project: str, capfd: pytest.CaptureFixture[str]
) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    ds.write_run("TrainFlow", "r1", make_run_doc(project))
    proc = _start(ds, project, uri)
    with pytest.raises(ServiceUnreachable, match=rf"MLflow tracking server {uri} is unreachable"):
        wait_for_recorder(proc, timeout=60)  # bounded: the recorder gives up on its own, well before
    assert proc.returncode == EXIT_UNREACHABLE
    assert f"MLflow tracking server {uri} is unreachable" in capfd.readouterr().err
    link = read_link(ds, "TrainFlow", "r1")
    assert link is not None and uri in link["error"]

    # a task that uses mlflow in this run gets the same error instead of waiting
    ctx = task_run.TaskTracking(
        datastore=ds, namespace=NAMESPACE, project=project, flow="TrainFlow", run_id="r1", step="train",
        task_id="0", attempt=0, tracking_uri=uri,
    )  # fmt: skip
    with pytest.raises(ServiceUnreachable, match=uri):
        task_run.activate(ctx)


def test_recorder_of_a_runtime_that_died_ends_the_run_killed(
    ds: FlowDatastore, project: str, mlflow_server: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    ds.write_run("TrainFlow", "r1", make_run_doc(project))
    ds.write_task_meta("TrainFlow", "r1", "start", "0", make_meta("start"))
    ds.write_task_meta("TrainFlow", "r1", "train", "0", make_meta("train", status="running"))
    # a "runtime" that starts the recorder and exits at once, leaving run.json running
    script = (
        "from branchline.tracking.recorder import start_recorder\n"
        f"start_recorder(datastore_url={ds.storage.url!r}, namespace={NAMESPACE!r}, flow='TrainFlow',"
        f" run_id='r1', project={project!r}, tracking_uri={mlflow_server!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    link = _wait_link(ds, key="recorded", timeout=90)
    assert link["status"] == "KILLED"
    client = MlflowClient(mlflow_server)
    assert client.get_run(link["run_id"]).info.status == "KILLED"
    children = _children(client, link["experiment_id"], link["run_id"])
    assert children["start/0"].info.status == "FINISHED"
    assert children["train/0"].info.status == "KILLED"


def test_recorder_goes_on_after_the_runtime_exits_when_the_run_is_over(
    ds: FlowDatastore, project: str, mlflow_server: str
) -> None:
    """`branchline run` without --wait-tracking: the CLI exits, the recorder finishes the job."""
    doc = make_run_doc(project, steps=["start", "end"])
    ds.write_run("TrainFlow", "r1", doc)
    for step in ("start", "end"):
        ds.write_task_meta("TrainFlow", "r1", step, "0", make_meta(step))
    ds.write_run("TrainFlow", "r1", {**doc, "status": "succeeded"})
    script = (
        "from branchline.tracking.recorder import start_recorder\n"
        f"start_recorder(datastore_url={ds.storage.url!r}, namespace={NAMESPACE!r}, flow='TrainFlow',"
        f" run_id='r1', project={project!r}, tracking_uri={mlflow_server!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    link = _wait_link(ds, key="recorded", timeout=90)
    assert link["status"] == "FINISHED"
    log = Path(ds.storage.local_path(ds.run_key("TrainFlow", "r1"))) / "mlflow-recorder.log"
    assert log.exists()


def test_concurrent_runs_on_a_fresh_local_store(ds: FlowDatastore, project: str, tmp_path: Path) -> None:
    """Two flows started at once in a new project both create the sqlite store: neither may break it."""
    uri = f"sqlite:///{tmp_path}/.branchline/mlflow.db"
    procs = []
    for run_id in ("a", "b", "c"):
        doc = make_run_doc(project, run_id=run_id, steps=["start"], status="succeeded")
        ds.write_run("TrainFlow", run_id, doc)
        ds.write_task_meta("TrainFlow", run_id, "start", "0", make_meta("start"))
        procs.append(_start(ds, project, uri, run_id=run_id))
    links = [wait_for_recorder(proc, timeout=120) for proc in procs]
    assert [link["status"] for link in links] == ["FINISHED"] * 3
    assert len({link["experiment_id"] for link in links}) == 1
