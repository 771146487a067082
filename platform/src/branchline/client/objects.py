"""Metaflow's client object model on the datastore: `Metaflow`, `Flow`, `Run`, `Step`, `Task`, `DataArtifact`.

Every object reads the scope (namespace and datastore) current when it was made, as Metaflow's do. Semantics
follow Metaflow's documentation and, where it is silent, Metaflow 2.19's behaviour (checked by the differential
tests in tests/metaflow_compat): runs newest first, a run's steps last first, a `@catch`-ed task finished but not
successful, a run `finished` only when its end step finished. Objects outside the namespace raise
`NamespaceMismatch`, missing ones `NotFound`. See docs/metaflow.md for what differs and what is not supported.

The five classes point at each other both ways (`parent`, their children), so they live together; finding a run or
flow in scope, and both errors, are in `lookup.py`; a task's artifacts (`Data`, `DataArtifact`) in `data.py`.
Those names stay importable from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import Any

from branchline.authoring.unsupported import Unsupported
from branchline.client.data import Data, DataArtifact, TaskArtifacts
from branchline.client.lookup import (
    NamespaceMismatch,
    NotFound,
    find_run,
    flows_in_scope,
    require_flow,
    runs_in_scope,
    split_pathspec,
)
from branchline.client.scope import Scope, scope
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, Status, TaskError, TaskRecord
from branchline.datastore.view import ArtifactSource
from branchline.errors import ArtifactError, BranchlineError


def _unsupported(name: str, instead: str) -> BranchlineError:
    return Unsupported(name, name, instead).error()


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _task_order(task_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in task_id.split("-") if p.isdigit())


class Task:
    """One task: `Task('Flow/run/step/task_id')`, or from a `Step`."""

    def __init__(self, pathspec: str, *, namespace: str | None = None, datastore: str | None = None,
                 _ds: FlowDatastore | None = None) -> None:
        flow, run_id, step, task_id = split_pathspec(pathspec, 4, "'Flow/run_id/step/task_id'")
        ds = _ds or find_run(flow, run_id, scope(namespace, datastore))[0]
        if _ds is None and task_id not in ds.list_tasks(flow, run_id, step):
            raise NotFound(f"task {pathspec} does not exist")
        self._ds, self.flow, self.run_id, self.step, self.id = ds, flow, run_id, step, task_id
        self.pathspec = pathspec

    @property
    def path_components(self) -> list[str]:
        return [self.flow, self.run_id, self.step, self.id]

    @property
    def parent(self) -> Step:
        return Step(f"{self.flow}/{self.run_id}/{self.step}", _ds=self._ds)

    @cached_property
    def record(self) -> TaskRecord | None:
        """The task's record; None while its first attempt runs."""
        return self._ds.read_task_record(self.flow, self.run_id, self.step, self.id)

    @property
    def metadata(self) -> dict[str, Any]:
        """The record as plain JSON (what meta.json holds). Metaflow's is a list of entries: see docs/metaflow.md."""
        return self.record.to_json() if self.record else {}

    @property
    def metadata_dict(self) -> dict[str, Any]:
        return self.metadata

    @property
    def index(self) -> int | None:
        """The task's position in its innermost foreach (None outside a foreach)."""
        order = _task_order(self.id)
        return order[-1] if len(order) > 1 else None

    @property
    def successful(self) -> bool:
        """Whether the step's code succeeded: a task whose failure `@catch` caught is finished, not successful."""
        return self.record is not None and self.record.succeeded and self.record.caught is None

    @property
    def finished(self) -> bool:
        return self.record is not None and self.record.succeeded

    @property
    def finished_at(self) -> datetime | None:
        return _when(self.record.finished) if self.finished and self.record else None

    @property
    def created_at(self) -> datetime | None:
        return _when(self.record.started) if self.record else None

    @property
    def exception(self) -> TaskError | None:
        """What the task raised (`type`, `message`, `traceback`), also when `@catch` caught it."""
        if self.record is None:
            return None
        return self.record.caught or (self.record.error if not self.record.succeeded else None)

    @property
    def current_attempt(self) -> int:
        return self.record.attempt if self.record else 0

    @cached_property
    def _source(self) -> ArtifactSource:
        refs = self._ds.read_task_artifacts(self.flow, self.run_id, self.step, self.id)
        return ArtifactSource(self._ds, refs, f"task {self.pathspec}")

    @property
    def data(self) -> Data:
        return Data(self._source)

    @property
    def artifacts(self) -> Data:
        """The task's `DataArtifact`s as attributes (`task.artifacts.model.data`)."""
        return TaskArtifacts(self)

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter([self[name] for name in self._source.names()])

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self._source.refs:
            raise KeyError(name)
        return DataArtifact(self, name, self._source.refs[name])

    def __contains__(self, name: str) -> bool:
        return name in self._source.refs

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

    @property
    def code(self) -> Any:
        raise _unsupported("Task.code", "deployed code packages are in S3 under <namespace>/code/; read the "
                                        "run's flow file from git at its commit (Run.info['git'])")

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"


