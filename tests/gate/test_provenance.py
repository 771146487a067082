"""The gate's provenance rules as pure functions: whose runs count, and what the datastore must agree with."""

from __future__ import annotations

import math

import pytest

from branchline.gate.decision import CheckOutcome
from branchline.gate.promote import crosscheck_criterion
from branchline.gate.provenance import (
    ProvenanceError,
    VersionEvidence,
    differences,
    flow_identity,
    trusted_tree,
)

PROD = {"branchline.namespace": "prod", "branchline.run_id": "r1"}


def test_a_flow_run_must_say_which_namespace_and_run_it_is() -> None:
    assert flow_identity(PROD, "flow run x") == ("prod", "r1")
    with pytest.raises(ProvenanceError, match=r"carries no branchline\.namespace tag") as info:
        flow_identity({"branchline.run_id": "r1"}, "flow run x")
    assert "never used in its place" in str(info.value)
    with pytest.raises(ProvenanceError, match="unknown namespace 'production'"):
        flow_identity({**PROD, "branchline.namespace": "production"}, "flow run x")
    with pytest.raises(ProvenanceError, match=r"carries no branchline\.run_id tag"):
        flow_identity({"branchline.namespace": "prod"}, "flow run x")


def test_runs_of_another_namespace_or_run_are_ignored_and_named_with_what_hangs_below_them() -> None:
    branch = {"branchline.namespace": "br-evil-123456", "branchline.run_id": "r1"}
    children = {
        "flow": [("t1", "train/0", PROD), ("evil", "evaluate/0", branch), ("bare", "inner", {})],
        "t1": [("n1", "fold", PROD), ("other", "x", {**PROD, "branchline.run_id": "r2"})],
        "evil": [("below", "hidden", PROD)],  # looks like ours, but hangs under a foreign run
    }
    kept, ignored = trusted_tree("flow", children, "prod", "r1")
    assert kept == ["t1", "n1"]
    by_id = {r.run_id: r for r in ignored}
    assert set(by_id) == {"evil", "bare", "other"}
    assert by_id["evil"].reason == "belongs to namespace br-evil-123456 run r1, not prod run r1"
    assert by_id["evil"].namespace == "br-evil-123456" and by_id["evil"].name == "evaluate/0"
    assert by_id["bare"].reason == "carries no branchline namespace / run id"
    assert "run r2" in by_id["other"].reason


def candidate(**over: object) -> VersionEvidence:
    base: dict = dict(
        model="m", version="3", run_id="ev", flow_run_id="flow", namespace="prod", branchline_run_id="r1",
        metrics={"accuracy": 0.95}, checks={"raw_data": CheckOutcome("raw_data", True, 0, ("start/1",))},
    )  # fmt: skip
    return VersionEvidence(**{**base, **over})


RECORDS = [
    {"runs": {"st": {"metrics": {}, "checks": {"branchline.checks.raw_data.success": "true",
                                                "branchline.checks.raw_data.failed": "0"}}}},
    {"runs": {"ev": {"metrics": {"accuracy": 0.95}, "checks": {}}},
     "model_versions": [{"name": "m", "version": "3", "run_id": "ev"}]},
]  # fmt: skip


def test_mlflow_and_the_datastore_agree() -> None:
    assert differences(candidate(), RECORDS) == []
    assert differences(candidate(metrics={"accuracy": math.nan}), [
        RECORDS[0], {**RECORDS[1], "runs": {"ev": {"metrics": {"accuracy": math.nan}}}}
    ]) == []  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "4"}, "model_version: MLflow has m v4 from run ev; the datastore records m v3"),
        ({"run_id": "other"}, "model_version: MLflow has m v3 from run other"),
        ({"metrics": {"accuracy": 0.99}}, "metrics.accuracy: MLflow 0.99, datastore 0.95"),
        ({"metrics": {"accuracy": 0.95, "f1": 0.9}}, "metrics.f1: MLflow 0.9, datastore absent"),
        (
            {"checks": {"raw_data": CheckOutcome("raw_data", False, 2)}},
            "checks.raw_data: MLflow failed (2 failed), datastore passed (0 failed)",
        ),
        ({"checks": {}}, "checks.raw_data: MLflow absent, datastore passed (0 failed)"),
    ],
)
def test_each_field_that_differs_is_named(change: dict, field: str) -> None:
    found = differences(candidate(**change), RECORDS)
    assert any(line.startswith(field) for line in found), found


def test_the_crosscheck_fails_closed_in_production_only() -> None:
    where = "s3://b/prod/runs/TrainFlow/r1"
    missing = crosscheck_criterion(candidate(), [], where)
    assert missing is not None and not missing.passed and "wrote no evidence under s3://b/prod" in missing.detail
    assert crosscheck_criterion(candidate(namespace="br-x-123456"), [], where) is None
    agreed = crosscheck_criterion(candidate(), RECORDS, where)
    assert agreed is not None and agreed.passed and "2 task record(s)" in agreed.detail
    differs = crosscheck_criterion(candidate(version="4"), RECORDS, where)
    assert differs is not None and not differs.passed and "model_version" in differs.detail
