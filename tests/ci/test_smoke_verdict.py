"""The bounded wait of a smoke run, its settings, and the seam to the gate (pure parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchline.ci.context import CIError
from branchline.ci.report import SmokeOutcome
from branchline.ci.smoke import smoke_failure, smoke_plan, wait_for
from branchline.ci.verdict import gate_verdicts
from branchline.config import Config
from branchline.errors import BranchlineError, FlowError
from branchline.runtime.loader import graph_from_file
from tests.aws_deploy.test_project_moto import FLOW_SOURCE


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_polls_with_a_growing_interval_until_final_or_deadline() -> None:
    clock = FakeClock()
    statuses = iter(["RUNNING"] * 4 + ["SUCCEEDED"])
    assert wait_for(lambda: next(statuses), 100, sleep=clock.sleep, clock=clock) == "SUCCEEDED"
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    clock = FakeClock()
    assert wait_for(lambda: "RUNNING", 60, sleep=clock.sleep, clock=clock) == "RUNNING"
    assert clock.now == 60 and max(clock.sleeps) == 5  # a finished run is seen at most 5 s late


def _graphs(tmp_path: Path) -> dict:
    path = tmp_path / "train.py"
    path.write_text(FLOW_SOURCE)
    graph = graph_from_file(path)
    return {graph.name: graph}


def test_smoke_plan_types_params_against_the_flow(tmp_path: Path) -> None:
    graphs = _graphs(tmp_path)
    plan = smoke_plan(Config(tmp_path, {"ci": {"smoke_params": {"alpha": "0.5", "epochs": 2}}}), graphs)
    assert (plan.flow, plan.params, plan.timeout_s) == ("TrainFlow", {"alpha": 0.5, "epochs": 2}, 1800.0)
    assert smoke_plan(Config(tmp_path, {}), graphs, timeout_s=5).params == {}
    with pytest.raises(FlowError, match="has no parameter beta"):
        smoke_plan(Config(tmp_path, {"ci": {"smoke_params": {"beta": 1}}}), graphs)
    with pytest.raises(CIError, match="'Other' is not deployed"):
        smoke_plan(Config(tmp_path, {}), graphs, flow="Other")
    with pytest.raises(CIError, match="smoke_timeout must be a positive number"):
        smoke_plan(Config(tmp_path, {"ci": {"smoke_timeout": "soon"}}), graphs)
    with pytest.raises(CIError, match="several flows"):
        smoke_plan(Config(tmp_path, {}), {**graphs, "B": graphs["TrainFlow"]})


def _smoke(status: str = "SUCCEEDED") -> SmokeOutcome:
    return SmokeOutcome("TrainFlow", "r1", "arn", status, "https://c")


class Answer:
    def __init__(self, passed: bool, reasons: list[str]) -> None:
        self.passed, self.reasons = passed, reasons


def test_verdicts_ask_the_gate_only_about_a_successful_smoke_run(tmp_path: Path) -> None:
    config = Config(tmp_path, {"gates": {"TrainFlow": {"model": "m"}}})
    asked = []

    def gate(cfg: Config, flow: str, *, namespace: str, run_id: str) -> Answer:
        asked.append((flow, namespace, run_id))
        return Answer(False, ["accuracy 0.8 < 0.9"])

    (verdict,) = gate_verdicts(config, "br-x", _smoke(), gate=gate)
    assert (verdict.status, verdict.reasons, asked) == ("fail", ("accuracy 0.8 < 0.9",), [("TrainFlow", "br-x", "r1")])
    (verdict,) = gate_verdicts(config, "br-x", None, gate=gate)
    assert verdict.status == "unavailable" and "no smoke run" in verdict.reasons[0]
    (verdict,) = gate_verdicts(config, "br-x", _smoke("FAILED"), gate=gate)
    assert verdict.reasons == ("the smoke run ended FAILED",)
    assert gate_verdicts(Config(tmp_path, {}), "br-x", _smoke(), gate=gate) == ()

    def no_champion(cfg: Config, flow: str, **_: str) -> Answer:
        raise BranchlineError("model m has no champion yet")

    (verdict,) = gate_verdicts(config, "br-x", _smoke(), gate=no_champion)
    assert (verdict.status, verdict.reasons) == ("unavailable", ("model m has no champion yet",))

    def broken(cfg: Config, flow: str, **_: str) -> Answer:
        raise RuntimeError("mlflow said 500")

    (verdict,) = gate_verdicts(config, "br-x", _smoke(), gate=broken)
    assert verdict.reasons == ("the gate failed: RuntimeError: mlflow said 500",)


def test_a_failed_or_unfinished_smoke_run_fails_the_job() -> None:
    assert smoke_failure(_smoke(), 10) is None
    assert "ended FAILED" in str(smoke_failure(_smoke("FAILED"), 10))
    assert "still RUNNING after 10 s" in str(smoke_failure(_smoke("RUNNING"), 10))