class Step:
    """The tasks of one step of a run: `Step('Flow/run/step')`, or `run['step']`."""

    def __init__(self, pathspec: str, *, namespace: str | None = None, datastore: str | None = None,
                 _ds: FlowDatastore | None = None) -> None:
        flow, run_id, name = split_pathspec(pathspec, 3, "'Flow/run_id/step'")
        ds = _ds or find_run(flow, run_id, scope(namespace, datastore))[0]
        if _ds is None and not ds.list_tasks(flow, run_id, name):
            raise NotFound(f"step {pathspec} does not exist")
        self._ds, self.flow, self.run_id, self.id = ds, flow, run_id, name
        self.pathspec = pathspec

    @property
    def name(self) -> str:
        return self.id

    @property
    def path_components(self) -> list[str]:
        return [self.flow, self.run_id, self.id]

    @property
    def parent(self) -> Run:
        return Run(f"{self.flow}/{self.run_id}", _found=(self._ds, None))

    def tasks(self, *tags: str) -> list[Task]:
        """The step's tasks, the last of a foreach first (as Metaflow lists them)."""
        if tags:
            raise _unsupported("Step.tasks(*tags)", "tasks carry no tags in branchline; filter on task.data")
        ids = sorted(self._ds.list_tasks(self.flow, self.run_id, self.id), key=_task_order, reverse=True)
        return [Task(f"{self.pathspec}/{i}", _ds=self._ds) for i in ids]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        if task_id not in self._ds.list_tasks(self.flow, self.run_id, self.id):
            raise KeyError(task_id)
        return Task(f"{self.pathspec}/{task_id}", _ds=self._ds)

    @property
    def task(self) -> Task | None:
        """One task of the step (the only one, outside a foreach)."""
        return next(iter(self.tasks()), None)

    @property
    def finished_at(self) -> datetime | None:
        """When the last of its tasks finished; None while any has not."""
        times = [t.finished_at for t in self.tasks()]
        return max(times) if times and all(times) else None  # type: ignore[type-var]

    @property
    def created_at(self) -> datetime | None:
        times = [t for t in (task.created_at for task in self.tasks()) if t is not None]
        return min(times) if times else None

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"


class Run:
    """A run of a flow: `Run('Flow/run_id')`; `run['step']`, `run.data` (the end step's artifacts).

    `namespace=` and `datastore=` (branchline's) read one run of another namespace or datastore root directly.
    """

    def __init__(self, pathspec: str, *, namespace: str | None = None, datastore: str | None = None,
                 _found: tuple[FlowDatastore, RunRecord | None] | None = None) -> None:
        flow, run_id = split_pathspec(pathspec, 2, "'Flow/run_id'")
        ds, record = _found or find_run(flow, run_id, scope(namespace, datastore))
        self._ds, self.flow, self.id, self.pathspec = ds, flow, run_id, pathspec
        self._record = record

    @property
    def path_components(self) -> list[str]:
        return [self.flow, self.id]

    @property
    def parent(self) -> Flow:
        return Flow(self.flow, _scope=Scope(self._ds.storage, self._ds.namespace))

    @property
    def namespace(self) -> str:
        """The branchline namespace the run lives in."""
        return self._ds.namespace

    @property
    def record(self) -> RunRecord:
        record = self._ds.read_run_record(self.flow, self.id)
        if record is None:
            raise NotFound(f"run {self.pathspec} has no run record in {self._ds.storage.url}")
        return record

    @property
    def info(self) -> dict[str, Any]:
        """The run record as plain JSON (what run.json holds)."""
        return self.record.to_json()

    @property
    def status(self) -> Status:
        return self.record.status

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.record.params)

    @property
    def successful(self) -> bool:
        return self.status is Status.SUCCEEDED

    @property
    def finished(self) -> bool:
        """Whether the run's end step finished (a failed run is not finished, as in Metaflow)."""
        return self.successful

    @property
    def finished_at(self) -> datetime | None:
        record = self.record
        return _when(record.finished) if record.status is Status.SUCCEEDED else None

    @property
    def created_at(self) -> datetime | None:
        return _when((self._record or self.record).started)

    @property
    def system_tags(self) -> frozenset[str]:
        """What branchline knows of the run as Metaflow-style tags (runtime, namespace, project)."""
        record = self._record or self.record
        tags = {f"runtime:{record.runtime}", f"namespace:{record.namespace}"}
        if record.project:
            tags.add(f"project:{record.project}")
        return frozenset(tags)

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset()

    @property
    def tags(self) -> frozenset[str]:
        return self.system_tags | self.user_tags

    def add_tag(self, tag: str) -> None:
        raise _unsupported("Run.add_tag", "tag the run's MLflow run instead (its id is in Run.info)")

    add_tags = remove_tag = remove_tags = replace_tag = replace_tags = add_tag

    @property
    def code(self) -> Any:
        raise _unsupported("Run.code", "read the run's flow file from git at its commit (Run.info['git'])")

    def steps(self, *tags: str) -> list[Step]:
        """The steps that ran, the last first (as Metaflow lists them)."""
        if tags:
            raise _unsupported("Run.steps(*tags)", "steps carry no tags in branchline")
        names = [n for n in reversed(self.record.steps) if self._ds.list_tasks(self.flow, self.id, n)]
        return [Step(f"{self.pathspec}/{n}", _ds=self._ds) for n in names]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        if not self._ds.list_tasks(self.flow, self.id, step):
            raise KeyError(step)
        return Step(f"{self.pathspec}/{step}", _ds=self._ds)

    def __contains__(self, step: str) -> bool:
        return bool(self._ds.list_tasks(self.flow, self.id, step))

    @property
    def end_task(self) -> Task | None:
        return self["end"].task if "end" in self else None

    @property
    def data(self) -> Data | None:
        """The end step's artifacts; None until the end step has run."""
        end = self.end_task
        return end.data if end is not None and end.finished else None

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"


