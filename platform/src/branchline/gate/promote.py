"""The gate at the edges: read the evidence from MLflow, decide, move `champion` (or not), write the report.

Fails closed: MLflow unreachable, a run or version that cannot be found, or a missing check result all
end without moving anything. Only runs of the production namespace may move the alias; anywhere else the
gate runs as a dry run (pull-request comments), which reads and reports but never tags or moves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from branchline.authoring.current import current
from branchline.aws.session import client as aws_client
from branchline.config import Config, load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import storage_from_url
from branchline.errors import BranchlineError
from branchline.gate import evidence as ev
from branchline.gate.decision import Criterion, Verdict, decide
from branchline.gate.policy import CHAMPION_ALIAS, GatePolicy, gate_flow, load_policy
from branchline.gate.provenance import (
    EvidenceError,
    NoCandidateError,
    ProvenanceError,
    VersionEvidence,
    differences,
)
from branchline.gate.report import REPORT_JSON, REPORT_MD, build_report, print_report, to_json, to_markdown
from branchline.namespaces import PRODUCTION_NAMESPACE, is_user_namespace
from branchline.namespaces.mlflow_tags import (
    GATE_SUMMARY_TAG,
    GATE_VERDICT_TAG,
    PARENT_RUN_TAG,
    PREVIOUS_CHAMPION_TAG,
    ROLLED_BACK_FROM_TAG,
)
from branchline.namespaces.names import registered_model_name
from branchline.runtime.run_info import local_namespace
from branchline.tracking.connect import TrackingSession, connect, is_http
from branchline.tracking.evidence import read_flow_evidence
from branchline.tracking.models import how_to_ask


class GateRefused(BranchlineError):
    """The gate will not move `champion` from here (not production, conflicting namespace...)."""


class GateFailed(BranchlineError):
    """The candidate did not pass the gate (exit code 1 of `branchline promote`)."""


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


@dataclass(frozen=True)
class NothingToJudge:
    """A run in a person's own namespace that registered no model: no verdict, and not a failure."""

    namespace: str
    reason: str
    promoted: bool = False
    dry_run: bool = True

    @property
    def message(self) -> str:
        return f"gate: nothing to judge: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"passed": None, "action": self.message, "dry_run": True, "namespace": self.namespace}


@dataclass(frozen=True)
class RollbackOutcome:
    model: str
    from_version: str
    to_version: str


# ----- pure rules
def effective_namespace(recorded: str, requested: str | None) -> str:
    """The namespace the candidate's flow run recorded; an explicit, different `--namespace` is a mistake.

    Never the caller's environment: a version is promoted because of where it came from, not because of
    where the command runs.
    """
    if requested and requested != recorded:
        raise GateRefused(
            f"the candidate was produced in namespace {recorded}, not {requested}",
            hint="drop --namespace, or pick a run/version of that namespace",
        )
    return recorded


def crosscheck_criterion(
    candidate: VersionEvidence, records: list[dict[str, Any]], where: str
) -> Criterion | None:
    """Does MLflow agree with what the flow's own tasks wrote into their datastore prefix? (pure)

    Production's promotion needs those records; elsewhere, with none to compare, there is no criterion.
    """
    name = "evidence matches the datastore"
    if not records:
        if candidate.namespace != PRODUCTION_NAMESPACE:
            return None
        return Criterion(
            name,
            False,
            f"the flow run wrote no evidence under {where}: MLflow's account cannot be confirmed "
            "(promote from the production flow run, with its datastore)",
        )
    found = differences(candidate, records)
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        return Criterion(name, False, f"MLflow differs from {where}: {shown}")
    return Criterion(name, True, f"MLflow agrees with {len(records)} task record(s) under {where}")


def refuse_outside_production(namespace: str | None, what: str) -> None:
    if namespace != PRODUCTION_NAMESPACE:
        raise GateRefused(
            f"refusing to {what} in namespace {namespace or '(unknown)'}: only {PRODUCTION_NAMESPACE} moves "
            f"the {CHAMPION_ALIAS} alias",
            hint="use --dry-run to evaluate the gate here; promotion happens in the production run after merge",
        )


def refuse_remote_local_promotion(tracking_uri: str) -> None:
    """`--local` moves `champion` in this machine's own MLflow store only: on a shared server the alias of
    every name belongs to production's release, whatever the caller's identity may be allowed to write."""
    if is_http(tracking_uri):
        raise GateRefused(
            f"--local promotes in this machine's MLflow store, and this project tracks to {tracking_uri}",
            hint="on a shared server only production's release moves champion; use --dry-run to see the verdict",
        )


def action_text(verdict: Verdict, *, dry_run: bool, candidate: str, champion: str | None) -> str:
    """One line saying what happened; `candidate` is `v3`, or `<model> v3` for another model than the champion's."""
    was = f"v{champion}" if champion else "none"
    if dry_run:
        return (
            f"dry run: would promote {candidate} to {CHAMPION_ALIAS} (now {was})"
            if verdict.passed
            else f"dry run: would not promote; {CHAMPION_ALIAS} stays {was}"
        )
    if verdict.passed:
        return f"promoted {candidate} to {CHAMPION_ALIAS} (was {was})"
    return f"not promoted; {CHAMPION_ALIAS} stays {was}"


