"""What the gate knows, read from MLflow: the candidate version, its metrics and checks; the champion.

A flow run is one MLflow parent run (tag `branchline.role=flow`) with a nested run per task (tag
`mlflow.parentRunId`); user code may nest further. The gate trusts only runs it can trace to that flow run:

* the flow run must carry a valid namespace and a branchline run id (never taken from the caller), and a
  run tagged `prod` must live in production's experiment;
* a nested run counts only if it carries the same namespace and run id; any other run that names the flow
  run (or one of its runs) as its parent is ignored, and named in the gate's report;
* the candidate is a version of the namespace's registered model logged by one of the runs that count.

Its metrics are the flow run's, overridden by those of the run that logged the model; its checks are the
`branchline.checks.<suite>.*` tags of the runs that count. `differences()` compares all this with the
records the flow's own tasks wrote into their datastore prefix (`branchline.tracking.evidence`). The rules
themselves are pure functions in `gate.provenance`; this module reads what they judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from branchline.gate.provenance import (
    EvidenceError,
    IgnoredRun,
    NoCandidateError,
    ProvenanceError,
    VersionEvidence,
    checks_from_runs,
    flow_identity,
    foreign_reason,
    merged_metrics,
    trusted_tree,
)
from branchline.namespaces import is_production
from branchline.namespaces.mlflow_tags import (
    NAMESPACE_TAG,
    PARENT_RUN_TAG,
    ROLE_FLOW,
    ROLE_TAG,
    RUN_ID_TAG,
    VERSION_NAMESPACE_TAG,
)
from branchline.namespaces.names import experiment_name, registered_model_name
from branchline.tracking.connect import TrackingSession

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

MAX_NESTED_RUNS = 50_000  # read in pages of 1,000; a foreach of thousands of tasks is still read in full
CLOCK_SKEW_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class FlowTree:
    """A flow run and the runs that are provably its own."""

    flow_run: Run
    namespace: str
    run_id: str
    runs: list[Run]
    ignored: tuple[IgnoredRun, ...] = ()

    @property
    def run_ids(self) -> set[str]:
        return {r.info.run_id for r in self.runs}


def get_run(session: TrackingSession, run_id: str) -> Run | None:
    return session.maybe(f"read run {run_id}", session.client.get_run, run_id)


def flow_run_of(session: TrackingSession, run: Run) -> Run:
    """Walk `mlflow.parentRunId` up to the flow's run (role `flow`) or the top-most run."""
    seen = {run.info.run_id}
    while run.data.tags.get(ROLE_TAG) != ROLE_FLOW:
        parent_id = run.data.tags.get(PARENT_RUN_TAG)
        if not parent_id or parent_id in seen:
            break
        parent = get_run(session, parent_id)
        if parent is None:
            break
        seen.add(parent_id)
        run = parent
    return run


def find_flow_run(
    session: TrackingSession, *, project: str, flow: str, run_id: str, namespace: str | None
) -> Run:
    """The MLflow parent run of flow run `run_id` (a branchline run id, or an MLflow run id).

    Looked up in the experiment of `namespace` first (production's when none is given), then in the other;
    the caller checks the namespace the run recorded.
    """
    names = [experiment_name(project, flow, namespace or "prod")]
    names.append(next(n for n in (experiment_name(project, flow, x) for x in ("prod", None)) if n != names[0]))
    for name in names:
        experiment = session.call("look up the experiment", session.client.get_experiment_by_name, name)
        if experiment is None:
            continue
        query = f"tags.`{RUN_ID_TAG}` = '{_quote(run_id)}' and tags.`{ROLE_TAG}` = '{ROLE_FLOW}'"
        found = session.call(
            "search runs",
            session.client.search_runs,
            [experiment.experiment_id],
            filter_string=query,
            max_results=20,
            order_by=["attributes.start_time DESC"],
        )
        # run ids are unique per namespace only: prefer the namespace asked for; the caller checks it
        same = [r for r in found if namespace and r.data.tags.get(NAMESPACE_TAG) == namespace]
        if same or found:
            return (same or found)[0]
    direct = get_run(session, run_id) if _looks_like_mlflow_id(run_id) else None
    if direct is not None:
        return flow_run_of(session, direct)
    raise EvidenceError(
        f"no MLflow run of {flow} run {run_id} in experiment {' or '.join(names)} on {session.uri}",
        hint="check --run-id (a branchline run id as printed by `run`, or an MLflow run id) and the tracking URI",
    )


def flow_tree(session: TrackingSession, flow_run: Run, *, project: str, flow: str) -> FlowTree:
    """The flow run's own runs, after checking its identity and where it lives.

    MLflow cannot search tags with IN, so one paged search reads every nested run of the experiment
    started since the flow run (less a margin for clock skew between machines), and the tree is walked here.
    """
    label = f"flow run {flow_run.info.run_name or flow_run.info.run_id} (MLflow run {flow_run.info.run_id})"
    namespace, run_id = flow_identity(dict(flow_run.data.tags), label)
    if is_production(namespace):
        experiment = session.call("read the experiment", session.client.get_experiment, flow_run.info.experiment_id)
        expected = experiment_name(project, flow, namespace)
        if experiment.name != expected:
            raise ProvenanceError(
                f"{label} is tagged {namespace} but lives in experiment {experiment.name!r}, not production's "
                f"{expected!r}: production's runs are written only in production's experiment",
            )
    since = max(0, (flow_run.info.start_time or 0) - CLOCK_SKEW_MS)
    query = f"attributes.start_time >= {since} and tags.`{PARENT_RUN_TAG}` LIKE '%'"
    children: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    by_id: dict[str, Run] = {}
    for run in _search_all(session, flow_run.info.experiment_id, query):
        by_id[run.info.run_id] = run
        entry = (run.info.run_id, run.info.run_name or run.info.run_id, dict(run.data.tags))
        children.setdefault(run.data.tags.get(PARENT_RUN_TAG, ""), []).append(entry)
    kept, ignored = trusted_tree(flow_run.info.run_id, children, namespace, run_id)
    return FlowTree(flow_run, namespace, run_id, [flow_run, *(by_id[i] for i in kept)], tuple(ignored))


