"""The gate at the edges: read the evidence from MLflow, decide, move `champion` (or not), write the report.

Fails closed: MLflow unreachable, a run or version that cannot be found, or a missing check result all
end without moving anything. Only runs of the production namespace may move the alias; anywhere else the
gate runs as a dry run (pull-request comments), which reads and reports but never tags or moves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from branchline.config import Config, load_config
from branchline.errors import BranchlineError
from branchline.gate import evidence as ev
from branchline.gate.decision import Verdict, decide
from branchline.gate.policy import CHAMPION_ALIAS, GatePolicy, gate_flow, load_policy
from branchline.gate.report import REPORT_JSON, REPORT_MD, build_report, to_json, to_markdown
from branchline.namespaces import PRODUCTION_NAMESPACE
from branchline.tracking.connect import call, connect

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient
    from rich.console import Console

GATE_TAG = "branchline.gate"
SUMMARY_TAG = "branchline.gate.summary"
PREVIOUS_TAG = "branchline.previous_champion"
ROLLED_BACK_FROM_TAG = "branchline.rolled_back_from"


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
    candidate: ev.VersionEvidence
    champion: ev.VersionEvidence | None
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def as_dict(self) -> dict[str, Any]:
        return self.report


@dataclass(frozen=True)
class RollbackOutcome:
    model: str
    from_version: str
    to_version: str


# ----- pure rules
def effective_namespace(recorded: str | None, requested: str | None, env: str | None) -> str | None:
    """The run's own namespace tag wins; an explicit, different `--namespace` is a mistake, not an override."""
    if recorded:
        if requested and requested != recorded:
            raise GateRefused(
                f"the candidate was produced in namespace {recorded}, not {requested}",
                hint="drop --namespace, or pick a run/version of that namespace",
            )
        return recorded
    return requested or env or None


def refuse_outside_production(namespace: str | None, what: str) -> None:
    if namespace != PRODUCTION_NAMESPACE:
        raise GateRefused(
            f"refusing to {what} in namespace {namespace or '(unknown)'}: only {PRODUCTION_NAMESPACE} moves "
            f"the {CHAMPION_ALIAS} alias",
            hint="use --dry-run to evaluate the gate here; promotion happens in the production run after merge",
        )


def action_text(verdict: Verdict, *, dry_run: bool, candidate: str, champion: str | None) -> str:
    was = f"v{champion}" if champion else "none"
    if dry_run:
        return (
            f"dry run: would promote v{candidate} to {CHAMPION_ALIAS} (now {was})"
            if verdict.passed
            else f"dry run: would not promote; {CHAMPION_ALIAS} stays {was}"
        )
    if verdict.passed:
        return f"promoted v{candidate} to {CHAMPION_ALIAS} (was {was})"
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
) -> GateOutcome:
    """Evaluate the gate for a candidate (a flow run, a version, or the latest version) and act on it."""
    config = config or load_config()
    policy = load_policy(config, gate_flow(config, flow), model)
    uri = config.tracking_uri
    client = connect(uri)
    env_ns = os.environ.get("BRANCHLINE_NAMESPACE") or None
    candidate = _candidate(
        client, uri, config, policy, run_id=run_id, version=version, namespace=namespace or env_ns,
        flow_run_mlflow_id=flow_run_mlflow_id,
    )  # fmt: skip
    ns = effective_namespace(candidate.namespace, namespace, env_ns)
    if not dry_run:
        refuse_outside_production(ns, f"promote {policy.model} v{candidate.version}")
    champion = _champion(client, uri, policy.model, candidate)
    verdict = decide(
        metrics=candidate.metrics,
        checks=candidate.checks,
        required_checks=policy.required_checks,
        thresholds={t.metric: t for t in policy.thresholds},
        tolerance=policy.tolerance,
        champion=champion.metrics if champion else None,
        champion_label=f"champion v{champion.version}" if champion else "champion",
    )
    if champion is not None and champion.version == candidate.version:
        verdict = Verdict(
            verdict.passed, verdict.criteria, verdict.summary, (*verdict.notes, "candidate is already the champion")
        )
    action = action_text(verdict, dry_run=dry_run, candidate=candidate.version, champion=champion and champion.version)
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
        promoted = _act(client, uri, policy.model, verdict, candidate, champion)
    _log_report(client, uri, candidate, report)
    if console is not None:
        from branchline.gate.report import print_report

        print_report(console, report)
    return GateOutcome(verdict, promoted, dry_run, ns, candidate, champion, report)


def _candidate(
    client: MlflowClient,
    uri: str,
    config: Config,
    policy: GatePolicy,
    *,
    run_id: str | None,
    version: str | int | None,
    namespace: str | None,
    flow_run_mlflow_id: str | None,
) -> ev.VersionEvidence:
    if run_id and version is not None:
        raise GateRefused("give --run-id or --version, not both")
    if version is not None:
        return ev.evidence(client, uri, ev.get_version(client, uri, policy.model, str(version)))
    if run_id or flow_run_mlflow_id:
        if flow_run_mlflow_id:
            flow_run = ev.get_run(client, uri, flow_run_mlflow_id)
            if flow_run is None:
                raise ev.EvidenceError(f"MLflow run {flow_run_mlflow_id} of this flow does not exist on {uri}")
        else:
            assert run_id is not None
            flow_run = ev.find_flow_run(
                client, uri, project=config.project, flow=policy.flow, run_id=run_id, namespace=namespace
            )
        runs = ev.runs_of_flow(client, uri, flow_run)
        mv = ev.version_of_runs(client, uri, policy.model, [r.info.run_id for r in runs])
        if mv is None:
            label = flow_run.data.tags.get(ev.RUN_ID_TAG) or flow_run.info.run_id
            raise ev.EvidenceError(
                f"flow run {policy.flow}/{label} registered no version of model {policy.model}",
                hint="register the model in a step (branchline.tracking.models.register_model) or pass --model",
            )
        return ev.evidence(client, uri, mv, flow_runs=runs)
    mv = ev.latest_version(client, uri, policy.model, namespace)
    if mv is None:
        where = f" from namespace {namespace}" if namespace else ""
        raise ev.EvidenceError(
            f"model {policy.model} has no version{where} on {uri}",
            hint="run the flow first, or pass --run-id / --version / --model",
        )
    return ev.evidence(client, uri, mv)


