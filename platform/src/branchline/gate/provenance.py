"""The gate's provenance rules, as pure functions: which runs count, what they add up to, what must agree.

`flow_identity` (a flow run must say which namespace and run it is), `foreign_reason` and `trusted_tree` (a
nested run counts only if it carries the flow run's identity; nothing below a foreign run is trusted),
`checks_from_runs` and `merged_metrics` (what the runs that count recorded), and `differences` (where MLflow's
account of the candidate differs from the records the flow's own tasks wrote into the datastore). The reads
from MLflow that feed them are in `gate.evidence`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from branchline.errors import BranchlineError
from branchline.gate.decision import CheckOutcome
from branchline.namespaces import NamespaceError, validate_namespace
from branchline.namespaces.mlflow_tags import NAMESPACE_TAG, RUN_ID_TAG, check_failed_tag, check_suite_of
from branchline.tracking.tags import identity


class EvidenceError(BranchlineError):
    """The gate cannot find what it must judge (no such run, no model version, ...)."""


class NoCandidateError(EvidenceError):
    """The flow run registered no version of the model: there is nothing for the gate to judge."""


class ProvenanceError(EvidenceError):
    """The candidate cannot be traced to one flow run of a known namespace: the gate will not judge it."""


@dataclass(frozen=True)
class IgnoredRun:
    """A run nested under the flow run that is not one of its own (another namespace or run, or no identity)."""

    run_id: str
    name: str
    namespace: str | None
    branchline_run_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionEvidence:
    """A model version and everything recorded about it."""

    model: str
    version: str
    run_id: str
    flow_run_id: str | None
    namespace: str | None
    branchline_run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    checks: dict[str, CheckOutcome] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    ignored: tuple[IgnoredRun, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "flow_run_id": self.flow_run_id,
            "namespace": self.namespace,
            "branchline_run_id": self.branchline_run_id,
            "metrics": self.metrics,
            "checks": {
                k: {"success": v.success, "failed": v.failed, "runs": list(v.runs)} for k, v in self.checks.items()
            },
            "ignored_runs": [r.as_dict() for r in self.ignored],
        }


def checks_from_runs(runs: Iterable[tuple[str, dict[str, str]]]) -> dict[str, CheckOutcome]:
    """Fold `branchline.checks.<suite>.success|failed` tags of (run name, tags) pairs into one outcome per suite.

    A suite passes only if it passed in every run that ran it.
    """
    found: dict[str, CheckOutcome] = {}
    for name, tags in runs:
        for key, value in tags.items():
            suite = check_suite_of(key)
            if suite is None:
                continue
            failed = _int(tags.get(check_failed_tag(suite)))
            ok = value.strip().lower() == "true"
            before = found.get(suite)
            if before is None:
                found[suite] = CheckOutcome(suite, ok, failed, (name,))
            else:
                found[suite] = CheckOutcome(suite, before.success and ok, before.failed + failed, (*before.runs, name))
    return found


def merged_metrics(*runs_metrics: dict[str, float]) -> dict[str, float]:
    """Later runs win: the flow run's metrics, then the model run's."""
    merged: dict[str, float] = {}
    for metrics in runs_metrics:
        merged.update(metrics)
    return merged


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def flow_identity(tags: dict[str, str], label: str) -> tuple[str, str]:
    """(namespace, run id) of a flow run, both required and the namespace valid: the gate never guesses them."""
    namespace, run_id = identity(tags)
    if not namespace:
        raise ProvenanceError(
            f"{label} carries no {NAMESPACE_TAG} tag: the gate cannot tell which namespace produced it",
            hint="judge a run recorded by branchline (its runs carry the namespace); the caller's namespace "
            "is never used in its place",
        )
    try:
        validate_namespace(namespace)
    except NamespaceError as exc:
        raise ProvenanceError(f"{label} carries an unknown namespace {namespace!r}: {exc.message}") from None
    if not run_id:
        raise ProvenanceError(f"{label} (namespace {namespace}) carries no {RUN_ID_TAG} tag")
    return namespace, run_id


def foreign_reason(tags: dict[str, str], namespace: str, run_id: str) -> str | None:
    """Why a nested run is not one of flow run (`namespace`, `run_id`)'s own; None when it is."""
    ns, rid = identity(tags)
    if ns == namespace and rid == run_id:
        return None
    if not ns and not rid:
        return "carries no branchline namespace / run id"
    return f"belongs to namespace {ns or '(none)'} run {rid or '(none)'}, not {namespace} run {run_id}"


