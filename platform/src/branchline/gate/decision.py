"""The promotion decision, as a pure function: evidence in, a Verdict out (no MLflow, no I/O).

A candidate passes when every required data check of its run passed (a missing result fails: the gate
fails closed), every threshold holds, and no threshold metric fell behind the champion's by more than
the tolerance. The threshold's operator gives the direction: `>=`/`>` higher is better, `<=`/`<` lower
is better, `==` has none (no regression test). With no champion the thresholds alone decide.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from branchline.errors import ConfigError

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
EPSILON = 1e-9  # float noise when comparing a difference with the tolerance


class GateConfigError(ConfigError):
    """A gate setting that cannot be understood (threshold syntax, tolerance)."""


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, metric: str, text: Any) -> Threshold:
        match = _THRESHOLD.match(str(text))
        if not match:
            raise GateConfigError(
                f"threshold for {metric!r} is {text!r}: expected an operator and a number",
                hint='write e.g. accuracy = ">= 0.90" (operators: >= > <= < ==)',
            )
        return cls(metric=metric, op=match.group(1), value=float(match.group(2)))

    @property
    def higher_is_better(self) -> bool | None:
        """True for `>=`/`>`, False for `<=`/`<`, None for `==` (no direction, no regression test)."""
        return {">=": True, ">": True, "<=": False, "<": False}.get(self.op)

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {_num(self.value)}"


@dataclass(frozen=True)
class CheckOutcome:
    """A data check as recorded on the flow's runs: passed only if every run that ran it passed."""

    suite: str
    success: bool
    failed: int = 0
    runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Criterion:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    criteria: tuple[Criterion, ...]
    summary: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "summary": self.summary,
            "criteria": [c.as_dict() for c in self.criteria],
            "notes": list(self.notes),
        }


def parse_thresholds(thresholds: Mapping[str, Any]) -> tuple[Threshold, ...]:
    if not isinstance(thresholds, Mapping):
        raise GateConfigError('gate thresholds must be a table of metric = "<op> <number>"')
    return tuple(t if isinstance(t, Threshold) else Threshold.parse(str(m), t) for m, t in thresholds.items())


def tolerance_for(tolerance: float | Mapping[str, float] | None, metric: str) -> float:
    """The allowed drop for `metric`: one number for all, or a table per metric (absent: 0)."""
    value: Any = tolerance.get(metric, 0.0) if isinstance(tolerance, Mapping) else (tolerance or 0.0)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise GateConfigError(f"gate tolerance for {metric!r} is {value!r}: expected a number") from None
    if not math.isfinite(number) or number < 0:
        # inf would let any regression through; nan compares false with everything
        raise GateConfigError(
            f"gate tolerance for {metric!r} is {value!r}: it must be a finite number >= 0",
            hint="e.g. tolerance = 0.02, or a table: tolerance = { accuracy = 0.01 }",
        )
    return number


def decide(
    *,
    metrics: Mapping[str, float],
    checks: Mapping[str, CheckOutcome | bool],
    required_checks: list[str] | tuple[str, ...],
    thresholds: Mapping[str, Any],
    tolerance: float | Mapping[str, float] | None = 0.0,
    champion: Mapping[str, float] | None = None,
    champion_label: str = "champion",
    baseline_optional: bool = False,
    extra: tuple[Criterion, ...] = (),
) -> Verdict:
    """Every criterion with its numbers, and whether all of them hold.

    `extra` criteria come first (the provenance cross-check judged at the edges).

    A champion whose metric is missing or not finite cannot be compared with: the regression criterion
    fails (fail closed), unless the policy said `baseline = "optional"`.
    """
    parsed = parse_thresholds(thresholds)
    criteria = [*extra, *(_check_criterion(name, checks.get(name)) for name in required_checks)]
    criteria += [_threshold_criterion(t, metrics.get(t.metric)) for t in parsed]
    notes: list[str] = []
    if champion is None:
        notes.append("no champion yet: the first model is judged on its checks and thresholds alone")
    else:
        for t in parsed:
            if not _is_number(metrics.get(t.metric)):
                continue  # its threshold criterion already fails
            criterion = _regression_criterion(
                t, metrics.get(t.metric), champion.get(t.metric), tolerance, champion_label, baseline_optional
            )
            if criterion is not None:
                criteria.append(criterion)
            else:
                notes.append(f"{t.metric}: '==' threshold has no better direction, not compared with the champion")
    judged = len(criteria) > len(extra)
    if not judged:
        notes.append("the gate has no required checks and no thresholds: nothing to judge, so nothing passes")
    passed = judged and all(c.passed for c in criteria)
    summary = _summary(passed, criteria) if judged else "failed: the gate has no criteria"
    return Verdict(passed=passed, criteria=tuple(criteria), summary=summary, notes=tuple(notes))


def _check_criterion(name: str, outcome: CheckOutcome | bool | None) -> Criterion:
    label = f"check {name}"
    if outcome is None:
        return Criterion(label, False, "no result recorded for this run (a required check must run and pass)")
    if isinstance(outcome, bool):
        return Criterion(label, outcome, "passed" if outcome else "failed")
    where = f" in {len(outcome.runs)} run(s)" if outcome.runs else ""
    if outcome.success:
        return Criterion(label, True, f"passed{where}")
    return Criterion(label, False, f"failed{where}: {outcome.failed} expectation(s) not met")


def _threshold_criterion(threshold: Threshold, value: float | None) -> Criterion:
    label = str(threshold)
    if not _is_number(value):
        return Criterion(label, False, f"{threshold.metric} was not recorded by the candidate run")
    assert value is not None
    ok = threshold.holds(value)
    return Criterion(label, ok, f"{threshold.metric} = {_num(value)} {'holds' if ok else 'fails'} {label}")


def _regression_criterion(
    threshold: Threshold,
    value: float | None,
    best: float | None,
    tolerance: float | Mapping[str, float] | None,
    champion_label: str,
    baseline_optional: bool = False,
) -> Criterion | None:
    direction = threshold.higher_is_better
    if direction is None:
        return None
    label = f"no regression: {threshold.metric}"
    tol = tolerance_for(tolerance, threshold.metric)
    if not _is_number(best):
        recorded = "no" if best is None else f"a non-finite ({best})"
        if baseline_optional:
            return Criterion(
                label, True, f"{champion_label} has {recorded} {threshold.metric}: not compared (baseline optional)"
            )
        return Criterion(
            label,
            False,
            f"{champion_label} has {recorded} {threshold.metric}: cannot show there is no regression "
            '(set baseline = "optional" in the gate to allow this)',
        )
    assert value is not None and best is not None  # decide() skips a candidate without the metric
    drop = (best - value) if direction else (value - best)
    ok = drop <= tol + EPSILON
    word = "drop" if direction else "rise"
    detail = (
        f"{threshold.metric} = {_num(value)} vs {champion_label} {_num(best)}: "
        f"{word} {_num(max(drop, 0.0))} {'within' if ok else 'exceeds'} tolerance {_num(tol)}"
    )
    return Criterion(label, ok, detail)


def _summary(passed: bool, criteria: list[Criterion]) -> str:
    if not criteria:
        return "failed: the gate has no criteria"
    if passed:
        return f"passed: all {len(criteria)} criteria hold"
    failed = [c for c in criteria if not c.passed]
    return f"failed: {len(failed)} of {len(criteria)} criteria ({'; '.join(c.name for c in failed)})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "nan"
