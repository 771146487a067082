"""What a branch with write access to MLflow tried against the gate, on a real `mlflow server` without auth.

Each test is an attack that worked before the gate checked provenance (issue 8): the gate must judge only
evidence it can trace to the production flow run, refuse what it cannot trace, and fail closed on a baseline
it cannot compare with. The same attacks against a server WITH authentication are refused by the server
itself: tests/tracking/test_auth_server.py.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from branchline.config import load_config
from branchline.gate import GateOutcome, run_gate
from branchline.gate.decision import GateConfigError
from branchline.gate.provenance import ProvenanceError
from tests.gate.mlstate import FLOW, Project, artifact_text, champion, client, make_project, record_flow_run

pytestmark = pytest.mark.mlflow
BRANCHLINE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "branchline"
BRANCH = "br-evil-abc123"


def gate(project: Project, **kwargs: Any) -> GateOutcome:
    return run_gate(config=load_config(project.root), **kwargs)


def plant_version(project: Project, parent: str, tags: dict[str, str], accuracy: float = 0.99) -> str:
    """A run nested under `parent` in production's experiment that registers a version of production's model."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    c = client(project.uri)
    experiment = c.get_run(parent).info.experiment_id
    run = c.create_run(experiment, tags={"mlflow.parentRunId": parent, **tags}, run_name="evaluate/9")
    c.log_metric(run.info.run_id, "accuracy", accuracy)
    mlflow.set_tracking_uri(project.uri)
    mlflow.set_registry_uri(project.uri)
    mlflow.set_experiment(experiment_id=experiment)
    model = DummyClassifier(strategy="most_frequent").fit([[0.0], [1.0]], [0, 1])
    with mlflow.start_run(run_id=run.info.run_id):
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=project.model)
    c.set_terminated(run.info.run_id, "FINISHED")
    return str(info.registered_model_version)


@pytest.mark.parametrize(
    "tags",
    [
        {"branchline.namespace": BRANCH, "branchline.run_id": "x1", "branchline.role": "task"},
        {},  # no identity at all
        {"branchline.namespace": "prod", "branchline.run_id": "another-run"},  # production, but another run
    ],
    ids=["branch-tags", "no-tags", "other-prod-run"],
)
def test_a_run_parented_under_the_production_flow_run_cannot_supply_the_candidate(
    project: Project, tags: dict[str, str]
) -> None:
    prod = record_flow_run(project, metrics={"accuracy": 0.91, "f1_macro": 0.9})
    planted = plant_version(project, prod.tasks["evaluate"], tags)
    assert int(planted) > int(str(prod.version))  # the newest version: what the old gate took

    outcome = gate(project, run_id=prod.run_id)
    assert outcome.candidate.version == prod.version and outcome.candidate.metrics["accuracy"] == 0.91
    assert champion(project) == prod.version != planted
    ignored = [r.name for r in outcome.candidate.ignored]
    assert ignored == ["evaluate/9"]
    report = json.loads(artifact_text(project, prod.parent, "gate/report.json"))
    assert [r["name"] for r in report["candidate"]["ignored_runs"]] == ["evaluate/9"]
    assert any("ignored 1 run(s) nested under the flow run" in note for note in report["notes"])
    assert "evaluate/9" in artifact_text(project, prod.parent, "gate/report.md")


def test_the_planted_version_cannot_be_promoted_by_number_either(project: Project) -> None:
    prod = record_flow_run(project)
    planted = plant_version(project, prod.parent, {"branchline.namespace": BRANCH, "branchline.run_id": "x"})
    with pytest.raises(ProvenanceError, match=rf"v{planted} was logged by run .* belongs to namespace {BRANCH}"):
        gate(project, version=planted)
    assert champion(project) is None


