"""The gate's writes to the MLflow registry: the verdict's tags, the `champion` alias move, and its rollback.

Only production's identity may make them (MLflow's own permissions enforce it); the callers refuse any other
namespace first, so a refusal happens before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from branchline.config import Config, load_config
from branchline.gate import evidence as ev
from branchline.gate.decision import Verdict
from branchline.gate.policy import CHAMPION_ALIAS, gate_flow, load_policy
from branchline.gate.provenance import VersionEvidence
from branchline.gate.rules import GateRefused, refuse_outside_production
from branchline.namespaces.mlflow_tags import (
    GATE_SUMMARY_TAG,
    GATE_VERDICT_TAG,
    PREVIOUS_CHAMPION_TAG,
    ROLLED_BACK_FROM_TAG,
)
from branchline.tracking.connect import TrackingSession, connect


@dataclass(frozen=True)
class RollbackOutcome:
    model: str
    from_version: str
    to_version: str


def act(
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
