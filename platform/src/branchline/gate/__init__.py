"""The promotion gate: checks + thresholds + no regression vs the champion decide whether `champion` moves.

`decide(...)` is the pure decision; `run_gate(...)` reads MLflow and acts; `evaluate_in_flow()` is what
a flow's `end` step calls (promotes in `prod`, dry-runs elsewhere); `rollback()` restores the previous
champion. MLflow is imported only when the gate runs.
"""

from branchline.gate.decision import CheckOutcome, Criterion, Threshold, Verdict, decide
from branchline.gate.dry_run import DryRunVerdict, dry_run_verdict
from branchline.gate.in_flow import evaluate_in_flow
from branchline.gate.promote import GateOutcome, run_gate
from branchline.gate.registry_actions import rollback
from branchline.gate.rules import GateRefused

__all__ = [
    "CheckOutcome",
    "Criterion",
    "DryRunVerdict",
    "GateOutcome",
    "GateRefused",
    "Threshold",
    "Verdict",
    "decide",
    "dry_run_verdict",
    "evaluate_in_flow",
    "rollback",
    "run_gate",
]
