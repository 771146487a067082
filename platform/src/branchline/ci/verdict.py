"""The PR comment's gate line: the gate's dry-run verdict on a PR's smoke run, against production's champion.

`branchline.gate.dry_run_verdict` reads the candidate run and the champion and moves no alias. When there is
nothing to judge (no smoke run, no gate configured for the flow) the PR comment says so instead of guessing. A
gate error (no champion yet, MLflow down) is reported, never fatal: the verdict is advice on a pull request;
production decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from branchline.ci.report import MetricLine, SmokeOutcome, VerdictLine
from branchline.config import Config
from branchline.errors import BranchlineError
from branchline.gate import dry_run_verdict
from branchline.tracking.links import model_version_url

DryRun = Callable[..., Any]
"""(config, flow, *, namespace, run_id) -> an answer with `passed: bool` and `reasons: list[str]`"""


def gated_flows(config: Config) -> list[str]:
    """Flows with a `[tool.branchline.gates.<Flow>]` table."""
    gates = config.get("gates") or {}
    return sorted(gates) if isinstance(gates, dict) else []


def gate_verdicts(config: Config, namespace: str, smoke: SmokeOutcome | None,
                  gate: DryRun = dry_run_verdict) -> tuple[VerdictLine, ...]:
    """One verdict line per gated flow, from `gate` (the gate's dry run; tests pass their own answers)."""
    verdicts = []
    for flow in gated_flows(config):
        if smoke is None or smoke.flow != flow:
            verdicts.append(VerdictLine(flow, "unavailable",
                                        ("no smoke run of this flow to judge (run with --smoke)",)))
        elif smoke.status != "SUCCEEDED":
            verdicts.append(VerdictLine(flow, "unavailable", (f"the smoke run ended {smoke.status}",)))
        else:
            verdicts.append(_ask(gate, config, flow, namespace, smoke.run_id))
    return tuple(verdicts)


def _ask(gate: DryRun, config: Config, flow: str, namespace: str, run_id: str) -> VerdictLine:
    try:
        answer = gate(config, flow, namespace=namespace, run_id=run_id)
    except BranchlineError as exc:
        return VerdictLine(flow, "unavailable", (exc.message,))
    except Exception as exc:  # advice on a PR must not fail the deploy it reports on; the reason is shown
        return VerdictLine(flow, "unavailable", (f"the gate failed: {type(exc).__name__}: {exc}",))
    reasons = tuple(str(r) for r in (getattr(answer, "reasons", None) or ()))
    status = "pass" if getattr(answer, "passed", False) else "fail"
    return judged_line(flow, status, reasons, getattr(answer, "report", None), config.tracking_uri)


def judged_line(flow: str, status: str, reasons: tuple[str, ...], report: dict[str, Any] | None,
                tracking_uri: str | None = None) -> VerdictLine:
    """The verdict with what the gate judged, from its report (pure): the thresholds' metrics of the candidate
    next to the champion's, the candidate's model version and its checks."""
    if not isinstance(report, dict):
        return VerdictLine(flow, status, reasons)
    candidate, champion = report.get("candidate") or {}, report.get("champion") or {}
    thresholds = (report.get("policy") or {}).get("thresholds") or {}
    mine, theirs = candidate.get("metrics") or {}, champion.get("metrics") or {}
    metrics = tuple(
        MetricLine(name, _float(mine.get(name)), _float(theirs.get(name)), _direction(str(rule)))
        for name, rule in sorted(thresholds.items())
    )
    checks = tuple((suite, bool(c.get("success")), int(c.get("failed") or 0))
                   for suite, c in sorted((candidate.get("checks") or {}).items()))
    model, version = candidate.get("model"), candidate.get("version")
    return VerdictLine(
        flow, status, reasons, metrics=metrics, model=model, version=str(version) if version else None,
        champion_version=str(champion["version"]) if champion.get("version") else None, checks=checks,
        model_url=model_version_url(tracking_uri, model, str(version)) if model and version else None,
    )


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _direction(rule: str) -> bool | None:
    """`>= 0.9` means higher is better, `<= 0.1` lower; `==` has no direction."""
    op = rule.strip()[:2]
    if op.startswith(">"):
        return True
    if op.startswith("<"):
        return False
    return None
