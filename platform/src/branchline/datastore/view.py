"""Reading a run the way a task and the client do: lazily, each artifact loaded once, each record read once.

`ArtifactSource` is the one lazy view of a task's artifacts: `FlowSpec` reads inherited artifacts through it,
join inputs and foreach items come from it, and `client.Task.data` wraps it. `RunView` is what one task reads
of its run (the records and artifacts of other tasks), so the task entry point asks one object, not the
storage, and reads nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from branchline.datastore.artifacts import ArtifactRef, FlowDatastore
from branchline.datastore.records import TaskRecord
from branchline.errors import FlowError


class ArtifactSource:
    """A task's artifacts by name, each unpickled on first access (by content hash) and kept."""

    def __init__(self, datastore: FlowDatastore | None, refs: dict[str, ArtifactRef], label: str) -> None:
        self.datastore = datastore
        self.refs = dict(refs)
        self.label = label
        self.loaded: dict[str, Any] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.refs

    def names(self) -> list[str]:
        return sorted(self.refs)

    def get(self, name: str) -> Any:
        if name in self.loaded:
            return self.loaded[name]
        if name not in self.refs:
            known = ", ".join(self.names()) or "none"
            raise AttributeError(f"{self.label} has no artifact {name!r} (artifacts: {known})")
        assert self.datastore is not None, "an artifact ref without a datastore to load it from"
        value = self.datastore.load_value(self.refs[name].sha)
        self.loaded[name] = value
        return value


class RunView:
    """The tasks of one run, as another task of it reads them (records and artifacts, each read once)."""

    def __init__(self, datastore: FlowDatastore, flow: str, run_id: str) -> None:
        self.datastore, self.flow, self.run_id = datastore, flow, run_id
        self._records: dict[tuple[str, str], TaskRecord] = {}
        self._refs: dict[tuple[str, str], dict[str, ArtifactRef]] = {}

    def record(self, step: str, task_id: str) -> TaskRecord | None:
        """The task's record; kept once it exists (ask only for tasks that have ended for good)."""
        key = (step, task_id)
        if key not in self._records:
            record = self.datastore.read_task_record(self.flow, self.run_id, step, task_id)
            if record is None:
                return None
            self._records[key] = record
        return self._records[key]

    def num_splits(self, step: str, task_id: str) -> int:
        """How many items a finished foreach task fanned out to."""
        record = self.record(step, task_id)
        if record is None or record.foreach_num_splits is None:
            raise FlowError(f"foreach task {self.flow}/{self.run_id}/{step}/{task_id} has not finished")
        return record.foreach_num_splits

    def artifacts(self, step: str, task_id: str, label: str) -> ArtifactSource:
        """A new source over the task's artifacts (its owner may change its refs: `merge_artifacts`)."""
        key = (step, task_id)
        if key not in self._refs:
            self._refs[key] = self.datastore.read_task_artifacts(self.flow, self.run_id, step, task_id)
        return ArtifactSource(self.datastore, self._refs[key], label)

    def foreach_value(self, step: str, task_id: str, index: int, var: str) -> Callable[[], Any]:
        """A loader of item `index` of a finished foreach task: only that item is read (by its offsets), once.

        A cloned foreach task's values are where its source run wrote them; a run written before values were
        indexed has only the list artifact `var`, which is then read whole.
        """
        loaded: list[Any] = []

        def load() -> Any:
            if not loaded:
                record = self.record(step, task_id)
                source = record.source_run_id if record is not None else self.run_id
                try:
                    value = self.datastore.read_foreach_value(self.flow, source, step, task_id, index)
                except KeyError:
                    value = self.artifacts(step, task_id, f"foreach {step}").get(var)[index]
                loaded.append(value)
            return loaded[0]

        return load
