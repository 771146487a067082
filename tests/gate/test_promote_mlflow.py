"""The gate against a real `mlflow server`: the alias moves on pass only, and every failure leaves it alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from branchline.config import load_config
from branchline.errors import ServiceUnreachable
from branchline.gate import GateOutcome, GateRefused, dry_run_verdict, rollback, run_gate
from branchline.gate.decision import GateConfigError
from branchline.gate.provenance import EvidenceError
from tests.gate.mlstate import (
    Project,
    artifact_text,
    champion,
    client,
    make_project,
    record_flow_run,
    version_tags,
)

pytestmark = pytest.mark.mlflow


def gate(project: Project, **kwargs: Any) -> GateOutcome:
    return run_gate(config=load_config(project.root), **kwargs)


def promoted_first(project: Project, **metrics: float) -> str:
    """A first champion (v1) with the given metrics."""
    first = record_flow_run(project, metrics=metrics or None)
    assert gate(project, run_id=first.run_id).promoted
    assert first.version is not None
    return first.version


def test_first_model_passes_on_thresholds_alone_and_becomes_champion(project: Project) -> None:
    run = record_flow_run(project)
    outcome = gate(project, run_id=run.run_id)
    assert outcome.passed and outcome.promoted
    assert champion(project) == run.version == "1"
    assert any("no champion yet" in note for note in outcome.verdict.notes)
    tags = version_tags(project, "1")
    assert tags["branchline.gate"] == "passed" and tags["branchline.gate.summary"].startswith("passed")
    assert "branchline.previous_champion" not in tags
    report = json.loads(artifact_text(project, run.parent, "gate/report.json"))
    assert report["passed"] is True and report["candidate"]["version"] == "1" and report["champion"] is None
    assert report["candidate"]["metrics"] == {"accuracy": 0.95, "f1_macro": 0.94}
    markdown = artifact_text(project, run.parent, "gate/report.md")
    assert "accuracy >= 0.9" in markdown and "promoted v1" in markdown


def test_a_better_model_replaces_the_champion_and_records_the_previous_one(project: Project) -> None:
    promoted_first(project)
    second = record_flow_run(project, metrics={"accuracy": 0.96, "f1_macro": 0.935})  # f1 drop within tolerance
    outcome = gate(project, run_id=second.run_id)
    assert outcome.promoted and champion(project) == "2"
    assert version_tags(project, "2")["branchline.previous_champion"] == "1"
    assert client(project.uri).get_registered_model(project.model).tags["branchline.previous_champion"] == "1"
    criteria = {c.name: c for c in outcome.verdict.criteria}
    assert criteria["no regression: f1_macro"].passed
    assert "0.935 vs champion v1 0.94" in criteria["no regression: f1_macro"].detail


@pytest.mark.parametrize(
    ("metrics", "checks", "failing"),
    [
        ({"accuracy": 0.95, "f1_macro": 0.94}, {"raw_data": True, "predictions": False}, "check predictions"),
        ({"accuracy": 0.895, "f1_macro": 0.94}, None, "accuracy >= 0.9"),  # champion 0.91: drop within tolerance
        ({"accuracy": 0.92, "f1_macro": 0.94}, None, "no regression: accuracy"),  # champion 0.95, drop 0.03
        ({"accuracy": 0.95, "f1_macro": 0.94}, {"raw_data": True, "predictions": None}, "check predictions"),
        ({"f1_macro": 0.94}, None, "accuracy >= 0.9"),
    ],
    ids=["failed-check", "threshold", "regression", "missing-check-result", "missing-metric"],
)
def test_each_failing_criterion_leaves_the_champion_where_it_was(
    project: Project, metrics: dict[str, float], checks: dict[str, bool | None] | None, failing: str
) -> None:
    promoted_first(project, accuracy=0.91 if failing == "accuracy >= 0.9" else 0.95, f1_macro=0.94)
    candidate = record_flow_run(project, metrics=metrics, checks=checks)
    outcome = gate(project, run_id=candidate.run_id)
    assert not outcome.passed and not outcome.promoted
    assert [c.name for c in outcome.verdict.failed] == [failing]
    assert champion(project) == "1"
    assert version_tags(project, str(candidate.version))["branchline.gate"] == "failed"
    report = json.loads(artifact_text(project, candidate.parent, "gate/report.json"))
    assert report["passed"] is False and "champion stays v1" in report["action"]


def test_missing_check_results_fail_closed_even_for_the_first_model(project: Project) -> None:
    run = record_flow_run(project, checks={})
    outcome = gate(project, run_id=run.run_id)
    assert not outcome.passed and champion(project) is None
    assert {c.name for c in outcome.verdict.failed} == {"check raw_data", "check predictions"}
    assert "no result recorded" in outcome.verdict.failed[0].detail


def test_tracking_server_down_fails_closed_with_the_uri(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    promoted_first(project)
    candidate = record_flow_run(project, metrics={"accuracy": 0.99, "f1_macro": 0.99})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(ServiceUnreachable, match=r"http://127\.0\.0\.1:9 is unreachable"):
        gate(project, run_id=candidate.run_id)
    assert champion(project) == "1"
    assert "branchline.gate" not in version_tags(project, str(candidate.version))


def test_promotion_is_refused_in_a_branch_namespace_but_its_dry_run_reports(project: Project) -> None:
    promoted_first(project)
    branch = record_flow_run(project, namespace="br-feature-x-1a2b3c", metrics={"accuracy": 0.99, "f1_macro": 0.99})
    with pytest.raises(GateRefused, match="namespace br-feature-x-1a2b3c: only prod moves the champion"):
        gate(project, run_id=branch.run_id)
    outcome = gate(project, run_id=branch.run_id, dry_run=True)
    assert outcome.passed and not outcome.promoted and outcome.namespace == "br-feature-x-1a2b3c"
    assert champion(project) == "1"
    dev = f"{project.model}-dev"  # branches register under their own name
    assert outcome.candidate.model == dev and branch.version == "1"
    assert "branchline.gate" not in version_tags(project, "1", dev)  # a dry run tags nothing
    report = json.loads(artifact_text(project, branch.parent, "gate/report.json"))
    assert report["dry_run"] is True and report["action"].startswith(f"dry run: would promote {dev} v1")


def test_a_passing_dry_run_in_prod_moves_nothing(project: Project) -> None:
    promoted_first(project)
    better = record_flow_run(project, metrics={"accuracy": 0.99, "f1_macro": 0.99})
    outcome = gate(project, run_id=better.run_id, dry_run=True)
    assert outcome.passed and not outcome.promoted and champion(project) == "1"
    assert version_tags(project, str(better.version)) == {"namespace": "prod"}


def test_the_namespace_recorded_on_the_run_cannot_be_overridden(project: Project) -> None:
    branch = record_flow_run(project, namespace="br-x-123456")
    with pytest.raises(GateRefused, match="produced in namespace br-x-123456, not prod"):
        gate(project, run_id=branch.run_id, namespace="prod")
    assert champion(project) is None


def test_candidate_by_version_and_by_default_the_latest(project: Project) -> None:
    promoted_first(project)
    record_flow_run(project, metrics={"accuracy": 0.5, "f1_macro": 0.5})
    assert not gate(project, version=2, dry_run=True).passed
    latest = gate(project, dry_run=True)
    assert latest.candidate.version == "2" and latest.candidate.metrics["accuracy"] == 0.5
    assert gate(project, version="1", dry_run=True).passed  # the champion itself
    record_flow_run(project, namespace="br-q-111111")
    assert gate(project, dry_run=True).candidate.version == "2"  # production's model: branches are elsewhere
    assert gate(project, dry_run=True, namespace="prod").candidate.version == "2"
    in_branch = gate(project, dry_run=True, namespace="br-q-111111").candidate
    assert (in_branch.namespace, in_branch.model, in_branch.version) == ("br-q-111111", f"{project.model}-dev", "1")
    with pytest.raises(EvidenceError, match="has no version 7"):
        gate(project, version=7, dry_run=True)
    with pytest.raises(EvidenceError, match="no MLflow run of TrainFlow run nope"):
        gate(project, run_id="nope", dry_run=True)


def test_a_flow_run_without_a_registered_model_is_an_error(project: Project) -> None:
    run = record_flow_run(project, register=False)
    with pytest.raises(EvidenceError, match=f"registered no version of model {project.model}"):
        gate(project, run_id=run.run_id)


def test_rollback_restores_the_previous_champion_step_by_step(project: Project) -> None:
    promoted_first(project)
    for accuracy in (0.96, 0.97):
        assert gate(project, run_id=record_flow_run(project, metrics={"accuracy": accuracy, "f1_macro": 0.94}).run_id)
    assert champion(project) == "3"
    config = load_config(project.root)
    with pytest.raises(GateRefused, match=r"refusing to roll back .* in namespace br-x"):
        rollback(config=config, namespace="br-x")
    assert champion(project) == "3"
    done = rollback(config=config, namespace="prod")
    assert (done.from_version, done.to_version, champion(project)) == ("3", "2", "2")
    assert version_tags(project, "3")["branchline.gate"] == "rolled_back"
    registered = client(project.uri).get_registered_model(project.model)
    assert (
        registered.tags["branchline.rolled_back_from"] == "3" and registered.tags["branchline.previous_champion"] == "1"
    )
    assert rollback(config=config, namespace="prod").to_version == "1"
    with pytest.raises(GateRefused, match=r"\(v1\) records no previous champion"):
        rollback(config=config, namespace="prod")
    assert champion(project) == "1"


def test_rollback_without_any_champion_is_a_clear_error(project: Project) -> None:
    record_flow_run(project)
    with pytest.raises(GateRefused, match="has no champion"):
        rollback(config=load_config(project.root), namespace="prod")


def test_dry_run_verdict_for_the_pull_request_comment(project: Project) -> None:
    promoted_first(project)
    branch = record_flow_run(project, namespace="br-y-abcdef", metrics={"accuracy": 0.8, "f1_macro": 0.94})
    verdict = dry_run_verdict(load_config(project.root), "TrainFlow", namespace="br-y-abcdef", run_id=branch.run_id)
    assert not verdict.passed
    assert verdict.reasons[0].startswith("accuracy >= 0.9: accuracy = 0.8 fails")
    assert champion(project) == "1"


def test_nested_runs_below_tasks_count_for_checks_when_they_carry_the_flow_runs_identity(project: Project) -> None:
    run = record_flow_run(project, checks={"raw_data": True, "predictions": True})
    c = client(project.uri)
    experiment = c.get_run(run.parent).info.experiment_id
    identity = {"branchline.namespace": "prod", "branchline.run_id": run.run_id}
    inner = c.create_run(experiment, tags={"mlflow.parentRunId": run.tasks["train"], **identity}, run_name="inner")
    c.set_tag(inner.info.run_id, "branchline.checks.raw_data.success", "false")
    outcome = gate(project, run_id=run.run_id, dry_run=True)
    failed = {c.name: c.detail for c in outcome.verdict.failed}
    assert "failed in 2 run(s)" in failed["check raw_data"]
    # ...and since no task recorded that outcome, MLflow no longer matches the datastore either
    assert "checks.raw_data: MLflow failed (0 failed), datastore passed (0 failed)" in failed[
        "evidence matches the datastore"
    ]


def test_a_gate_config_mistake_is_reported_before_mlflow_is_asked(tmp_path: Path) -> None:
    bad = make_project(tmp_path, "http://127.0.0.1:9", thresholds='{ accuracy = "at least 0.9" }')
    with pytest.raises(GateConfigError, match=r"threshold for 'accuracy' is 'at least 0\.9'"):
        gate(bad, dry_run=True)
