"""The seam to the promotion gate: its dry-run verdict on a PR's smoke run, against production's champion.

The gate (`branchline.gate`) is written separately. This module expects it to offer

    dry_run_verdict(config, flow, *, namespace, run_id) -> an object with `passed: bool` and
                                                            `reasons: list[str]`

(a dry run: it reads the candidate run and the champion, moves no alias; the gate provides it). When
the gate is missing from an install, or there is nothing to judge (no smoke run, no gate configured
for the flow), the PR comment says so instead of guessing. A gate error (no champion yet, MLflow
down) is reported, never fatal: the verdict is advice on a pull request; production decides.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from branchline.ci.report import SmokeOutcome, Verdict
from branchline.config import Config
from branchline.errors import BranchlineError

GATE_MODULE = "branchline.gate"
GATE_FUNCTION = "dry_run_verdict"


def gated_flows(config: Config) -> list[str]:
    """Flows with a `[tool.branchline.gates.<Flow>]` table."""
    gates = config.get("gates") or {}
    return sorted(gates) if isinstance(gates, dict) else []


def find_gate() -> Callable[..., Any] | None:
    """The gate's dry-run function, or None while the gate does not provide one."""
    try:
        module = importlib.import_module(GATE_MODULE)
    except ImportError:
        return None
    found = getattr(module, GATE_FUNCTION, None)
    return found if callable(found) else None


def gate_verdicts(config: Config, namespace: str, smoke: SmokeOutcome | None,
                  gate: Callable[..., Any] | None = None) -> tuple[Verdict, ...]:
    """One verdict per gated flow; `gate` defaults to `find_gate()` (a parameter for the tests)."""
    flows = gated_flows(config)
    if not flows:
        return ()
    gate = gate or find_gate()
    verdicts = []
    for flow in flows:
        if smoke is None or smoke.flow != flow:
            verdicts.append(Verdict(flow, "unavailable", ("no smoke run of this flow to judge (run with --smoke)",)))
        elif smoke.status != "SUCCEEDED":
            verdicts.append(Verdict(flow, "unavailable", (f"the smoke run ended {smoke.status}",)))
        elif gate is None:
            verdicts.append(Verdict(flow, "unavailable", (f"the gate offers no {GATE_MODULE}.{GATE_FUNCTION} yet",)))
        else:
            verdicts.append(_ask(gate, config, flow, namespace, smoke.run_id))
    return tuple(verdicts)


def _ask(gate: Callable[..., Any], config: Config, flow: str, namespace: str, run_id: str) -> Verdict:
    try:
        answer = gate(config, flow, namespace=namespace, run_id=run_id)
    except BranchlineError as exc:
        return Verdict(flow, "unavailable", (exc.message,))
    except Exception as exc:  # advice on a PR must not fail the deploy it reports on; the reason is shown
        return Verdict(flow, "unavailable", (f"the gate failed: {type(exc).__name__}: {exc}",))
    reasons = tuple(str(r) for r in (getattr(answer, "reasons", None) or ()))
    return Verdict(flow, "pass" if getattr(answer, "passed", False) else "fail", reasons)
