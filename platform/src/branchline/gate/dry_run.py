"""The gate's verdict for a pull request's comment (`branchline.ci.verdict`): a dry run on the branch's smoke
run, judged against production's champion, that moves and tags nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from branchline.config import Config
from branchline.gate.promote import run_gate


@dataclass(frozen=True)
class DryRunVerdict:
    passed: bool
    reasons: list[str]
    report: dict[str, Any]


def dry_run_verdict(config: Config, flow: str, *, namespace: str, run_id: str) -> DryRunVerdict:
    """The gate's dry run on a branch's smoke run, against production's champion; moves and tags nothing."""
    outcome = run_gate(flow=flow, run_id=run_id, dry_run=True, namespace=namespace, config=config)
    shown = outcome.verdict.failed if not outcome.passed else list(outcome.verdict.criteria)
    reasons = [f"{c.name}: {c.detail}" for c in shown] + list(outcome.verdict.notes)
    return DryRunVerdict(outcome.passed, reasons, outcome.report)
