"""The flow run's summary on its parent MLflow run: "what did this change do" without opening child runs.

When a flow run ends, whoever closes its parent run (the recorder locally, the `end` task in containers: the
identity that created the run, never another) copies onto it:

- the **headline metrics** (the metrics the flow's gate judges; every metric when it has no gate), from the
  task runs that logged them. When several tasks log one, the run that registered the model wins (the gate
  reads its value), else the task that finished last; `branchline.summary.metric_sources` names the task;
- the **registered model versions**, with links; each **data check**'s outcome; the **gate verdict** (from the
  `gate/report.json` the gate logged on this run; `(dry run)` outside production);
- links to the commit, pull request, workflow run, Step Functions execution and image;
- all of it as the run's description (`mlflow.note.content`), which the run page renders as Markdown.

The inputs are the tasks' evidence records in the datastore (`tracking.evidence`), so the summary says exactly
what the gate's cross-check compares. The copied metrics are recorded there too, as the flow run's own record:
the gate merges the flow run's metrics under the model run's, and the two accounts must still agree.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchline.config import load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.errors import BranchlineError
from branchline.namespaces.mlflow_tags import (
    NOTE_TAG,
    SUMMARY_CHECKS_TAG,
    SUMMARY_GATE_DETAIL_TAG,
    SUMMARY_GATE_TAG,
    SUMMARY_METRIC_SOURCES_TAG,
    SUMMARY_MODEL_TAG,
    SUMMARY_MODEL_URL_TAG,
    check_failed_tag,
    check_suite_of,
    summary_check_tag,
    summary_link_tag,
)
from branchline.tracking.connect import TrackingSession
from branchline.tracking.evidence import flow_evidence_key, read_flow_evidence
from branchline.tracking.links import execution_url, git_links, image_url, model_version_fragment, model_version_url
from branchline.tracking.markdown import code, number
from branchline.tracking.tags import chunks

GATE_REPORT = "gate/report.json"
MAX_METRICS = 50  # without a gate, at most this many metrics are copied (alphabetically)


@dataclass(frozen=True)
class CheckSummary:
    suite: str
    success: bool
    failed: int

    def text(self) -> str:
        return "passed" if self.success else f"failed ({self.failed} failed)"


@dataclass(frozen=True)
class GateSummary:
    passed: bool
    dry_run: bool
    detail: str

    def text(self) -> str:
        return ("passed" if self.passed else "failed") + (" (dry run)" if self.dry_run else "")


@dataclass(frozen=True)
class FlowSummary:
    """What the parent run carries (pure data; `summarize` makes it, `summary_tags`/`summary_note` show it)."""

    flow: str
    run_id: str
    namespace: str
    metrics: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    models: tuple[tuple[str, str], ...] = ()
    checks: tuple[CheckSummary, ...] = ()
    gate: GateSummary | None = None
    links: dict[str, str] = field(default_factory=dict)
    git_sha: str | None = None
    branch: str | None = None
    image: str | None = None


# ----- pure
def headline_metrics(
    records: list[dict[str, Any]], names: list[str] | None
) -> tuple[dict[str, float], dict[str, str]]:
    """(metric -> value, metric -> `step/task` it came from): later tasks win, the model's run wins over all."""
    ordered = sorted(records, key=lambda r: (str(r.get("recorded") or ""), str(r.get("step")), str(r.get("task_id"))))
    model_runs = {v["run_id"] for r in records for v in r.get("model_versions") or []}
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for from_model in (False, True):
        for record in ordered:
            task = f"{record.get('step')}/{record.get('task_id')}"
            for run_id, run in (record.get("runs") or {}).items():
                if (run_id in model_runs) != from_model:
                    continue
                for name, value in (run.get("metrics") or {}).items():
                    values[name], sources[name] = float(value), task
    wanted = names if names else sorted(values)[:MAX_METRICS]
    return ({n: values[n] for n in wanted if n in values}, {n: sources[n] for n in wanted if n in sources})


