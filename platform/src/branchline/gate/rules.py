"""The gate's pure rules: which namespace a candidate belongs to, where `champion` may move, whether MLflow
agrees with the datastore, and the one line saying what happened. No I/O, so each rule is tested on its own."""

from __future__ import annotations

from typing import Any

from branchline.errors import BranchlineError
from branchline.gate.decision import Criterion, Verdict
from branchline.gate.policy import CHAMPION_ALIAS
from branchline.gate.provenance import VersionEvidence, differences
from branchline.namespaces import PRODUCTION_NAMESPACE
from branchline.tracking.connect import is_http


class GateRefused(BranchlineError):
    """The gate will not move `champion` from here (not production, conflicting namespace...)."""


class GateFailed(BranchlineError):
    """The candidate did not pass the gate (exit code 1 of `branchline promote`)."""


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
