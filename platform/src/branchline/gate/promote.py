"""The gate at the edges: read the evidence from MLflow, decide, move `champion` (or not), write the report.

Fails closed: MLflow unreachable, a run or version that cannot be found, or a missing check result all
end without moving anything. Only runs of the production namespace may move the alias; anywhere else the
gate runs as a dry run (pull-request comments), which reads and reports but never tags or moves.

This module is the orchestration; its parts live beside it: the pure rules (`rules.py`), which versions are
compared (`versions.py`), the registry writes and rollback (`registry_actions.py`), the flow's `end` step
(`in_flow.py`) and the pull request's verdict (`dry_run.py`). The names that moved out of this module stay
importable from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from branchline.aws.session import client as aws_client
from branchline.config import Config, load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import storage_from_url
from branchline.gate.decision import Verdict, decide
from branchline.gate.policy import gate_flow, load_policy
from branchline.gate.provenance import VersionEvidence
from branchline.gate.registry_actions import RollbackOutcome, act, rollback
from branchline.gate.report import REPORT_JSON, REPORT_MD, build_report, print_report, to_json, to_markdown
from branchline.gate.rules import (
    GateFailed,
    GateRefused,
    action_text,
    crosscheck_criterion,
    effective_namespace,
    refuse_outside_production,
    refuse_remote_local_promotion,
)
from branchline.gate.versions import find_candidate, find_champion
from branchline.runtime.run_info import local_namespace
from branchline.tracking.connect import TrackingSession, connect
from branchline.tracking.evidence import read_flow_evidence

__all__ = [  # run_gate and its outcome, and the names that lived here before the split
    "GateFailed",
    "GateOutcome",
    "GateRefused",
    "RollbackOutcome",
    "action_text",
    "crosscheck_criterion",
    "effective_namespace",
    "refuse_outside_production",
    "refuse_remote_local_promotion",
    "rollback",
    "run_gate",
]


@dataclass(frozen=True)
class GateOutcome:
    verdict: Verdict
    promoted: bool
    dry_run: bool
    namespace: str | None
    candidate: VersionEvidence
    champion: VersionEvidence | None
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def as_dict(self) -> dict[str, Any]:
        return self.report


def run_gate(
    *,
    flow: str | None = None,
    run_id: str | None = None,
    version: str | int | None = None,
    model: str | None = None,
    dry_run: bool = False,
    namespace: str | None = None,
    config: Config | None = None,
    flow_run_mlflow_id: str | None = None,
    console: Console | None = None,
    datastore: FlowDatastore | None = None,
    local: bool = False,
) -> GateOutcome:
    """Evaluate the gate for a candidate (a flow run, a version, or the latest version) and act on it.

    `local`: the same decision on this machine's own store (never a server), for the user's own namespace:
    the candidate is judged against, and on pass becomes, the `champion` of the model that namespace
    registers (`<model>-dev`), so a newcomer sees the whole promotion on a laptop."""
    config = config or load_config()
    policy = load_policy(config, gate_flow(config, flow), model)
    if local:
        refuse_remote_local_promotion(config.tracking_uri)
        namespace = namespace or local_namespace()
    session = connect(config.tracking_uri)
    candidate = find_candidate(
        session, config, policy, run_id=run_id, version=version, namespace=namespace,
        flow_run_mlflow_id=flow_run_mlflow_id,
    )  # fmt: skip
    ns = effective_namespace(str(candidate.namespace), namespace)
    if not dry_run and not local:
        refuse_outside_production(ns, f"promote {policy.model} v{candidate.version}")
    alias_model = candidate.model if local else policy.model
    champion, champion_note = find_champion(session, config, policy, candidate, alias_model)
    s3 = lambda: aws_client("s3")  # noqa: E731  (made only for an s3:// datastore)
    store = datastore or FlowDatastore(storage_from_url(config.datastore_url, s3_client=s3), ns)
    records = read_flow_evidence(store, policy.flow, str(candidate.branchline_run_id))
    where = f"{store.storage.url.rstrip('/')}/{store.run_key(policy.flow, str(candidate.branchline_run_id))}"
    crosscheck = crosscheck_criterion(candidate, records, where)
    verdict = decide(
        metrics=candidate.metrics,
        checks=candidate.checks,
        required_checks=policy.required_checks,
        thresholds={t.metric: t for t in policy.thresholds},
        tolerance=policy.tolerance,
        champion=champion.metrics if champion else ({} if champion_note else None),
        champion_label=f"champion v{champion.version}" if champion else "champion",
        baseline_optional=policy.baseline_optional,
        extra=(crosscheck,) if crosscheck else (),
    )
    notes = [*verdict.notes, *([champion_note] if champion_note else [])]
    if candidate.ignored:
        notes.append(
            f"ignored {len(candidate.ignored)} run(s) nested under the flow run that are not its own: "
            + "; ".join(f"{r.name} ({r.run_id}): {r.reason}" for r in candidate.ignored[:10])
        )
    if crosscheck is None:
        notes.append("no datastore evidence of this run to cross-check (required in production)")
    if champion is not None and champion.version == candidate.version:
        notes.append("candidate is already the champion")
    verdict = Verdict(verdict.passed, verdict.criteria, verdict.summary, tuple(notes))
    label = f"v{candidate.version}" if candidate.model == alias_model else f"{candidate.model} v{candidate.version}"
    action = action_text(verdict, dry_run=dry_run, candidate=label, champion=champion and champion.version)
    report = build_report(
        verdict=verdict.as_dict(),
        policy=policy.as_dict(),
        candidate=candidate.as_dict(),
        champion=champion.as_dict() if champion else None,
        namespace=ns,
        dry_run=dry_run,
        action=action,
    )
    promoted = False
    if not dry_run:
        promoted = act(session, alias_model, verdict, candidate, champion)
    _log_report(session, candidate, report)
    if console is not None:
        print_report(console, report)
    return GateOutcome(verdict, promoted, dry_run, ns, candidate, champion, report)


def _log_report(session: TrackingSession, candidate: VersionEvidence, report: dict[str, Any]) -> None:
    """`gate/report.md|json` on the flow's run (the model's run when it has no flow run)."""
    target = candidate.flow_run_id or candidate.run_id
    if not target:
        return
    session.call("log the gate report", session.client.log_text, target, to_markdown(report), REPORT_MD)
    session.call("log the gate report", session.client.log_text, target, to_json(report), REPORT_JSON)
