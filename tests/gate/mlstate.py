"""Build the MLflow state of flow runs with the real client, the shape branchline's tracking gives them.

A flow run is a parent run (`branchline.role=flow`) with nested task runs (`mlflow.parentRunId`); the
`start` task carries the raw_data check tags, the `evaluate` task its metrics, the predictions check
tags and the registered model (a tiny real sklearn model). No flow is run: the gate only reads MLflow.
"""

from __future__ import annotations

import os
import secrets
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage
from branchline.namespaces.mlflow_tags import check_failed_tag as failed_tag
from branchline.namespaces.mlflow_tags import check_success_tag as success_tag
from branchline.namespaces.names import experiment_name, registered_model_name
from branchline.tracking.connect import TrackingSession
from branchline.tracking.evidence import record_task_evidence

FLOW = "TrainFlow"


@pytest.fixture(autouse=True)
def restore_mlflow_env() -> Iterator[None]:
    """mlflow.set_tracking_uri/set_registry_uri/set_experiment export MLFLOW_* variables, which every later
    subprocess would inherit (a flow run then talks to the wrong store), and keep them in module globals that every
    later client in this process defaults to: put both back after each test.
    (monkeypatch.delenv of an absent variable records nothing to undo, hence this fixture.)"""
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    if "mlflow" in sys.modules:  # and MLflow's own globals: a later client would default to this test's registry
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for key in [k for k in os.environ if k.startswith("MLFLOW_") and k not in before]:
        del os.environ[key]
    os.environ.update(before)


GOOD = {"accuracy": 0.95, "f1_macro": 0.94}


@dataclass
class Project:
    root: Path
    name: str
    model: str
    uri: str


@dataclass
class FlowRun:
    run_id: str
    parent: str
    tasks: dict[str, str]
    version: str | None


def make_project(
    tmp_path: Path,
    uri: str,
    *,
    thresholds: str = '{ accuracy = ">= 0.90", f1_macro = ">= 0.85" }',
    tolerance: str = "0.02",
    required: str = '["raw_data", "predictions"]',
    name: str | None = None,
    extra: str = "",
) -> Project:
    """A project directory whose pyproject.toml configures the TrainFlow gate; unique names per test.

    `name` rewrites the gate of an existing project (same directory, model and datastore).
    """
    name = name or f"gt-{secrets.token_hex(4)}"
    root = tmp_path / name
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [tool.branchline]
            project = "{name}"
            tracking_uri = "{uri}"

            [tool.branchline.gates.{FLOW}]
            model = "{name}-trainflow"
            thresholds = {thresholds}
            tolerance = {tolerance}
            required_checks = {required}
            {extra}
            """
        )
    )
    return Project(root, name, f"{name}-trainflow", uri)


def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def record_flow_run(
    project: Project,
    *,
    namespace: str = "prod",
    metrics: dict[str, float] | None = None,
    checks: dict[str, bool | None] | None = None,
    register: bool = True,
    run_id: str | None = None,
    evidence: bool = True,
) -> FlowRun:
    """One flow run in MLflow; `checks` maps suite -> passed (None: never ran, no tags).

    Its tasks write their evidence records into the project's datastore as a real task does at its end
    (`record_task_evidence`), unless `evidence=False`.
    """
    import mlflow
    from sklearn.dummy import DummyClassifier

    c = client(project.uri)
    name = experiment_name(project.name, FLOW, namespace)
    found = c.get_experiment_by_name(name)
    experiment = found.experiment_id if found else c.create_experiment(name)
    model_name = registered_model_name(project.model, namespace)
    run_id = run_id or f"run-{secrets.token_hex(3)}"
    identity = {"branchline.namespace": namespace, "branchline.run_id": run_id, "branchline.flow": FLOW}
    parent = c.create_run(experiment, tags={**identity, "branchline.role": "flow"}, run_name=run_id).info.run_id
    tasks = {}
    for step in ("start", "split", "train", "evaluate", "end"):
        tags = {**identity, "branchline.role": "task", "branchline.step": step, "mlflow.parentRunId": parent}
        tasks[step] = c.create_run(experiment, tags=tags, run_name=f"{step}/1").info.run_id
    checks = {"raw_data": True, "predictions": True} if checks is None else checks
    where = {"raw_data": "start", "predictions": "evaluate"}
    for suite, passed in checks.items():
        if passed is None:
            continue
        task = tasks[where.get(suite, "evaluate")]
        c.set_tag(task, success_tag(suite), "true" if passed else "false")
        c.set_tag(task, failed_tag(suite), "0" if passed else "2")
    for key, value in (GOOD if metrics is None else metrics).items():
        c.log_metric(tasks["evaluate"], key, value)
    version = None
    if register:
        mlflow.set_tracking_uri(project.uri)
        mlflow.set_registry_uri(project.uri)
        mlflow.set_experiment(experiment_id=experiment)  # start_run(run_id=...) must match the active one
        model = DummyClassifier(strategy="most_frequent").fit([[0.0], [1.0]], [0, 1])
        with mlflow.start_run(run_id=tasks["evaluate"]):
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=model_name, pip_requirements=["scikit-learn"]
            )
        version = str(info.registered_model_version)
        c.set_model_version_tag(model_name, version, "namespace", namespace)
    for run in (*tasks.values(), parent):
        if c.get_run(run).info.status == "RUNNING":
            c.set_terminated(run, "FINISHED")
    if evidence:
        ds = datastore(project, namespace)
        for step, task in tasks.items():
            record_task_evidence(TrackingSession(c, project.uri), ds, flow=FLOW, run_id=run_id, step=step,
                                 task_id="1", task_run_id=task)  # fmt: skip
    return FlowRun(run_id, parent, tasks, version)


def datastore(project: Project, namespace: str) -> FlowDatastore:
    """The project's default datastore (`.branchline/datastore`), where the gate looks for evidence."""
    return FlowDatastore(LocalStorage(project.root / ".branchline" / "datastore"), namespace)


def champion(project: Project) -> str | None:
    """The version behind `champion` now, or None (also when production's model does not exist yet)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client(project.uri).get_registered_model(project.model)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    aliases = model.aliases or {}
    return str(aliases["champion"]) if "champion" in aliases else None


def version_tags(project: Project, version: str, model: str | None = None) -> dict[str, str]:
    return dict(client(project.uri).get_model_version(model or project.model, version).tags)


def artifact_text(project: Project, run_id: str, path: str) -> str:
    import mlflow

    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, tracking_uri=project.uri)
    return Path(local).read_text()
