"""Start a local run (or a resume) of a flow: validate, record the run, schedule, report."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from branchline.authoring.attach import Attached, attach
from branchline.authoring.compute import pypi_requirements
from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import declared_parameters
from branchline.authoring.project import BRANCH_ENV, Placement, agreed_project, project_of
from branchline.aws.compile.compute import step_compute
from branchline.aws.session import client
from branchline.config import Config, load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, Status, new_run_id
from branchline.datastore.storage import LocalStorage
from branchline.errors import FlowError, RunFailed
from branchline.graph.model import FlowGraph
from branchline.runtime.batch_executor import BatchTasks
from branchline.runtime.display import Reporter
from branchline.runtime.entrypoint import TaskSpec
from branchline.runtime.loader import graph_from_class
from branchline.runtime.local import LocalRunner, RunOptions, RunResult
from branchline.runtime.pypi_env import ensure_env, exec_command
from branchline.runtime.run_info import ci_context, git_context, local_namespace, local_placement
from branchline.runtime.tracking_bridge import TrackingBridge

ARTIFACT_PARAM = "__branchline_artifact__"
"""How the run record holds a binary IncludeFile: the sha of its content in the object store."""


def resolve_params(flow_cls: type[FlowSpec], raw: dict[str, Any]) -> dict[str, Any]:
    params = {p.name: p.resolve(raw.get(p.name)) for p in declared_parameters(flow_cls)}
    unknown = sorted(set(raw) - set(params))
    if unknown:
        raise FlowError(f"unknown parameter(s): {', '.join(unknown)}")
    return params


def _json_params(params: dict[str, Any], ds: FlowDatastore) -> dict[str, Any]:
    """Run-record form of the parameters; binary IncludeFile contents go to the object store."""
    return {
        name: {ARTIFACT_PARAM: ds.save_value(value).sha} if isinstance(value, bytes) else value
        for name, value in params.items()
    }


def failure_message(result: RunResult, flow_file: Path | str) -> RunFailed:
    failed = result.failed_task
    assert failed is not None and failed.error is not None, "a failed run names its failed task"
    logs = failed.log_paths
    lines = [
        f"step '{failed.step}' failed (task {failed.task_id}, attempt {failed.attempt + 1}): {failed.error.message}",
    ]
    if failed.error.frames:
        lines.append("in your code (the last frames; the .err log has the whole traceback):")
        lines.append(failed.error.frames.rstrip("\n"))
    if logs:
        lines.append(f"logs: {logs[0]}\n      {logs[1] if len(logs) > 1 else ''}".rstrip())
    lines.append(f"resume from the failure with: python {flow_file} resume {result.run_id}")
    return RunFailed("\n".join(lines))


def run_reference(flow: str, run_id: str, namespace: str) -> str:
    """How the user reads a run back in Python: the namespace is spelled out when it is not the one the
    client reads by default (this user's), or `Run(...)` would not find it."""
    if namespace == local_namespace():
        return f"Run('{flow}/{run_id}')"
    return f"Run('{flow}/{run_id}', namespace='{namespace}')"


def flow_config(flow_cls: type[FlowSpec], start: Path) -> Config:
    """The project's configuration as the flow sees it: `@project`'s name is the project (they must agree)."""
    config = load_config(start)
    where = str(config.source or config.root / "pyproject.toml")
    project = agreed_project(project_of(flow_cls), config.get("project"), where)
    if project is None or project == config.get("project"):
        return config
    return replace(config, data={**config.data, "project": project})


class LocalSession:
    """Everything a local run needs, derived once from the flow class and the project config."""

    def __init__(
        self,
        flow_cls: type[FlowSpec],
        console: Console | None = None,
        placement: Placement | None = None,
        attached: Sequence[Attached] = (),
    ) -> None:
        self.flow_cls = flow_cls
        self.console = console or Console(highlight=False)
        self.flow_file = Path(inspect.getsourcefile(flow_cls) or "flow.py")
        self.config: Config = flow_config(flow_cls, self.flow_file.parent)
        self.attached = list(attached)
        self.graph: FlowGraph = attach(graph_from_class(flow_cls), self.attached)
        self.placement = placement or local_placement(flow_cls)
        self.namespace = self.placement.namespace
        url = self.config.datastore_url
        if url.startswith("s3://"):
            raise FlowError(
                "local runs keep artifacts on this machine; unset BRANCHLINE_DATASTORE / tool.branchline.datastore",
            )
        self.logs = LocalStorage(url)
        computes = {node.name: step_compute(node) for node in self.graph}
        self.batch_steps = [name for name, c in computes.items() if c.on_batch]
        self.local_pypi = {name: c for name, c in computes.items() if c.pypi is not None and not c.on_batch}
        self.ds = FlowDatastore(self.logs, self.namespace)
        if self.batch_steps:  # containers and local workers must read each other's artifacts: S3
            self.ds = _user_batch().s3_datastore(self.config, self.namespace)

    def display_file(self) -> str:
        try:
            return str(self.flow_file.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(self.flow_file)

    def run(self, params: dict[str, Any], options: RunOptions, *, wait_tracking: bool = False) -> RunResult:
        run_id = options.run_id or new_run_id()
        flow = self.graph.name
        if self.ds.read_run_record(flow, run_id) is not None:
            raise FlowError(f"run {flow}/{run_id} already exists; choose another --run-id")
        exec_task = self._pypi_envs()
        prepared = None
        if self.batch_steps:
            if not options.quiet:
                self.console.print(f"[bold]batch[/] {', '.join(self.batch_steps)}: preparing {self.namespace}")
            prepared = _user_batch().prepare(self.config, self.graph, self.flow_file, self.namespace, self.attached,
                                             log=lambda line: None if options.quiet else self.console.print(
                                                 f"  {line}", markup=False, soft_wrap=True))  # fmt: skip
        record = RunRecord.starting(
            flow,
            run_id,
            self.namespace,
            runtime="hybrid" if self.batch_steps else "local",
            steps=tuple(self.graph.steps),
            params=_json_params(params, self.ds),
            project=self.config.project,
            flow_file=self.display_file(),
            tracking_uri=self.config.tracking_uri if self.config.tracking_enabled else None,
            git=git_context(self.config.root),
            ci=ci_context(),
            origin_run_id=options.origin_run_id,
        )
        self.ds.write_run_record(record)
        if project_of(self.flow_cls) is not None:  # current.branch_name in the tasks (forked: they inherit it)
            os.environ[BRANCH_ENV] = self.placement.branch_name
            if prepared:  # and the Batch jobs' containers
                prepared.environment[BRANCH_ENV] = self.placement.branch_name
        if self.batch_steps:  # `Run(...)` on this machine finds it as it finds a local run
            FlowDatastore(self.logs, self.namespace).write_elsewhere(flow, run_id, self.ds.storage.url)
        bridge = None
        if self.config.tracking_enabled:
            bridge = TrackingBridge.start(self.config, self.ds, record, wait=wait_tracking)
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
            remote=BatchTasks(prepared.steps, prepared.environment, client, reporter) if prepared else None,
            logs=self.logs,
            exec_task=exec_task,
        )
        result: RunResult | None = None
        try:
            result = runner.execute()
        finally:
            reporter.close()
            succeeded = result is not None and result.status is Status.SUCCEEDED
            self.ds.write_run_record(record.ended(Status.SUCCEEDED if succeeded else Status.FAILED))
        elapsed = time.perf_counter() - t0
        if bridge is not None:
            bridge.after_run(wait=wait_tracking, console=None if options.quiet else self.console)
        assert result is not None  # execute() returned
        if result.status is not Status.SUCCEEDED:
            raise failure_message(result, self.display_file())
        if not options.quiet:
            storage = self.ds.storage
            where = (storage.local_path(self.ds.run_key(flow, run_id)) if isinstance(storage, LocalStorage)
                     else f"{storage.url}/{self.ds.run_key(flow, run_id)}")  # fmt: skip
            cloned = f", {result.cloned} task(s) reused" if result.cloned else ""
            self.console.print(f"[green]done[/] {flow}/{run_id} in {elapsed:.2f}s{cloned}")
            self.console.print(f"  artifacts: {where}", soft_wrap=True)
            self.console.print(f"  read them: {run_reference(flow, run_id, self.namespace)}['end'].task.data",
                               soft_wrap=True)
        return result

    def _pypi_envs(self) -> Any:
        """Build (once per hash) the virtualenvs of the local `@pypi` steps; the worker execs into them."""
        if not self.local_pypi:
            return None
        envs = {name: ensure_env(self.config.root, pypi_requirements(dict(c.pypi or ())), c.python)
                for name, c in self.local_pypi.items()}  # fmt: skip

        def exec_task(spec: TaskSpec) -> tuple[str, list[str], dict[str, str]] | None:
            interpreter = envs.get(spec.step)
            if interpreter is None:
                return None
            return exec_command(interpreter, spec, flow_file=self.flow_file, flow=self.graph.name,
                                datastore=self.ds.storage.url, attached=self.attached)  # fmt: skip

        return exec_task

    def latest_run_id(self, status: Status | None = None) -> str | None:
        runs = self.ds.list_runs(self.graph.name)
        for run_id in reversed(runs):
            if status is None:
                return run_id
            record = self.ds.read_run_record(self.graph.name, run_id)
            if record is not None and record.status is status:
                return run_id
        return None

    def origin_params(self, origin_run_id: str) -> dict[str, Any]:
        record = self.ds.read_run_record(self.graph.name, origin_run_id)
        if record is None:
            raise FlowError(
                f"no run {self.graph.name}/{origin_run_id} in namespace {self.namespace} ({self.ds.storage.url})",
                hint="a run with steps on Batch keeps its artifacts in S3 and a local one on this machine: resume "
                "with the same --with batch (or none) as the run had",
            )
        return {
            name: self.ds.load_value(value[ARTIFACT_PARAM])
            if isinstance(value, dict) and ARTIFACT_PARAM in value
            else value
            for name, value in record.params.items()
        }


def _user_batch() -> Any:
    """The deployer's preparation of Batch steps: imported only when a step goes to Batch (boto3, docker)."""
    from branchline.aws.deploy import user_batch  # the second upward import on purpose (tests/platform/test_layers)

    return user_batch
