"""Which model versions the gate compares: the candidate, traced to the flow run that logged it, and the
champion it must not regress against (its baseline). Reads MLflow; writes nothing."""

from __future__ import annotations

from branchline.config import Config
from branchline.gate import evidence as ev
from branchline.gate.policy import CHAMPION_ALIAS, GatePolicy
from branchline.gate.provenance import EvidenceError, ProvenanceError, VersionEvidence
from branchline.gate.rules import GateRefused
from branchline.namespaces import is_user_namespace
from branchline.namespaces.names import registered_model_name
from branchline.tracking.connect import TrackingSession
from branchline.tracking.models import how_to_ask


def find_candidate(
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


def find_champion(
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
