"""What the gate knows, read from MLflow: the candidate version, its metrics and checks; the champion.

A flow run is one MLflow parent run (tag `branchline.role=flow`) with a nested run per task (tag
`mlflow.parentRunId`); user code may nest further. The candidate is the model version whose `run_id` is
one of those runs. Its metrics are the flow run's, overridden by those of the run that logged the model;
its checks are the `branchline.checks.<suite>.*` tags of all those runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from branchline.checks.result import TAG_PREFIX
from branchline.errors import BranchlineError
from branchline.gate.decision import CheckOutcome
from branchline.tracking.connect import call
from branchline.tracking.tags import PARENT_TAG, experiment_name

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

MAX_NESTED_RUNS = 50_000  # read in pages of 1,000; a foreach of thousands of tasks is still read in full
CLOCK_SKEW_MS = 10 * 60 * 1000
NAMESPACE_TAG = "branchline.namespace"
RUN_ID_TAG = "branchline.run_id"


class EvidenceError(BranchlineError):
    """The gate cannot find what it must judge (no such run, no model version, ...)."""


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
        }


# ----- pure helpers
def checks_from_runs(runs: Iterable[tuple[str, dict[str, str]]]) -> dict[str, CheckOutcome]:
    """Fold `branchline.checks.<suite>.success|failed` tags of (run name, tags) pairs into one outcome per suite.

    A suite passes only if it passed in every run that ran it.
    """
    found: dict[str, CheckOutcome] = {}
    for name, tags in runs:
        for key, value in tags.items():
            if not (key.startswith(TAG_PREFIX) and key.endswith(".success")):
                continue
            suite = key[len(TAG_PREFIX) : -len(".success")]
            failed = _int(tags.get(f"{TAG_PREFIX}{suite}.failed"))
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


# ----- MLflow reads
def not_found(exc: BaseException) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def maybe(uri: str, what: str, fn: Any, *args: Any) -> Any:
    """`call`, but None when MLflow says the thing does not exist."""
    from mlflow.exceptions import MlflowException

    def attempt() -> Any:
        try:
            return fn(*args)
        except MlflowException as exc:
            if not_found(exc):
                return None
            raise

    return call(uri, what, attempt)


def get_run(client: MlflowClient, uri: str, run_id: str) -> Run | None:
    return maybe(uri, f"read run {run_id}", client.get_run, run_id)


def flow_run_of(client: MlflowClient, uri: str, run: Run) -> Run:
    """Walk `mlflow.parentRunId` up to the flow's run (role `flow`) or the top-most run."""
    seen = {run.info.run_id}
    while run.data.tags.get("branchline.role") != "flow":
        parent_id = run.data.tags.get(PARENT_TAG)
        if not parent_id or parent_id in seen:
            break
        parent = get_run(client, uri, parent_id)
        if parent is None:
            break
        seen.add(parent_id)
        run = parent
    return run


def find_flow_run(
    client: MlflowClient, uri: str, *, project: str, flow: str, run_id: str, namespace: str | None
) -> Run:
    """The MLflow parent run of flow run `run_id` (a branchline run id, or an MLflow run id)."""
    experiment = call(uri, "look up the experiment", client.get_experiment_by_name, experiment_name(project, flow))
    if experiment is not None:
        query = f"tags.`{RUN_ID_TAG}` = '{_quote(run_id)}' and tags.`branchline.role` = 'flow'"
        found = call(
            uri,
            "search runs",
            client.search_runs,
            [experiment.experiment_id],
            filter_string=query,
            max_results=20,
            order_by=["attributes.start_time DESC"],
        )
        # run ids are unique per namespace only: prefer the namespace asked for; the caller checks it
        same = [r for r in found if namespace and r.data.tags.get(NAMESPACE_TAG) == namespace]
        if same or found:
            return (same or found)[0]
    direct = get_run(client, uri, run_id) if _looks_like_mlflow_id(run_id) else None
    if direct is not None:
        return flow_run_of(client, uri, direct)
    raise EvidenceError(
        f"no MLflow run of {flow} run {run_id} in experiment {experiment_name(project, flow)} on {uri}",
        hint="check --run-id (a branchline run id as printed by `run`, or an MLflow run id) and the tracking URI",
    )


