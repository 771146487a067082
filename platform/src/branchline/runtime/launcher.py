"""Start a local run (or a resume) of a flow: validate, record the run, schedule, report."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import declared_parameters
from branchline.config import Config, load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage
from branchline.errors import FlowError
from branchline.graph.model import FlowGraph
from branchline.runtime.display import Reporter
from branchline.runtime.loader import graph_from_class
from branchline.runtime.local import LocalRunner, RunOptions, RunResult, failure_message
from branchline.runtime.run_info import ci_context, git_context, local_namespace, new_run_id
from branchline.runtime.task import now_iso


def resolve_params(flow_cls: type[FlowSpec], raw: dict[str, Any]) -> dict[str, Any]:
    params = {p.name: p.resolve(raw.get(p.name)) for p in declared_parameters(flow_cls)}
    unknown = sorted(set(raw) - set(params))
    if unknown:
        raise FlowError(f"unknown parameter(s): {', '.join(unknown)}")
    return params


def _json_params(params: dict[str, Any], ds: FlowDatastore) -> dict[str, Any]:
    """Run-document form of the parameters; binary IncludeFile contents go to the object store."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, bytes):
            out[name] = {"__branchline_artifact__": ds.save_value(value).sha}
        else:
            out[name] = value
    return out


class LocalSession:
    """Everything a local run needs, derived once from the flow class and the project config."""

    def __init__(self, flow_cls: type[FlowSpec], console: Console | None = None) -> None:
        self.flow_cls = flow_cls
        self.console = console or Console(highlight=False)
        self.flow_file = Path(inspect.getsourcefile(flow_cls) or "flow.py")
        self.config: Config = load_config(self.flow_file.parent)
        self.graph: FlowGraph = graph_from_class(flow_cls)
        self.namespace = local_namespace()
        url = self.config.datastore_url
        if url.startswith("s3://"):
            raise FlowError(
                "local runs keep artifacts on this machine; unset BRANCHLINE_DATASTORE / tool.branchline.datastore",
            )
        self.ds = FlowDatastore(LocalStorage(url), self.namespace)

    def display_file(self) -> str:
        try:
            return str(self.flow_file.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(self.flow_file)

    def run(self, params: dict[str, Any], options: RunOptions, *, wait_tracking: bool = False) -> RunResult:
        run_id = options.run_id or new_run_id()
        flow = self.graph.name
        if self.ds.read_run(flow, run_id) is not None:
            raise FlowError(f"run {flow}/{run_id} already exists; choose another --run-id")
        doc: dict[str, Any] = {
            "flow": flow,
            "run_id": run_id,
            "namespace": self.namespace,
            "project": self.config.project,
            "status": "running",
            "params": _json_params(params, self.ds),
            "started": now_iso(),
            "finished": None,
            "git": git_context(self.config.root),
            "ci": ci_context(),
            "image": None,
            "execution_arn": None,
            "origin_run_id": options.origin_run_id,
            "flow_file": self.display_file(),
            "tracking_uri": self.config.tracking_uri if self.config.tracking_enabled else None,
            "steps": list(self.graph.steps),
            "runtime": "local",
        }
        self.ds.write_run(flow, run_id, doc)
        from branchline.runtime.tracking_bridge import TrackingBridge

        bridge = None
        if self.config.tracking_enabled:
            bridge = TrackingBridge.start(self.config, self.ds, doc, wait=wait_tracking)
        reporter = Reporter(list(self.graph.steps), console=self.console, quiet=options.quiet)
        verb = "resuming" if options.origin_run_id else "running"
        if not options.quiet:
            self.console.print(f"[bold]{verb}[/] {flow}/{run_id} (namespace {self.namespace})")
        t0 = time.perf_counter()
        runner = LocalRunner(
            self.flow_cls,
            self.graph,
            self.ds,
            run_id=run_id,
            params=params,
            options=options,
            reporter=reporter,
            tracking_factory=bridge.task_tracking if bridge else None,
        )
        try:
            result = runner.execute()
        finally:
            reporter.close()
            final = "succeeded" if runner._failed is None else "failed"
            self.ds.write_run(flow, run_id, {**doc, "status": final, "finished": now_iso()})
        elapsed = time.perf_counter() - t0
        if bridge is not None:
            bridge.after_run(wait=wait_tracking, console=None if options.quiet else self.console)
        if result.status != "succeeded":
            raise failure_message(result, self.display_file())
        if not options.quiet:
            storage: LocalStorage = self.ds.storage  # type: ignore[assignment]
            where = storage.local_path(self.ds.run_key(flow, run_id))
            cloned = f", {result.cloned} task(s) reused" if result.cloned else ""
            self.console.print(f"[green]done[/] {flow}/{run_id} in {elapsed:.2f}s{cloned}")
            self.console.print(f"  artifacts: {where}", soft_wrap=True)
            self.console.print(f"  read them: Run('{flow}/{run_id}')['end'].task.data")
        return result

    def latest_run_id(self, status: str | None = None) -> str | None:
        runs = self.ds.list_runs(self.graph.name)
        for run_id in reversed(runs):
            if status is None:
                return run_id
            doc = self.ds.read_run(self.graph.name, run_id) or {}
            if doc.get("status") == status:
                return run_id
        return None

    def origin_params(self, origin_run_id: str) -> dict[str, Any]:
        doc = self.ds.read_run(self.graph.name, origin_run_id)
        if doc is None:
            raise FlowError(f"no run {self.graph.name}/{origin_run_id} in namespace {self.namespace}")
        params = {}
        for name, value in (doc.get("params") or {}).items():
            if isinstance(value, dict) and "__branchline_artifact__" in value:
                value = self.ds.load_value(value["__branchline_artifact__"])
            params[name] = value
        return params
