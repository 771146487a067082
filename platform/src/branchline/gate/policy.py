"""`[tool.branchline.gates.<Flow>]`: which model, which thresholds, what tolerance, which checks, and
whether a champion without a metric may be passed over (`baseline`, "required" unless said otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from branchline.config import Config
from branchline.gate.decision import GateConfigError, Threshold, parse_thresholds, tolerance_for
from branchline.tracking.models import default_model_name

CHAMPION_ALIAS = "champion"


@dataclass(frozen=True)
class GatePolicy:
    flow: str
    model: str
    thresholds: tuple[Threshold, ...]
    tolerance: float | Mapping[str, float]
    required_checks: tuple[str, ...]
    baseline_optional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "model": self.model,
            "thresholds": {t.metric: f"{t.op} {t.value:g}" for t in self.thresholds},
            "tolerance": dict(self.tolerance) if isinstance(self.tolerance, Mapping) else self.tolerance,
            "required_checks": list(self.required_checks),
            "baseline": "optional" if self.baseline_optional else "required",
        }


def gate_flow(config: Config, flow: str | None) -> str:
    """The flow whose gate applies: the one named, or the only one configured."""
    gates = config.section("gates")
    if flow:
        return flow
    if len(gates) == 1:
        return next(iter(gates))
    names = ", ".join(sorted(gates)) or "none"
    raise GateConfigError(
        f"which flow's gate? [tool.branchline.gates] configures: {names}",
        hint="pass --flow NAME" if gates else "add [tool.branchline.gates.<Flow>] to pyproject.toml",
    )


def load_policy(config: Config, flow: str, model: str | None = None) -> GatePolicy:
    """The gate of `flow`, validated: a malformed setting is an error here, before any MLflow call."""
    section = config.get(f"gates.{flow}")
    if not isinstance(section, dict):
        raise GateConfigError(
            f"no gate configured for flow {flow} in {config.source or config.root / 'pyproject.toml'}",
            hint=f'add [tool.branchline.gates.{flow}] with thresholds = {{ accuracy = ">= 0.9" }} and '
            "required_checks = [...]",
        )
    thresholds = parse_thresholds(section.get("thresholds") or {})
    tolerance = section.get("tolerance", 0.0)
    for t in thresholds:
        tolerance_for(tolerance, t.metric)  # validate now
    required = section.get("required_checks") or []
    if not isinstance(required, list) or not all(isinstance(c, str) for c in required):
        raise GateConfigError(f"gates.{flow}.required_checks must be a list of suite names, not {required!r}")
    if not thresholds and not required:
        raise GateConfigError(
            f"the gate of {flow} has no thresholds and no required_checks: it could never judge a model",
            hint=f"set thresholds and/or required_checks under [tool.branchline.gates.{flow}]",
        )
    baseline = section.get("baseline", "required")
    if baseline not in ("required", "optional"):
        raise GateConfigError(
            f"gates.{flow}.baseline is {baseline!r}: expected \"required\" or \"optional\"",
            hint='"required" (the default) fails a candidate when the champion lacks a threshold metric; '
            '"optional" compares only what the champion recorded',
        )
    name = model or default_model_name(config.project, flow, config)
    return GatePolicy(flow, name, thresholds, tolerance, tuple(required), baseline == "optional")