# ----- the gate
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
    candidate = _candidate(
        session, config, policy, run_id=run_id, version=version, namespace=namespace,
        flow_run_mlflow_id=flow_run_mlflow_id,
    )  # fmt: skip
    ns = effective_namespace(str(candidate.namespace), namespace)
    if not dry_run and not local:
        refuse_outside_production(ns, f"promote {policy.model} v{candidate.version}")
    alias_model = candidate.model if local else policy.model
    champion, champion_note = _champion(session, config, policy, candidate, alias_model)
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
        promoted = _act(session, alias_model, verdict, candidate, champion)
    _log_report(session, candidate, report)
    if console is not None:
        print_report(console, report)
    return GateOutcome(verdict, promoted, dry_run, ns, candidate, champion, report)


def _candidate(
    session: TrackingSession,
    config: Config,
    policy: GatePolicy,
    *,
    run_id: str | None,
    version: str | int | None,
    namespace: str | None,
    flow_run_mlflow_id: str | None,
) -> VersionEvidence:
    """The version to judge, traced to the flow run that logged it (or a refusal saying why it cannot be)."""
    trace = {"project": config.project, "flow": policy.flow, "model": policy.model}
    if run_id and version is not None:
        raise GateRefused("give --run-id or --version, not both")
    model = registered_model_name(policy.model, namespace) if namespace else policy.model
    if version is not None:
        return ev.evidence(session, ev.get_version(session, model, str(version)), **trace)
    if run_id or flow_run_mlflow_id:
        if flow_run_mlflow_id:
            flow_run = ev.get_run(session, flow_run_mlflow_id)
            if flow_run is None:
                raise EvidenceError(f"MLflow run {flow_run_mlflow_id} of this flow does not exist on {session.uri}")
        else:
            assert run_id is not None
            flow_run = ev.find_flow_run(
                session, project=config.project, flow=policy.flow, run_id=run_id, namespace=namespace
            )
        tree = ev.flow_tree(session, flow_run, project=config.project, flow=policy.flow)
        mv = ev.candidate_in_tree(session, policy.model, tree, policy.flow)
        return ev.evidence(session, mv, tree=tree, **trace)
    mv = ev.latest_version(session, model, namespace)
    if mv is None:
        where = f" from namespace {namespace}" if namespace else ""
        hint = "run the flow first, or pass --run-id / --version / --model"
        if is_user_namespace(namespace):  # a laptop's runs register only when asked
            hint = f"register one: {how_to_ask(config)}; then run this again"
        raise EvidenceError(f"model {model} has no version{where} on {session.uri}", hint=hint)
    return ev.evidence(session, mv, **trace)


def _champion(
    session: TrackingSession, config: Config, policy: GatePolicy, candidate: VersionEvidence, model: str
) -> tuple[VersionEvidence | None, str | None]:
    """The champion of `model` (production's, or the local store's `-dev` one for `--local`), traced like a
    candidate; (None, why) when its evidence cannot be trusted."""
    mv = ev.champion_version(session, model, CHAMPION_ALIAS)
    if mv is None:
        return None, None
    if str(mv.version) == candidate.version and mv.name == candidate.model:
        return candidate, None
    try:
        return ev.evidence(session, mv, project=config.project, flow=policy.flow, model=policy.model), None
    except ProvenanceError as exc:
        return None, f"the champion (v{mv.version}) cannot be traced, so it gives no baseline: {exc.message}"


def _act(
    session: TrackingSession,
    model: str,
    verdict: Verdict,
    candidate: VersionEvidence,
    champion: VersionEvidence | None,
) -> bool:
    """Tag the version; on pass move the alias and record the previous champion. Tags first: a half-done
    promotion never leaves the alias on an unmarked version."""
    version, client = candidate.version, session.client
    tag = client.set_model_version_tag
    verdict_value = "passed" if verdict.passed else "failed"
    session.call("tag the model version", tag, model, version, GATE_VERDICT_TAG, verdict_value)
    session.call("tag the model version", tag, model, version, GATE_SUMMARY_TAG, verdict.summary[:5000])
    if not verdict.passed:
        return False
    previous = champion.version if champion is not None and champion.version != version else None
    if previous:
        session.call("tag the model version", tag, model, version, PREVIOUS_CHAMPION_TAG, previous)
    session.call(f"move {model}@{CHAMPION_ALIAS}", client.set_registered_model_alias, model, CHAMPION_ALIAS, version)
    if previous:
        session.call("tag the registered model", client.set_registered_model_tag, model, PREVIOUS_CHAMPION_TAG,
                     previous)  # fmt: skip
    return True


