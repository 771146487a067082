"""What a task holds, as Metaflow's client shows it: its artifacts by name (`task.data.model`, loaded on first
access) and as `DataArtifact`s (`task['model'].sha`, `task.artifacts.model.data`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from branchline.datastore.artifacts import ArtifactRef
from branchline.datastore.view import ArtifactSource

if TYPE_CHECKING:  # a DataArtifact belongs to a Task, which makes them (objects.py imports this module)
    from branchline.client.objects import Task


class DataArtifact:
    """One artifact of a task: its value (`data`, loaded on first access) and where it is stored."""

    def __init__(self, task: Task, name: str, ref: ArtifactRef) -> None:
        self._task, self.id, self._ref = task, name, ref
        self.pathspec = f"{task.pathspec}/{name}"

    @property
    def data(self) -> Any:
        return self._task._source.get(self.id)

    @property
    def sha(self) -> str:
        return self._ref.sha

    @property
    def size(self) -> int:
        return self._ref.size

    @property
    def finished_at(self) -> datetime | None:
        return self._task.finished_at

    @property
    def created_at(self) -> datetime | None:
        return self._task.finished_at

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"


class Data:
    """A task's artifacts as attributes (`task.data.model`), each loaded on first access."""

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


class TaskArtifacts(Data):
    """A task's `DataArtifact`s as attributes (`task.artifacts.model`)."""

    def __init__(self, task: Task) -> None:
        super().__init__(task._source)
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._task[name]
        except KeyError:
            raise AttributeError(f"{self._task} has no artifact {name!r}") from None