def trusted_tree(
    root: str, children: dict[str, list[tuple[str, str, dict[str, str]]]], namespace: str, run_id: str
) -> tuple[list[str], list[IgnoredRun]]:
    """Walk (run id, name, tags) children from `root`: the runs of this flow run, and those ignored.

    The walk does not descend into an ignored run: nothing below a foreign run is trusted.
    """
    kept: list[str] = []
    ignored: list[IgnoredRun] = []
    frontier, seen = [root], {root}
    while frontier:
        nxt = []
        for parent in frontier:
            for child_id, name, tags in children.get(parent, []):
                if child_id in seen:
                    continue
                seen.add(child_id)
                reason = foreign_reason(tags, namespace, run_id)
                if reason is None:
                    kept.append(child_id)
                    nxt.append(child_id)
                else:
                    ns, rid = identity(tags)
                    ignored.append(IgnoredRun(child_id, name, ns, rid, reason))
        frontier = nxt
    return kept, ignored


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _shown(value: Any) -> str:
    return "absent" if value is None else str(value)


def differences(candidate: VersionEvidence, records: list[dict[str, Any]]) -> list[str]:
    """Fields where MLflow's account of the candidate differs from the flow's datastore records (pure).

    Compared: the model version (name, version, logging run), every metric the gate reads (the flow run's
    merged with the model run's) and every check outcome. An empty list means they agree.
    """
    runs: dict[str, dict[str, Any]] = {}
    versions: set[tuple[str, str, str]] = set()
    for record in records:
        runs.update(record.get("runs") or {})
        versions |= {(v["name"], str(v["version"]), v["run_id"]) for v in record.get("model_versions") or []}
    found: list[str] = []
    if (candidate.model, candidate.version, candidate.run_id) not in versions:
        recorded = sorted(f"{n} v{v}" for n, v, _ in versions if n == candidate.model) or ["none"]
        found.append(
            f"model_version: MLflow has {candidate.model} v{candidate.version} from run {candidate.run_id}; "
            f"the datastore records {', '.join(recorded)}"
        )
    flow_metrics = (runs.get(candidate.flow_run_id or "") or {}).get("metrics") or {}
    model_metrics = (runs.get(candidate.run_id) or {}).get("metrics") or {}
    recorded_metrics = merged_metrics(flow_metrics, model_metrics)
    for name in sorted(set(candidate.metrics) | set(recorded_metrics)):
        mine, theirs = candidate.metrics.get(name), recorded_metrics.get(name)
        if not _same(mine, theirs):
            found.append(f"metrics.{name}: MLflow {_shown(mine)}, datastore {_shown(theirs)}")
    recorded_checks = checks_from_runs((rid, dict(r.get("checks") or {})) for rid, r in runs.items())
    for suite in sorted(set(candidate.checks) | set(recorded_checks)):
        mine_c, theirs_c = candidate.checks.get(suite), recorded_checks.get(suite)
        a = None if mine_c is None else (mine_c.success, mine_c.failed)
        b = None if theirs_c is None else (theirs_c.success, theirs_c.failed)
        if a != b:
            found.append(f"checks.{suite}: MLflow {_outcome(a)}, datastore {_outcome(b)}")
    return found


def _outcome(value: tuple[bool, int] | None) -> str:
    return "absent" if value is None else f"{'passed' if value[0] else 'failed'} ({value[1]} failed)"