def fold_checks(records: list[dict[str, Any]]) -> tuple[CheckSummary, ...]:
    """One outcome per suite: passed only if every run that ran it passed (the gate's rule)."""
    found: dict[str, CheckSummary] = {}
    for record in records:
        for run in (record.get("runs") or {}).values():
            tags = run.get("checks") or {}
            for key, value in tags.items():
                suite = check_suite_of(key)
                if suite is None:
                    continue
                ok = str(value).strip().lower() == "true"
                failed = int(tags.get(check_failed_tag(suite)) or 0)
                before = found.get(suite, CheckSummary(suite, True, 0))
                found[suite] = CheckSummary(suite, before.success and ok, before.failed + failed)
    return tuple(found[s] for s in sorted(found))


def gate_summary(report: dict[str, Any] | None) -> GateSummary | None:
    if not report or "passed" not in report:
        return None
    return GateSummary(bool(report["passed"]), bool(report.get("dry_run")), str(report.get("summary") or ""))


def summarize(
    run_doc: dict[str, Any], records: list[dict[str, Any]], *, headline: list[str] | None,
    gate_report: dict[str, Any] | None, tracking_uri: str | None,
) -> FlowSummary:
    """The summary of one flow run from its run document, its tasks' evidence records and the gate's report."""
    metrics, sources = headline_metrics(records, headline)
    models = sorted({(v["name"], str(v["version"])) for r in records for v in r.get("model_versions") or []},
                    key=lambda m: (m[0], int(m[1]) if m[1].isdigit() else 0))
    git = run_doc.get("git") or {}
    links = git_links(run_doc.get("ci"), git.get("sha"))
    aws = {"execution": execution_url(run_doc.get("execution_arn")), "image": image_url(run_doc.get("image"))}
    for kind, url in aws.items():
        if url:
            links[kind] = url
    if models and (url := model_version_url(tracking_uri, *models[-1])):
        links["model"] = url
    return FlowSummary(
        flow=str(run_doc.get("flow")), run_id=str(run_doc.get("run_id")), namespace=str(run_doc.get("namespace")),
        metrics=metrics, sources=sources, models=tuple(models), checks=fold_checks(records),
        gate=gate_summary(gate_report), links=links, git_sha=git.get("sha"), branch=git.get("branch"),
        image=run_doc.get("image"),
    )


def summary_tags(summary: FlowSummary) -> dict[str, str]:
    """The parent run's `branchline.summary.*` tags (the run table's columns) and its Markdown description."""
    tags: dict[str, str] = {}
    if summary.models:
        tags[SUMMARY_MODEL_TAG] = ", ".join(f"{name} v{version}" for name, version in summary.models)
    if "model" in summary.links:
        tags[SUMMARY_MODEL_URL_TAG] = summary.links["model"]
    if summary.checks:
        bad = [c.suite for c in summary.checks if not c.success]
        tags[SUMMARY_CHECKS_TAG] = "passed" if not bad else "failed: " + ", ".join(bad)
        tags.update({summary_check_tag(c.suite): c.text() for c in summary.checks})
    if summary.gate is not None:
        tags[SUMMARY_GATE_TAG] = summary.gate.text()
        if summary.gate.detail:
            tags[SUMMARY_GATE_DETAIL_TAG] = summary.gate.detail
    if summary.sources:
        tags[SUMMARY_METRIC_SOURCES_TAG] = ", ".join(f"{m}={t}" for m, t in sorted(summary.sources.items()))
    tags.update({summary_link_tag(kind): url for kind, url in summary.links.items() if kind != "model"})
    tags[NOTE_TAG] = summary_note(summary)
    return tags


def _icon(ok: bool) -> str:
    return "✅" if ok else "❌"