def runs_of_flow(client: MlflowClient, uri: str, flow_run: Run) -> list[Run]:
    """The flow run and all runs nested under it, at any depth.

    MLflow cannot search tags with IN, so one paged search reads every nested run of the experiment
    started since the flow run (less a margin for clock skew between machines), and the tree is walked here.
    """
    since = max(0, (flow_run.info.start_time or 0) - CLOCK_SKEW_MS)
    query = f"attributes.start_time >= {since} and tags.`{PARENT_TAG}` LIKE '%'"
    children: dict[str, list[Run]] = {}
    for run in _search_all(client, uri, flow_run.info.experiment_id, query):
        children.setdefault(run.data.tags.get(PARENT_TAG, ""), []).append(run)
    runs, frontier, seen = [flow_run], [flow_run.info.run_id], {flow_run.info.run_id}
    while frontier:
        found = [child for parent in frontier for child in children.get(parent, []) if child.info.run_id not in seen]
        seen.update(child.info.run_id for child in found)
        runs += found
        frontier = [child.info.run_id for child in found]
    return runs


def _search_all(client: MlflowClient, uri: str, experiment: str, query: str) -> list[Run]:
    out: list[Run] = []
    token = None
    while True:
        page = call(
            uri,
            "search nested runs",
            client.search_runs,
            [experiment],
            filter_string=query,
            max_results=1000,
            page_token=token,
        )
        out += list(page)
        token = getattr(page, "token", None)
        if not token or len(out) >= MAX_NESTED_RUNS:
            return out


def version_of_runs(client: MlflowClient, uri: str, model: str, run_ids: list[str]) -> ModelVersion | None:
    """The newest version of `model` logged by one of `run_ids`."""
    best = None
    for start in range(0, len(run_ids), 100):
        ids = ", ".join(f"'{_quote(i)}'" for i in run_ids[start : start + 100])
        query = f"name = '{_quote(model)}' and run_id IN ({ids})"
        for mv in call(uri, "search model versions", client.search_model_versions, query):
            if best is None or int(mv.version) > int(best.version):
                best = mv
    return best


def latest_version(client: MlflowClient, uri: str, model: str, namespace: str | None) -> ModelVersion | None:
    """The newest version of `model` (of `namespace`, if given, by the version's `namespace` tag)."""
    query = f"name = '{_quote(model)}'"
    if namespace:
        query += f" and tags.namespace = '{_quote(namespace)}'"
    versions = call(uri, "search model versions", client.search_model_versions, query)
    return max(versions, key=lambda mv: int(mv.version), default=None)


def get_version(client: MlflowClient, uri: str, model: str, version: str) -> ModelVersion:
    mv = maybe(uri, f"read {model} version {version}", client.get_model_version, model, str(version))
    if mv is None:
        raise EvidenceError(f"model {model} has no version {version} on {uri}", hint="check --model and --version")
    return mv


def champion_version(client: MlflowClient, uri: str, model: str, alias: str) -> ModelVersion | None:
    """The version behind `alias`, None if the model or the alias does not exist yet."""
    registered = maybe(uri, f"read model {model}", client.get_registered_model, model)
    if registered is None or alias not in (registered.aliases or {}):
        return None
    return call(uri, f"read {model}@{alias}", client.get_model_version_by_alias, model, alias)


def evidence(
    client: MlflowClient, uri: str, mv: ModelVersion, *, flow_runs: list[Run] | None = None
) -> VersionEvidence:
    """Metrics and checks of a version's flow run (read here unless `flow_runs` is given)."""
    model_run = get_run(client, uri, mv.run_id) if mv.run_id else None
    if model_run is None:
        return VersionEvidence(mv.name, str(mv.version), mv.run_id or "", None, None, None, tags=dict(mv.tags or {}))
    if flow_runs is None:
        flow_runs = runs_of_flow(client, uri, flow_run_of(client, uri, model_run))
    top = flow_runs[0]
    metrics = merged_metrics(dict(top.data.metrics), dict(model_run.data.metrics))
    checks = checks_from_runs((r.info.run_name or r.info.run_id, dict(r.data.tags)) for r in flow_runs)
    tags = top.data.tags
    return VersionEvidence(
        model=mv.name,
        version=str(mv.version),
        run_id=mv.run_id,
        flow_run_id=top.info.run_id,
        namespace=tags.get(NAMESPACE_TAG) or model_run.data.tags.get(NAMESPACE_TAG) or (mv.tags or {}).get("namespace"),
        branchline_run_id=tags.get(RUN_ID_TAG),
        metrics=metrics,
        checks=checks,
        tags=dict(mv.tags or {}),
    )


def _quote(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("'", "\\'")


def _looks_like_mlflow_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)