def _search_all(session: TrackingSession, experiment: str, query: str) -> list[Run]:
    out: list[Run] = []
    token = None
    while True:
        page = session.call(
            "search nested runs",
            session.client.search_runs,
            [experiment],
            filter_string=query,
            max_results=1000,
            page_token=token,
        )
        out += list(page)
        token = getattr(page, "token", None)
        if not token or len(out) >= MAX_NESTED_RUNS:
            return out


def version_of_runs(session: TrackingSession, model: str, run_ids: list[str]) -> ModelVersion | None:
    """The newest version of `model` logged by one of `run_ids`."""
    best = None
    for start in range(0, len(run_ids), 100):
        ids = ", ".join(f"'{_quote(i)}'" for i in run_ids[start : start + 100])
        query = f"name = '{_quote(model)}' and run_id IN ({ids})"
        for mv in session.call("search model versions", session.client.search_model_versions, query):
            if best is None or int(mv.version) > int(best.version):
                best = mv
    return best


def latest_version(session: TrackingSession, model: str, namespace: str | None) -> ModelVersion | None:
    """The newest version of `model` (of `namespace`, if given, by the version's `namespace` tag)."""
    query = f"name = '{_quote(model)}'"
    if namespace:
        query += f" and tags.{VERSION_NAMESPACE_TAG} = '{_quote(namespace)}'"
    versions = session.call("search model versions", session.client.search_model_versions, query)
    return max(versions, key=lambda mv: int(mv.version), default=None)


def get_version(session: TrackingSession, model: str, version: str) -> ModelVersion:
    mv = session.maybe(f"read {model} version {version}", session.client.get_model_version, model, str(version))
    if mv is None:
        raise EvidenceError(f"model {model} has no version {version} on {session.uri}",
                            hint="check --model and --version")  # fmt: skip
    return mv


def champion_version(session: TrackingSession, model: str, alias: str) -> ModelVersion | None:
    """The version behind `alias`, None if the model or the alias does not exist yet."""
    registered = session.maybe(f"read model {model}", session.client.get_registered_model, model)
    if registered is None or alias not in (registered.aliases or {}):
        return None
    return session.call(f"read {model}@{alias}", session.client.get_model_version_by_alias, model, alias)


def candidate_in_tree(
    session: TrackingSession, model: str, tree: FlowTree, flow: str
) -> ModelVersion:
    """The newest version of the namespace's model logged by one of the flow run's own runs."""
    name = registered_model_name(model, tree.namespace)
    mv = version_of_runs(session, name, [r.info.run_id for r in tree.runs])
    if mv is None:
        raise NoCandidateError(
            f"flow run {flow}/{tree.run_id} ({tree.namespace}) registered no version of model {name}"
            + (f" ({len(tree.ignored)} foreign run(s) under it were ignored)" if tree.ignored else ""),
            hint="register the model in a step (branchline.tracking.models.register_model) or pass --model",
        )
    return mv


def evidence(
    session: TrackingSession,
    mv: ModelVersion,
    *,
    project: str,
    flow: str,
    model: str,
    tree: FlowTree | None = None,
) -> VersionEvidence:
    """Metrics and checks of a version, traced to its flow run (read here unless `tree` is given).

    Refuses (ProvenanceError) a version that is not production's-or-the-namespace's model, that was not
    logged by one of the flow run's own runs, or whose `namespace` tag contradicts the flow run's.
    """
    label = f"{mv.name} v{mv.version}"
    model_run = get_run(session, mv.run_id) if mv.run_id else None
    if model_run is None:
        raise ProvenanceError(f"{label} was logged by no run that still exists: the gate cannot trace it")
    tree = tree or flow_tree(session, flow_run_of(session, model_run), project=project, flow=flow)
    if mv.run_id not in tree.run_ids:
        reason = foreign_reason(dict(model_run.data.tags), tree.namespace, tree.run_id) or "is not nested under it"
        raise ProvenanceError(
            f"{label} was logged by run {mv.run_id}, which {reason} (flow run {flow}/{tree.run_id}): "
            "the gate judges only versions a flow run logged itself",
        )
    if mv.name != registered_model_name(model, tree.namespace):
        raise ProvenanceError(
            f"{label} comes from namespace {tree.namespace}, whose versions go to "
            f"{registered_model_name(model, tree.namespace)}, not {mv.name}"
        )
    tagged = (mv.tags or {}).get(VERSION_NAMESPACE_TAG)
    if tagged and tagged != tree.namespace:
        raise ProvenanceError(f"{label} is tagged namespace {tagged} but its flow run is {tree.namespace}")
    top = tree.flow_run
    metrics = merged_metrics(dict(top.data.metrics), dict(model_run.data.metrics))
    checks = checks_from_runs((r.info.run_name or r.info.run_id, dict(r.data.tags)) for r in tree.runs)
    return VersionEvidence(
        model=mv.name,
        version=str(mv.version),
        run_id=mv.run_id,
        flow_run_id=top.info.run_id,
        namespace=tree.namespace,
        branchline_run_id=tree.run_id,
        metrics=metrics,
        checks=checks,
        tags=dict(mv.tags or {}),
        ignored=tree.ignored,
    )


def _quote(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("'", "\\'")


def _looks_like_mlflow_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)
