"""The PR comment's gate line: the gate's dry-run verdict on a PR's smoke run, against production's champion.

`branchline.gate.dry_run_verdict` reads the candidate run and the champion and moves no alias. When there is
nothing to judge (no smoke run, no gate configured for the flow) the PR comment says so instead of guessing. A
gate error (no champion yet, MLflow down) is reported, never fatal: the verdict is advice on a pull request;
production decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from branchline.ci.report import SmokeOutcome, VerdictLine
from branchline.config import Config
from branchline.errors import BranchlineError
from branchline.gate import dry_run_verdict

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
    return VerdictLine(flow, "pass" if getattr(answer, "passed", False) else "fail", reasons)