class Flow:
    """All runs of a flow in the current namespace, newest first: `Flow('TrainFlow').latest_run`."""

    def __init__(self, name: str, *, namespace: str | None = None, _scope: Scope | None = None) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise NotFound(f"{name!r} is not a flow name (Flow('FlowName'))")
        self.id = self.pathspec = name
        self._scope = _scope or scope(namespace)
        require_flow(name, self._scope)

    @property
    def name(self) -> str:
        return self.id

    @property
    def path_components(self) -> list[str]:
        return [self.id]

    def runs(self, *tags: str) -> list[Run]:
        """The flow's runs in scope, newest first; with tags, only runs carrying all of them (`Run.tags`)."""
        found = runs_in_scope(self.id, self._scope)
        runs = [Run(f"{self.id}/{run_id}", _found=(there, record)) for run_id, there, record in found]
        return [r for r in runs if set(tags) <= r.tags] if tags else runs

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        try:
            return Run(f"{self.id}/{run_id}", _found=find_run(self.id, run_id, self._scope))
        except NotFound:
            raise KeyError(run_id) from None

    @property
    def latest_run(self) -> Run | None:
        """The newest run, finished or not, successful or not (Metaflow's `latest_run`)."""
        return next(iter(self.runs()), None)

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)

    def __repr__(self) -> str:
        return f"Flow('{self.id}')"


class Metaflow:
    """The flows that have a run in the current namespace: `Metaflow().flows`."""

    def __init__(self) -> None:
        self._scope = scope()

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        return iter([Flow(name, _scope=self._scope) for name in flows_in_scope(self._scope)])

    def __getitem__(self, name: str) -> Flow:
        return Flow(name, _scope=self._scope)

    def __repr__(self) -> str:
        return "Metaflow()"


def latest_run(flow: str, *, namespace: str | None = None, successful: bool | None = True) -> Run:
    """The newest *successful* run of `flow` (Metaflow's `Flow(flow).latest_successful_run`), so that
    `latest_run("TrainFlow").data` keeps working after a failed attempt; `successful=False` is the newest failed
    run, `successful=None` the newest run whatever its state (Metaflow's `latest_run`). An error when none."""
    try:
        runs = Flow(flow, namespace=namespace).runs()
    except (NotFound, NamespaceMismatch):
        runs = []
    newest = runs[0] if runs else None
    if successful is not None:
        wanted = Status.SUCCEEDED if successful else Status.FAILED
        runs = [r for r in runs if r.status is wanted]
    if runs:
        return runs[0]
    kind = {True: "successful ", False: "failed ", None: ""}[successful]
    hint = None
    if newest is not None:
        hint = f"its newest run is {newest.pathspec} ({newest.status.value}): latest_run({flow!r}, successful=None)"
    raise ArtifactError(f"no {kind}run of {flow} found", hint=hint)
