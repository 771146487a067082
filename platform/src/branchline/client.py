"""Read runs back: `Run("TrainFlow/<run id>")["train"].task.data.model`, `latest_run("TrainFlow")`.

Reads the datastore of the current project (`.branchline/datastore` by default, or
`BRANCHLINE_DATASTORE`, which may be `s3://...`), in the namespace of this machine's user unless
`namespace("prod")` or `namespace=` says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from branchline.datastore.artifacts import ArtifactRef, FlowDatastore
from branchline.errors import ArtifactError

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
    from branchline.config import load_config
    from branchline.datastore.storage import storage_from_url
    from branchline.runtime.run_info import local_namespace

    url = url or _datastore_url or load_config().datastore_url
    return FlowDatastore(storage_from_url(url), ns or _namespace or local_namespace())


class Data:
    """Artifacts of a task as attributes, loaded on first access."""

    def __init__(self, ds: FlowDatastore, refs: dict[str, ArtifactRef], label: str) -> None:
        self._ds = ds
        self._refs = refs
        self._label = label
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._refs:
            raise AttributeError(f"{self._label} has no artifact {name!r} (artifacts: {', '.join(sorted(self._refs))})")
        if name not in self._cache:
            self._cache[name] = self._ds.load_value(self._refs[name].sha)
        return self._cache[name]

    def __contains__(self, name: str) -> bool:
        return name in self._refs

    def __dir__(self) -> list[str]:
        return sorted(self._refs)

    def __repr__(self) -> str:
        return f"<data of {self._label}: {', '.join(sorted(self._refs))}>"


class Task:
    def __init__(self, ds: FlowDatastore, flow: str, run_id: str, step: str, task_id: str) -> None:
        self._ds, self.flow, self.run_id, self.step, self.id = ds, flow, run_id, step, task_id
        self.pathspec = f"{flow}/{run_id}/{step}/{task_id}"

    @cached_property
    def metadata(self) -> dict[str, Any]:
        return self._ds.read_task_meta(self.flow, self.run_id, self.step, self.id) or {}

    @property
    def successful(self) -> bool:
        return self.metadata.get("status") == "succeeded"

    @property
    def data(self) -> Data:
        refs = self._ds.read_task_artifacts(self.flow, self.run_id, self.step, self.id)
        return Data(self._ds, refs, f"task {self.pathspec}")

    def __getitem__(self, name: str) -> Any:
        return getattr(self.data, name)

    def logs(self, stream: str = "out") -> str:
        attempt = int(self.metadata.get("attempt", 0))
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
        if self._ds.read_run(flow, run_id) is None:
            raise ArtifactError(f"no run {pathspec} in namespace {self._ds.namespace} at {self._ds.storage.url}")

    @property
    def info(self) -> dict[str, Any]:
        return self._ds.read_run(self.flow, self.id) or {}

    @property
    def status(self) -> str:
        return str(self.info.get("status"))

    @property
    def successful(self) -> bool:
        return self.status == "succeeded"

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.info.get("params") or {})

    def steps(self) -> list[Step]:
        names = self.info.get("steps") or []
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