def test_a_version_without_a_namespace_is_refused_whatever_the_callers_namespace(project: Project) -> None:
    import mlflow
    from sklearn.dummy import DummyClassifier

    c = client(project.uri)
    experiment = c.create_experiment(f"{project.name}/{FLOW}")
    mlflow.set_tracking_uri(project.uri)
    mlflow.set_registry_uri(project.uri)
    mlflow.set_experiment(experiment_id=experiment)
    with mlflow.start_run(tags={"branchline.role": "flow"}):  # recorded by hand: no branchline identity
        mlflow.log_metrics({"accuracy": 0.99, "f1_macro": 0.99})
        mlflow.sklearn.log_model(DummyClassifier().fit([[0.0], [1.0]], [0, 1]), name="m",
                                 registered_model_name=project.model)  # fmt: skip
    done = subprocess.run(
        [str(BRANCHLINE), "promote", "--project-dir", str(project.root), "--version", "1"],
        env={**os.environ, "BRANCHLINE_NAMESPACE": "prod", "COLUMNS": "200"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "carries no branchline.namespace tag" in done.stderr and "never used in its place" in done.stderr
    assert champion(project) is None


def test_a_run_tagged_prod_outside_productions_experiment_is_refused(project: Project) -> None:
    c = client(project.uri)
    forged = record_flow_run(project, namespace=BRANCH)
    c.set_tag(forged.parent, "branchline.namespace", "prod")  # a branch retags its own flow run
    with pytest.raises(ProvenanceError, match=r"tagged prod but lives in experiment .*/TrainFlow/dev"):
        gate(project, run_id=forged.run_id)
    assert "champion" not in (client(project.uri).get_registered_model(f"{project.model}-dev").aliases or {})


@pytest.mark.parametrize("poison", [None, math.nan], ids=["missing", "nan"])
def test_a_champion_without_a_usable_metric_fails_the_regression_criterion(
    tmp_path: Path, tracking: str, poison: float | None
) -> None:
    only_accuracy = '{ accuracy = ">= 0.90" }'
    project = make_project(tmp_path, tracking, thresholds=only_accuracy)
    first = record_flow_run(project, metrics={"accuracy": 0.95})
    assert gate(project, run_id=first.run_id).promoted
    if poison is None:  # the gate gains a metric the champion never recorded
        project = make_project(tmp_path, tracking, name=project.name)
        expected = "no regression: f1_macro"
    else:  # the champion's metric became NaN
        client(tracking).log_metric(first.tasks["evaluate"], "accuracy", poison)
        expected = "no regression: accuracy"
    candidate = record_flow_run(project, metrics={"accuracy": 0.96, "f1_macro": 0.95})
    outcome = gate(project, run_id=candidate.run_id)
    assert [c.name for c in outcome.verdict.failed] == [expected]
    assert not outcome.promoted and champion(project) == first.version

    thresholds = only_accuracy if poison is not None else '{ accuracy = ">= 0.90", f1_macro = ">= 0.85" }'
    optional = make_project(tmp_path, tracking, name=project.name, thresholds=thresholds, extra='baseline = "optional"')
    later = record_flow_run(optional, metrics={"accuracy": 0.96, "f1_macro": 0.95})
    assert gate(optional, run_id=later.run_id).promoted


@pytest.mark.parametrize("tolerance", ["inf", "nan", "{ accuracy = inf }"])
def test_an_infinite_tolerance_is_a_config_error(tmp_path: Path, tracking: str, tolerance: str) -> None:
    project = make_project(tmp_path, tracking, tolerance=tolerance)
    with pytest.raises(GateConfigError, match="must be a finite number >= 0"):
        gate(project, dry_run=True)


def test_metrics_changed_in_mlflow_after_the_run_fail_against_the_datastore(project: Project) -> None:
    first = record_flow_run(project)
    assert gate(project, run_id=first.run_id).promoted
    weak = record_flow_run(project, metrics={"accuracy": 0.80, "f1_macro": 0.94})
    client(project.uri).log_metric(weak.tasks["evaluate"], "accuracy", 0.99)  # rewritten after the fact
    outcome = gate(project, run_id=weak.run_id)
    assert not outcome.promoted and champion(project) == first.version
    failed = {c.name: c.detail for c in outcome.verdict.failed}
    assert list(failed) == ["evidence matches the datastore"]
    assert "metrics.accuracy: MLflow 0.99, datastore 0.8" in failed["evidence matches the datastore"]


def test_production_promotion_needs_the_flow_runs_own_records(project: Project) -> None:
    run = record_flow_run(project, evidence=False)
    outcome = gate(project, run_id=run.run_id)
    assert not outcome.promoted and champion(project) is None
    assert [c.name for c in outcome.verdict.failed] == ["evidence matches the datastore"]
    assert "wrote no evidence under" in outcome.verdict.failed[0].detail
    branch = record_flow_run(project, namespace=BRANCH, evidence=False)  # a branch's dry run only notes it
    assert gate(project, run_id=branch.run_id, dry_run=True).passed