def _champion(client: MlflowClient, uri: str, model: str, candidate: ev.VersionEvidence) -> ev.VersionEvidence | None:
    mv = ev.champion_version(client, uri, model, CHAMPION_ALIAS)
    if mv is None:
        return None
    if str(mv.version) == candidate.version:
        return candidate
    return ev.evidence(client, uri, mv)


def _act(
    client: MlflowClient,
    uri: str,
    model: str,
    verdict: Verdict,
    candidate: ev.VersionEvidence,
    champion: ev.VersionEvidence | None,
) -> bool:
    """Tag the version; on pass move the alias and record the previous champion. Tags first: a half-done
    promotion never leaves the alias on an unmarked version."""
    version = candidate.version
    tag = client.set_model_version_tag
    call(uri, "tag the model version", tag, model, version, GATE_TAG, "passed" if verdict.passed else "failed")
    call(uri, "tag the model version", tag, model, version, SUMMARY_TAG, verdict.summary[:5000])
    if not verdict.passed:
        return False
    previous = champion.version if champion is not None and champion.version != version else None
    if previous:
        call(uri, "tag the model version", tag, model, version, PREVIOUS_TAG, previous)
    call(uri, f"move {model}@{CHAMPION_ALIAS}", client.set_registered_model_alias, model, CHAMPION_ALIAS, version)
    if previous:
        call(uri, "tag the registered model", client.set_registered_model_tag, model, PREVIOUS_TAG, previous)
    return True


def _log_report(client: MlflowClient, uri: str, candidate: ev.VersionEvidence, report: dict[str, Any]) -> None:
    """`gate/report.md|json` on the flow's run (the model's run when it has no flow run)."""
    target = candidate.flow_run_id or candidate.run_id
    if not target:
        return
    call(uri, "log the gate report", client.log_text, target, to_markdown(report), REPORT_MD)
    call(uri, "log the gate report", client.log_text, target, to_json(report), REPORT_JSON)


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
    uri = config.tracking_uri
    client = connect(uri)
    current = ev.champion_version(client, uri, model, CHAMPION_ALIAS)
    if current is None:
        raise GateRefused(f"model {model} has no {CHAMPION_ALIAS} on {uri}: nothing to roll back")
    previous = (current.tags or {}).get(PREVIOUS_TAG)
    if not previous:
        raise GateRefused(
            f"{model}@{CHAMPION_ALIAS} (v{current.version}) records no previous champion: nothing to roll back to",
            hint=f"it was the first champion; to choose a version by hand: set alias {CHAMPION_ALIAS} in MLflow",
        )
    target = ev.get_version(client, uri, model, previous)
    call(uri, f"move {model}@{CHAMPION_ALIAS}", client.set_registered_model_alias, model, CHAMPION_ALIAS, previous)
    call(
        uri, "tag the model version", client.set_model_version_tag, model, str(current.version), GATE_TAG, "rolled_back"
    )
    call(
        uri,
        "tag the registered model",
        client.set_registered_model_tag,
        model,
        ROLLED_BACK_FROM_TAG,
        str(current.version),
    )
    before = (target.tags or {}).get(PREVIOUS_TAG)
    if before:
        call(uri, "tag the registered model", client.set_registered_model_tag, model, PREVIOUS_TAG, before)
    else:
        call(uri, "tag the registered model", client.delete_registered_model_tag, model, PREVIOUS_TAG)
    return RollbackOutcome(model=model, from_version=str(current.version), to_version=str(previous))


# ----- inside a flow
def evaluate_in_flow(
    flow: str | None = None,
    *,
    model: str | None = None,
    raise_on_failure: bool = False,
    console: Console | None = None,
) -> GateOutcome:
    """For a flow's `end` step: judge this run's model; promote in `prod`, dry-run anywhere else.

    Returns the outcome (store `outcome.as_dict()` as an artifact); a failed verdict raises only with
    `raise_on_failure=True`. A missing tracking run or unreachable MLflow raises (the gate fails closed).
    """
    from branchline.authoring.current import current

    if not current.is_running_flow:
        raise GateRefused("evaluate_in_flow() runs inside a flow step", hint="use `branchline promote` outside flows")
    import mlflow  # opens this task's tracking run (see branchline.tracking.task_run)

    active = mlflow.active_run()
    if active is None:
        raise GateRefused(
            "the gate needs this run to be tracked in MLflow, and it is not",
            hint="enable tracking (unset BRANCHLINE_TRACKING=0) so the flow's metrics and checks are recorded",
        )
    flow_run = active.data.tags.get("mlflow.parentRunId") or active.info.run_id
    namespace = current.namespace
    if console is None:
        from rich.console import Console

        console = Console(highlight=False)  # the report goes to the task's log
    outcome = run_gate(
        flow=flow or current.flow_name,
        model=model,
        dry_run=namespace != PRODUCTION_NAMESPACE,
        namespace=namespace,
        flow_run_mlflow_id=flow_run,
        console=console,
    )
    if raise_on_failure and not outcome.passed:
        raise GateFailed(f"promotion gate failed: {outcome.verdict.summary}")
    return outcome


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
