"""Read runs back: `Run("TrainFlow/<run id>")["train"].task.data.model`, `latest_run("TrainFlow")`.

Reads the datastore of the current project (`.branchline/datastore` by default, or
`BRANCHLINE_DATASTORE`, which may be `s3://...`), in the namespace of this machine's user unless
`namespace("prod")` or `namespace=` says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from branchline.aws.session import client as aws_client
from branchline.config import load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, Status, TaskRecord
from branchline.datastore.storage import storage_from_url
from branchline.datastore.view import ArtifactSource
from branchline.errors import ArtifactError
from branchline.runtime.run_info import local_namespace

_namespace: str | None = None
_datastore_url: str | None = None


def namespace(ns: str | None) -> None:
    """Read runs of another namespace (e.g. `prod` or a branch's `br-...`)."""
    global _namespace
    _namespace = ns


def datastore(url: str | None) -> None:
    """Read from another datastore root (a directory or s3://bucket/branchline/<project>)."""
    global _datastore_url
    _datastore_url = url


def _open(ns: str | None, url: str | None = None) -> FlowDatastore:
    url = url or _datastore_url or load_config().datastore_url
    storage = storage_from_url(url, s3_client=lambda: aws_client("s3"))
    return FlowDatastore(storage, ns or _namespace or local_namespace())


class Data:
    """Artifacts of a task as attributes, each loaded on first access (the tasks' own lazy view)."""

    def __init__(self, source: ArtifactSource) -> None:
        self._source = source

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._source.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._source

    def __dir__(self) -> list[str]:
        return self._source.names()

    def __repr__(self) -> str:
        return f"<data of {self._source.label}: {', '.join(self._source.names())}>"


class Task:
    def __init__(self, ds: FlowDatastore, flow: str, run_id: str, step: str, task_id: str) -> None:
        self._ds, self.flow, self.run_id, self.step, self.id = ds, flow, run_id, step, task_id
        self.pathspec = f"{flow}/{run_id}/{step}/{task_id}"

    @cached_property
    def record(self) -> TaskRecord | None:
        """The task's record; None while its first attempt runs."""
        return self._ds.read_task_record(self.flow, self.run_id, self.step, self.id)

    @property
    def metadata(self) -> dict[str, Any]:
        """The record as plain JSON (what meta.json holds)."""
        return self.record.to_json() if self.record else {}

    @property
    def successful(self) -> bool:
        return self.record is not None and self.record.succeeded

    @property
    def data(self) -> Data:
        refs = self._ds.read_task_artifacts(self.flow, self.run_id, self.step, self.id)
        return Data(ArtifactSource(self._ds, refs, f"task {self.pathspec}"))

    def __getitem__(self, name: str) -> Any:
        return getattr(self.data, name)

    def logs(self, stream: str = "out") -> str:
        attempt = self.record.attempt if self.record else 0
        key = self._ds.log_key(self.flow, self.run_id, self.step, self.id, attempt, stream)
        try:
            return self._ds.storage.get_bytes(key).decode(errors="replace")
        except KeyError:
            return ""

    @property
    def stdout(self) -> str:
        return self.logs("out")

    @property
    def stderr(self) -> str:
        return self.logs("err")

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"


class Step:
    def __init__(self, ds: FlowDatastore, flow: str, run_id: str, name: str) -> None:
        self._ds, self.flow, self.run_id, self.name = ds, flow, run_id, name

    def tasks(self) -> list[Task]:
        ids = self._ds.list_tasks(self.flow, self.run_id, self.name)
        return [Task(self._ds, self.flow, self.run_id, self.name, i) for i in sorted(ids, key=_task_order)]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    @property
    def task(self) -> Task:
        tasks = self.tasks()
        if not tasks:
            raise ArtifactError(f"step {self.flow}/{self.run_id}/{self.name} has no tasks")
        return tasks[0]

    def __repr__(self) -> str:
        return f"Step('{self.flow}/{self.run_id}/{self.name}')"


def _task_order(task_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in task_id.split("-") if p.isdigit())


class Run:
    """A run of a flow: `Run("Flow/run_id")`; `run["step"]`, `run.data` (the end step's artifacts)."""

    def __init__(self, pathspec: str, *, namespace: str | None = None, datastore: str | None = None) -> None:
        flow, _, run_id = pathspec.partition("/")
        if not flow or not run_id:
            raise ArtifactError(f"a run is named 'Flow/run_id', not {pathspec!r}")
        self._ds = _open(namespace, datastore)
        self.flow, self.id, self.pathspec = flow, run_id, pathspec
        if self._ds.read_run_record(flow, run_id) is None:
            raise ArtifactError(f"no run {pathspec} in namespace {self._ds.namespace} at {self._ds.storage.url}")

    @property
    def record(self) -> RunRecord:
        record = self._ds.read_run_record(self.flow, self.id)
        if record is None:
            raise ArtifactError(f"run {self.pathspec} has no run record in {self._ds.storage.url}")
        return record

    @property
    def info(self) -> dict[str, Any]:
        """The run record as plain JSON (what run.json holds)."""
        return self.record.to_json()

    @property
    def status(self) -> Status:
        return self.record.status

    @property
    def successful(self) -> bool:
        return self.status is Status.SUCCEEDED

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.record.params)

    def steps(self) -> list[Step]:
        names = self.record.steps
        return [Step(self._ds, self.flow, self.id, n) for n in names if self._ds.list_tasks(self.flow, self.id, n)]

    def __getitem__(self, step: str) -> Step:
        if not self._ds.list_tasks(self.flow, self.id, step):
            raise KeyError(f"run {self.pathspec} has no step {step!r}")
        return Step(self._ds, self.flow, self.id, step)

    @property
    def data(self) -> Data:
        return self["end"].task.data

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"


class Flow:
    def __init__(self, name: str, *, namespace: str | None = None) -> None:
        self.name = name
        self._ns = namespace

    def runs(self) -> list[Run]:
        ds = _open(self._ns)
        return [Run(f"{self.name}/{r}", namespace=ds.namespace) for r in reversed(ds.list_runs(self.name))]

    @property
    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)


def latest_run(flow: str, *, namespace: str | None = None, successful: bool = False) -> Run:
    runs = Flow(flow, namespace=namespace).runs()
    if successful:
        runs = [r for r in runs if r.successful]
    if not runs:
        raise ArtifactError(f"no {'successful ' if successful else ''}run of {flow} found")
    return runs[0]