def summary_note(summary: FlowSummary) -> str:
    """The run page's description: verdict, metrics, model, checks and links, in that order (Markdown)."""
    gate = f"{_icon(summary.gate.passed)} gate {summary.gate.text()}" if summary.gate else "no gate verdict"
    lines = [f"**{code(summary.flow, in_table=False)}** run {code(summary.run_id, in_table=False)} in namespace "
             f"{code(summary.namespace, in_table=False)}: {gate}", ""]
    if summary.gate and summary.gate.detail:
        lines += [f"> {code(summary.gate.detail, in_table=False)}", ""]
    if summary.metrics:
        lines += ["| headline metric | value | from task |", "| --- | --- | --- |"]
        lines += [f"| {code(m)} | {number(v)} | {code(summary.sources.get(m, '?'))} |"
                  for m, v in summary.metrics.items()]
        lines.append("")
    if summary.models:
        shown = [f"[{code(n, in_table=False)} v{v}]({model_version_fragment(n, v)})" for n, v in summary.models]
        lines += ["**Registered model**: " + ", ".join(shown), ""]
    if summary.checks:
        lines += ["**Data checks**: " + ", ".join(f"{_icon(c.success)} {code(c.suite, in_table=False)} {c.text()}"
                                                 for c in summary.checks), ""]
    source = []
    if summary.git_sha:
        sha = code(summary.git_sha[:12], in_table=False)
        source.append(f"commit [{sha}]({summary.links['commit']})" if "commit" in summary.links else f"commit {sha}")
    if summary.branch:
        source.append(f"branch {code(summary.branch, in_table=False)}")
    labels = {"pull_request": "pull request", "workflow_run": "workflow run", "execution": "Step Functions execution",
              "image": "image"}
    source += [f"[{label}]({summary.links[kind]})" for kind, label in labels.items() if kind in summary.links]
    if summary.image and "image" not in summary.links:
        source.append(f"image {code(summary.image, in_table=False)}")
    if source:
        lines += ["**Source**: " + " · ".join(source), ""]
    return "\n".join(lines).rstrip() + "\n"


# ----- at the edges
def headline_names(flow: str) -> list[str] | None:
    """The metrics the flow's gate judges (`[tool.branchline.gates.<Flow>] thresholds`); None: no gate here."""
    try:
        thresholds = load_config().get(f"gates.{flow}.thresholds")
    except BranchlineError:
        return None
    return sorted(thresholds) if isinstance(thresholds, dict) and thresholds else None


def read_gate_report(session: TrackingSession, mlflow_run_id: str) -> dict[str, Any] | None:
    """The `gate/report.json` the gate logged on the flow's run, if it judged this run."""
    client = session.client
    listed = session.call("list the gate report", client.list_artifacts, mlflow_run_id, "gate")
    if not any(item.path == GATE_REPORT for item in listed):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = session.call("read the gate report", client.download_artifacts, mlflow_run_id, GATE_REPORT, tmp)
        return json.loads(Path(path).read_text())  # type: ignore[no-any-return]


def write_summary(
    session: TrackingSession, ds: FlowDatastore, link: dict[str, Any], run_doc: dict[str, Any],
    *, headline: list[str] | None = None,
) -> FlowSummary:
    """Summarise the run's evidence onto its parent run (metrics, tags, description) and record the copy."""
    from mlflow.entities import Metric, RunTag

    parent, flow, run_id = str(link["run_id"]), str(run_doc["flow"]), str(run_doc["run_id"])
    records = [r for r in read_flow_evidence(ds, flow, run_id) if r.get("mlflow_run_id") != parent]
    summary = summarize(run_doc, records, headline=headline if headline is not None else headline_names(flow),
                        gate_report=read_gate_report(session, parent), tracking_uri=session.uri)
    now = int(datetime.now(UTC).timestamp() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in summary.metrics.items()]
    tags = [RunTag(k, v) for k, v in summary_tags(summary).items()]
    for batch in chunks(metrics):
        session.call("log the flow run's headline metrics", session.client.log_batch, parent, metrics=batch)
    for batch in chunks(tags):
        session.call("tag the flow run with its summary", session.client.log_batch, parent, tags=batch)
    ds.put_json(flow_evidence_key(ds, flow, run_id, parent), {
        "namespace": ds.namespace, "flow": flow, "run_id": run_id, "step": None, "task_id": None,
        "mlflow_run_id": parent, "runs": {parent: {"metrics": summary.metrics, "checks": {}}},
        "model_versions": [], "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
    })  # fmt: skip
    return summary


def summarize_before_close(session: TrackingSession, ds: FlowDatastore, link: dict[str, Any],
                           run_doc: dict[str, Any]) -> FlowSummary | None:
    """`write_summary` as the run closes: a failure is one line on stderr, never the run's failure."""
    try:
        return write_summary(session, ds, link, run_doc)
    except Exception as exc:  # the run's outcome stands; its summary is a convenience for reviewers
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"branchline: could not summarise {run_doc.get('flow')}/{run_doc.get('run_id')} on its MLflow run: "
              f"{type(exc).__name__}: {first}", file=sys.stderr)
        return None
