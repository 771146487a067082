"""The pure decision: table tests of each criterion, properties of the whole (hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branchline.config import Config
from branchline.errors import ConfigError
from branchline.gate.decision import CheckOutcome, Threshold, Verdict, decide, tolerance_for
from branchline.gate.policy import gate_flow, load_policy
from branchline.gate.promote import GateRefused, action_text, effective_namespace
from branchline.gate.provenance import checks_from_runs, merged_metrics
from branchline.gate.report import build_report, to_markdown

THRESHOLDS = {"accuracy": ">= 0.90", "f1_macro": ">= 0.85"}
GOOD = {"accuracy": 0.95, "f1_macro": 0.93}
CHECKS = {"raw_data": True, "predictions": True}
REQUIRED = ["raw_data", "predictions"]


def judge(
    metrics: Mapping[str, float] = GOOD,
    checks: Mapping[str, CheckOutcome | bool] = CHECKS,
    champion: Mapping[str, float] | None = None,
    thresholds: Mapping[str, str] = THRESHOLDS,
    tolerance: float | Mapping[str, float] = 0.02,
    required: list[str] = REQUIRED,
    baseline_optional: bool = False,
) -> Verdict:
    return decide(
        metrics=metrics,
        checks=checks,
        required_checks=required,
        thresholds=thresholds,
        tolerance=tolerance,
        champion=champion,
        baseline_optional=baseline_optional,
    )


def failed(verdict: Verdict) -> list[str]:
    return [c.name for c in verdict.failed]


@pytest.mark.parametrize(
    ("kwargs", "expected_failures"),
    [
        ({}, []),
        ({"checks": {"raw_data": True, "predictions": False}}, ["check predictions"]),
        ({"checks": {"raw_data": True}}, ["check predictions"]),
        ({"checks": {}}, ["check raw_data", "check predictions"]),
        ({"metrics": {"accuracy": 0.89, "f1_macro": 0.93}}, ["accuracy >= 0.9"]),
        ({"metrics": {"accuracy": 0.90, "f1_macro": 0.85}}, []),  # boundaries hold for >=
        ({"metrics": {"f1_macro": 0.93}}, ["accuracy >= 0.9"]),
        ({"metrics": {"accuracy": math.nan, "f1_macro": 0.93}}, ["accuracy >= 0.9"]),
        ({"champion": {"accuracy": 0.97, "f1_macro": 0.93}}, []),  # drop 0.02 == tolerance
        ({"champion": {"accuracy": 0.98, "f1_macro": 0.93}}, ["no regression: accuracy"]),
        # a champion without a threshold metric (or a non-finite one) proves nothing: the criterion fails...
        ({"champion": {"accuracy": 0.98}, "tolerance": {"accuracy": 0.05}}, ["no regression: f1_macro"]),
        (
            {"champion": {"f1_macro": 0.99}, "tolerance": {"accuracy": 0.05}},  # tolerance absent for f1: 0
            ["no regression: accuracy", "no regression: f1_macro"],
        ),
        ({"champion": {}}, ["no regression: accuracy", "no regression: f1_macro"]),
        ({"champion": {"accuracy": math.nan, "f1_macro": 0.9}}, ["no regression: accuracy"]),
        ({"champion": {"accuracy": math.inf, "f1_macro": 0.9}}, ["no regression: accuracy"]),
        # ...unless the policy says baseline = "optional"
        ({"champion": {}, "baseline_optional": True}, []),
        ({"champion": {"accuracy": math.nan, "f1_macro": 0.9}, "baseline_optional": True}, []),
        ({"champion": {"accuracy": 0.99, "f1_macro": 0.9}, "baseline_optional": True}, ["no regression: accuracy"]),
        ({"thresholds": {"log_loss": "<= 0.5"}, "metrics": {"log_loss": 0.3}, "champion": {"log_loss": 0.29}}, []),
        (
            {"thresholds": {"log_loss": "<= 0.5"}, "metrics": {"log_loss": 0.3}, "champion": {"log_loss": 0.2}},
            ["no regression: log_loss"],
        ),
        ({"thresholds": {"accuracy": "> 0.95"}}, ["accuracy > 0.95"]),
        ({"thresholds": {"accuracy": "< 0.5"}}, ["accuracy < 0.5"]),
        ({"thresholds": {"accuracy": "== 0.95"}, "champion": {"accuracy": 0.99}}, []),  # '==': no direction
        ({"thresholds": {}, "required": []}, ["(none)"]),
    ],
)
def test_decision_table(kwargs: dict, expected_failures: list[str]) -> None:
    verdict = judge(**kwargs)
    if expected_failures == ["(none)"]:
        assert not verdict.passed and verdict.summary == "failed: the gate has no criteria"
        return
    assert failed(verdict) == expected_failures
    assert verdict.passed is (not expected_failures)


def test_details_carry_the_numbers() -> None:
    verdict = judge(metrics={"accuracy": 0.9312, "f1_macro": 0.93}, champion={"accuracy": 0.97, "f1_macro": 0.9})
    details = {c.name: c.detail for c in verdict.criteria}
    assert details["accuracy >= 0.9"] == "accuracy = 0.9312 holds accuracy >= 0.9"
    assert details["no regression: accuracy"] == (
        "accuracy = 0.9312 vs champion 0.97: drop 0.0388 exceeds tolerance 0.02"
    )
    assert details["no regression: f1_macro"] == "f1_macro = 0.93 vs champion 0.9: drop 0 within tolerance 0.02"
    assert verdict.summary == "failed: 1 of 6 criteria (no regression: accuracy)"
    outcome = CheckOutcome("raw_data", False, 3, ("start/1",))
    check = judge(checks={"raw_data": outcome, "predictions": True}).criteria[0]
    assert check.detail == "failed in 1 run(s): 3 expectation(s) not met"


def test_a_champion_without_the_metric_is_named_in_the_detail() -> None:
    details = {c.name: c.detail for c in judge(champion={"accuracy": math.nan}).criteria}
    assert details["no regression: accuracy"].startswith("champion has a non-finite (nan) accuracy")
    assert details["no regression: f1_macro"].startswith("champion has no f1_macro")
    assert 'baseline = "optional"' in details["no regression: f1_macro"]


def test_first_model_is_judged_without_regression_criteria() -> None:
    verdict = judge(champion=None)
    assert verdict.passed and not any(c.name.startswith("no regression") for c in verdict.criteria)
    assert "no champion yet" in verdict.notes[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [("0.9", "expected an operator"), (">= high", "expected an operator"), ("=> 0.9", "expected an operator")],
)
def test_threshold_syntax_errors_name_the_metric(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"threshold for 'accuracy' is '{text}': {message}"):
        judge(thresholds={"accuracy": text})


def test_threshold_parsing() -> None:
    assert Threshold.parse("a", ">=0.9") == Threshold("a", ">=", 0.9)
    assert Threshold.parse("a", " <  1e-3 ") == Threshold("a", "<", 0.001)
    assert Threshold.parse("a", "== -2") == Threshold("a", "==", -2.0)
    assert [Threshold.parse("a", f"{op} 1").higher_is_better for op in (">=", ">", "<=", "<", "==")] == [
        True,
        True,
        False,
        False,
        None,
    ]


def test_bad_tolerances() -> None:
    for bad in (-0.1, math.inf, -math.inf, math.nan, "inf", {"accuracy": math.inf}):
        with pytest.raises(ConfigError, match="must be a finite number >= 0"):
            tolerance_for(bad, "accuracy")
    with pytest.raises(ConfigError, match="expected a number"):
        tolerance_for({"accuracy": "lots"}, "accuracy")
    assert tolerance_for({"accuracy": 0.1}, "f1") == 0.0 and tolerance_for(None, "x") == 0.0


# ----- properties
scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
tolerances = st.floats(min_value=0.0, max_value=0.2, allow_nan=False)


@given(accuracy=scores, f1=scores, champion_accuracy=scores, champion_f1=scores, tolerance=tolerances)
def test_pass_iff_thresholds_hold_and_no_drop_beyond_tolerance(
    accuracy: float, f1: float, champion_accuracy: float, champion_f1: float, tolerance: float
) -> None:
    verdict = judge(
        metrics={"accuracy": accuracy, "f1_macro": f1},
        champion={"accuracy": champion_accuracy, "f1_macro": champion_f1},
        tolerance=tolerance,
    )
    expected = (
        accuracy >= 0.90
        and f1 >= 0.85
        and champion_accuracy - accuracy <= tolerance + 1e-9
        and champion_f1 - f1 <= tolerance + 1e-9
    )
    assert verdict.passed is expected
    assert len(verdict.criteria) == 2 + 2 + 2


@given(accuracy=scores, better=st.floats(min_value=0.0, max_value=0.5), champion=scores, tolerance=tolerances)
def test_a_higher_score_never_turns_a_pass_into_a_fail(
    accuracy: float, better: float, champion: float, tolerance: float
) -> None:
    before = judge(
        metrics={"accuracy": accuracy, "f1_macro": 0.9}, champion={"accuracy": champion}, tolerance=tolerance
    )
    after = judge(
        metrics={"accuracy": accuracy + better, "f1_macro": 0.9}, champion={"accuracy": champion}, tolerance=tolerance
    )
    assert not before.passed or after.passed


@given(checks=st.dictionaries(st.sampled_from(["raw_data", "predictions", "extra"]), st.booleans()))
def test_checks_fail_closed(checks: dict[str, bool]) -> None:
    verdict = judge(checks=checks)
    required_ok = all(checks.get(name) is True for name in REQUIRED)
    assert verdict.passed is required_ok


@given(champion=scores, tolerance=tolerances)
def test_exactly_at_the_tolerance_passes(champion: float, tolerance: float) -> None:
    candidate = champion - tolerance
    verdict = judge(
        metrics={"accuracy": candidate, "f1_macro": 0.9},
        champion={"accuracy": champion},
        thresholds={"accuracy": ">= -1"},
        tolerance=tolerance,
        required=[],
    )
    assert verdict.passed


# ----- evidence folding, namespaces, policy, report (pure parts of the edges)
def test_checks_fold_over_runs_and_a_failure_anywhere_sticks() -> None:
    runs = [
        ("flow", {"branchline.role": "flow"}),
        ("start/1", {"branchline.checks.raw_data.success": "true", "branchline.checks.raw_data.failed": "0"}),
        ("train/2", {"branchline.checks.raw_data.success": "false", "branchline.checks.raw_data.failed": "2"}),
        ("evaluate/5", {"branchline.checks.predictions.success": "true"}),
        ("odd", {"branchline.checks.x.failed": "1"}),
    ]
    found = checks_from_runs(runs)
    assert found == {
        "raw_data": CheckOutcome("raw_data", False, 2, ("start/1", "train/2")),
        "predictions": CheckOutcome("predictions", True, 0, ("evaluate/5",)),
    }
    assert merged_metrics({"a": 1.0, "b": 2.0}, {"b": 3.0}) == {"a": 1.0, "b": 3.0}


def test_namespace_rules() -> None:
    assert effective_namespace("prod", None) == "prod"  # the run's own tag, whatever the caller's environment
    assert effective_namespace("prod", "prod") == "prod"
    with pytest.raises(GateRefused, match="produced in namespace br-x, not prod"):
        effective_namespace("br-x", "prod")


def test_policy_from_config(tmp_path: Path) -> None:
    config = Config(tmp_path, {"project": "p", "gates": {"TrainFlow": {"thresholds": THRESHOLDS, "tolerance": 0.02}}})
    policy = load_policy(config, gate_flow(config, None))
    assert (policy.model, policy.required_checks, len(policy.thresholds)) == ("p-trainflow", (), 2)
    with pytest.raises(ConfigError, match="no gate configured for flow Other"):
        load_policy(config, "Other")
    with pytest.raises(ConfigError, match="could never judge a model"):
        load_policy(Config(tmp_path, {"gates": {"F": {"model": "m"}}}), "F")
    with pytest.raises(ConfigError, match="must be a list of suite names"):
        load_policy(Config(tmp_path, {"gates": {"F": {"required_checks": "raw_data"}}}), "F")
    with pytest.raises(ConfigError, match="which flow's gate"):
        gate_flow(Config(tmp_path, {"gates": {"A": {}, "B": {}}}), None)
    assert not policy.baseline_optional and policy.as_dict()["baseline"] == "required"
    optional = {"thresholds": THRESHOLDS, "baseline": "optional"}
    assert load_policy(Config(tmp_path, {"gates": {"F": optional}}), "F").baseline_optional
    with pytest.raises(ConfigError, match="baseline is 'sometimes'"):
        load_policy(Config(tmp_path, {"gates": {"F": {**optional, "baseline": "sometimes"}}}), "F")
    for tolerance in (math.inf, math.nan, {"accuracy": math.inf}):  # TOML allows `tolerance = inf`
        with pytest.raises(ConfigError, match="must be a finite number"):
            load_policy(Config(tmp_path, {"gates": {"F": {"thresholds": THRESHOLDS, "tolerance": tolerance}}}), "F")


def test_markdown_report_escapes_and_states_the_action() -> None:
    verdict = judge(metrics={"accuracy": 0.5, "f1_macro": 0.9})
    action = action_text(verdict, dry_run=True, candidate="4", champion="3")
    assert action == "dry run: would not promote; champion stays v3"
    report = build_report(
        verdict=verdict.as_dict(),
        policy={"flow": "TrainFlow", "model": "m|x"},
        candidate={"version": "4", "branchline_run_id": "r1"},
        champion={"version": "3"},
        namespace="br-x",
        dry_run=True,
        action=action,
    )
    md = to_markdown(report)
    assert "❌ failed (dry run)" in md and "| ❌ | accuracy >= 0.9 | accuracy = 0.5 fails accuracy >= 0.9 |" in md
    assert "champion: version **3**" in md and "`m|x`" in md