def _log_report(session: TrackingSession, candidate: VersionEvidence, report: dict[str, Any]) -> None:
    """`gate/report.md|json` on the flow's run (the model's run when it has no flow run)."""
    target = candidate.flow_run_id or candidate.run_id
    if not target:
        return
    session.call("log the gate report", session.client.log_text, target, to_markdown(report), REPORT_MD)
    session.call("log the gate report", session.client.log_text, target, to_json(report), REPORT_JSON)


# ----- rollback
def rollback(
    *,
    flow: str | None = None,
    model: str | None = None,
    namespace: str | None = None,
    config: Config | None = None,
) -> RollbackOutcome:
    """Move `champion` back to the version it replaced (recorded on the current champion by the gate)."""
    config = config or load_config()
    if model is None:
        model = load_policy(config, gate_flow(config, flow)).model
    ns = namespace or os.environ.get("BRANCHLINE_NAMESPACE") or None
    refuse_outside_production(ns, f"roll back {model}@{CHAMPION_ALIAS}")
    session = connect(config.tracking_uri)
    client = session.client
    champion = ev.champion_version(session, model, CHAMPION_ALIAS)
    if champion is None:
        raise GateRefused(f"model {model} has no {CHAMPION_ALIAS} on {session.uri}: nothing to roll back")
    previous = (champion.tags or {}).get(PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise GateRefused(
            f"{model}@{CHAMPION_ALIAS} (v{champion.version}) records no previous champion: nothing to roll back to",
            hint=f"it was the first champion; to choose a version by hand: set alias {CHAMPION_ALIAS} in MLflow",
        )
    target = ev.get_version(session, model, previous)
    session.call(f"move {model}@{CHAMPION_ALIAS}", client.set_registered_model_alias, model, CHAMPION_ALIAS, previous)
    session.call("tag the model version", client.set_model_version_tag, model, str(champion.version), GATE_VERDICT_TAG,
                 "rolled_back")  # fmt: skip
    session.call("tag the registered model", client.set_registered_model_tag, model, ROLLED_BACK_FROM_TAG,
                 str(champion.version))  # fmt: skip
    before = (target.tags or {}).get(PREVIOUS_CHAMPION_TAG)
    if before:
        session.call("tag the registered model", client.set_registered_model_tag, model, PREVIOUS_CHAMPION_TAG, before)
    else:
        session.call("tag the registered model", client.delete_registered_model_tag, model, PREVIOUS_CHAMPION_TAG)
    return RollbackOutcome(model=model, from_version=str(champion.version), to_version=str(previous))


# ----- inside a flow
def evaluate_in_flow(
    flow: str | None = None,
    *,
    model: str | None = None,
    raise_on_failure: bool = False,
    console: Console | None = None,
) -> GateOutcome | NothingToJudge:
    """For a flow's `end` step: judge this run's model; promote in `prod`, dry-run anywhere else.

    Returns the outcome (store `outcome.as_dict()` as an artifact); a failed verdict raises only with
    `raise_on_failure=True`. A missing tracking run or unreachable MLflow raises (the gate fails closed),
    and so does a missing candidate in a branch namespace or `prod`; in a person's own namespace, whose
    runs register only when asked, a run without a version is `NothingToJudge` (one line, no failure).
    """
    if not current.is_running_flow:
        raise GateRefused("evaluate_in_flow() runs inside a flow step", hint="use `branchline promote` outside flows")
    import mlflow  # opens this task's tracking run (see branchline.tracking.task_run)

    active = mlflow.active_run()
    if active is None:
        raise GateRefused(
            "the gate needs this run to be tracked in MLflow, and it is not",
            hint="enable tracking (unset BRANCHLINE_TRACKING=0) so the flow's metrics and checks are recorded",
        )
    flow_run = active.data.tags.get(PARENT_RUN_TAG) or active.info.run_id
    namespace = current.namespace
    if console is None:
        console = Console(highlight=False)  # the report goes to the task's log
    config = load_config()
    try:
        outcome = run_gate(
            flow=flow or current.flow_name,
            model=model,
            dry_run=namespace != PRODUCTION_NAMESPACE,
            namespace=namespace,
            config=config,
            flow_run_mlflow_id=flow_run,
            console=console,
        )
    except NoCandidateError:
        if not is_user_namespace(namespace):
            raise
        nothing = NothingToJudge(str(namespace), _unregistered_reason(config))
        console.print(nothing.message, markup=False, soft_wrap=True)
        return nothing
    if raise_on_failure and not outcome.passed:
        raise GateFailed(f"promotion gate failed: {outcome.verdict.summary}")
    return outcome


def _unregistered_reason(config: Config) -> str:
    if config.register_local_models:
        return "this run registered no model (call branchline.tracking.models.register_model in a step)"
    return f"this run registered no model (a local run registers only when asked: {how_to_ask(config)})"


# ----- for the pull-request comment (branchline.ci.verdict)
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
