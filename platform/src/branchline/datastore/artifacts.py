"""One namespace of a datastore: content-addressed artifacts and the run and task records.

Artifacts are pickled once per content (sha256) and shared by every run of the namespace; a task's
`artifacts.json` maps its artifact names to them. Keys come from `layout.py`, records from `records.py`.
The plain-JSON readers (`read_run`, `read_task_meta`, ...) serve tracking/, which reads the documents as
dicts until it moves to the records.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from branchline.datastore import indexed, layout
from branchline.datastore.records import RunRecord, TaskRecord
from branchline.datastore.storage import LocalStorage, Storage
from branchline.errors import ArtifactError


class _HashingWriter:
    """A file-like sink that hashes what pickle writes while streaming it to disk."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


@dataclass(frozen=True)
class ArtifactRef:
    sha: str
    size: int
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"sha": self.sha, "size": self.size, "type": self.type}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactRef:
        return cls(sha=data["sha"], size=data.get("size", 0), type=data.get("type", ""))


@contextmanager
def _picklable(value: Any) -> Iterator[None]:
    """A pickling failure as one clear error naming the value's type."""
    try:
        yield
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(
            f"cannot store a value of type {type(value).__name__}: {exc}",
            hint="artifacts must be picklable; keep open files, locks and clients out of self",
        ) from None


class FlowDatastore:
    """Artifacts and records of one namespace, on any Storage backend."""

    def __init__(self, storage: Storage, namespace: str) -> None:
        self.storage = storage
        self.namespace = namespace
        self._tmpdir = storage.local_path(f"{namespace}/.tmp") if isinstance(storage, LocalStorage) else None

    # ----- keys
    def object_key(self, sha: str) -> str:
        return layout.object_key(self.namespace, sha)

    def run_key(self, flow: str, run_id: str) -> str:
        return layout.run_key(self.namespace, flow, run_id)

    def task_key(self, flow: str, run_id: str, step: str, task_id: str) -> str:
        return layout.task_key(self.namespace, flow, run_id, step, task_id)

    def log_key(self, flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
        return layout.log_key(self.namespace, flow, run_id, step, task_id, attempt, stream)

    # ----- artifacts
    @contextmanager
    def _temp_file(self, prefix: str) -> Iterator[tuple[IO[bytes], Path]]:
        """A temp file next to the store (a local store adopts it without a copy), deleted afterwards."""
        tmp_dir = self._tmpdir
        if tmp_dir is not None:
            tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w+b") as handle:
                yield handle, tmp
        finally:
            tmp.unlink(missing_ok=True)

    def _store_file(self, key: str, tmp: Path) -> None:
        if isinstance(self.storage, LocalStorage):
            self.storage.adopt_file(key, tmp)
        else:
            self.storage.put_file(key, tmp)

    def save_value(self, value: Any) -> ArtifactRef:
        """Pickle `value` to a temp file while hashing it; store it once under its hash."""
        with self._temp_file("artifact-") as (handle, tmp):
            writer = _HashingWriter(handle)
            with _picklable(value):
                pickle.dump(value, writer, protocol=pickle.HIGHEST_PROTOCOL)
            handle.close()
            sha = writer.digest.hexdigest()
            key = self.object_key(sha)
            if not self.storage.exists(key):
                self._store_file(key, tmp)
            return ArtifactRef(sha=sha, size=writer.size, type=type(value).__name__)

    def load_value(self, sha: str) -> Any:
        try:
            with self.storage.open_read(self.object_key(sha)) as handle:
                return pickle.load(handle)
        except KeyError:
            raise ArtifactError(f"artifact object {sha} is missing from {self.storage.url}") from None

    def write_task_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, refs: dict[str, ArtifactRef]
    ) -> None:
        data = {name: ref.to_json() for name, ref in sorted(refs.items())}
        self.put_json(f"{self.task_key(flow, run_id, step, task_id)}/{layout.TASK_ARTIFACTS}", data)

    def read_task_artifacts(self, flow: str, run_id: str, step: str, task_id: str) -> dict[str, ArtifactRef]:
        data = self.try_json(f"{self.task_key(flow, run_id, step, task_id)}/{layout.TASK_ARTIFACTS}")
        if data is None:
            raise ArtifactError(f"task {flow}/{run_id}/{step}/{task_id} has no committed artifacts")
        return {name: ArtifactRef.from_json(ref) for name, ref in data.items()}

    # ----- JSON documents
    def put_json(self, key: str, data: Any) -> None:
        self.storage.put_bytes(key, json.dumps(data, indent=1, sort_keys=True, default=str).encode())

    def get_json(self, key: str) -> Any:
        return json.loads(self.storage.get_bytes(key))

    def try_json(self, key: str) -> Any | None:
        try:
            return self.get_json(key)
        except KeyError:
            return None

    # ----- records
    def write_run_record(self, record: RunRecord) -> None:
        self.write_run(record.flow, record.run_id, record.to_json())

    def read_run_record(self, flow: str, run_id: str) -> RunRecord | None:
        data = self.read_run(flow, run_id)
        return RunRecord.from_json(data) if data is not None else None

    def write_task_record(self, record: TaskRecord) -> None:
        self.write_task_meta(record.flow, record.run_id, record.step, record.task_id, record.to_json())

    def read_task_record(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord | None:
        data = self.read_task_meta(flow, run_id, step, task_id)
        return TaskRecord.from_json(data) if data is not None else None

    def write_foreach_items(self, flow: str, run_id: str, step: str, task_id: str, count: int) -> None:
        """The task ids of a foreach's items, for the Distributed Map that runs them on AWS."""
        self.write_map_items(flow, run_id, step, task_id, [{"task_id": f"{task_id}-{i}"} for i in range(count)])

    def write_map_items(self, flow: str, run_id: str, step: str, task_id: str, items: list[dict[str, Any]]) -> None:
        """The list a foreach's Distributed Map reads (compact: at 10,000 items it is read once, whole)."""
        key = layout.foreach_items_key(self.namespace, flow, run_id, step, task_id)
        self.storage.put_bytes(key, json.dumps(items, separators=(",", ":")).encode())

    def write_foreach_values(self, flow: str, run_id: str, step: str, task_id: str, values: Sequence[Any]) -> None:
        """The values a foreach fans out over, written once, each readable alone by its index."""
        with self._temp_file("foreach-") as (handle, tmp):
            with _picklable(values):
                indexed.write_indexed(values, handle)
            handle.close()
            self._store_file(layout.foreach_values_key(self.namespace, flow, run_id, step, task_id), tmp)

    def read_foreach_value(self, flow: str, run_id: str, step: str, task_id: str, index: int) -> Any:
        """Value `index` of a foreach task's values: two ranged reads (KeyError: the task wrote none)."""
        key = layout.foreach_values_key(self.namespace, flow, run_id, step, task_id)
        offsets = self.storage.get_range(key, *indexed.offsets_range(index))
        return indexed.load_value(self.storage.get_range(key, *indexed.value_range(offsets)))

    def clone_task(
        self, flow: str, origin_run_id: str, run_id: str, step: str, task_id: str, *, items: bool = True
    ) -> TaskRecord | None:
        """Resume: copy a task that succeeded in `origin_run_id` into `run_id` (artifacts by reference,
        foreach items unless `items` is False, record); None (nothing written) when it did not succeed there."""
        origin = self.read_task_record(flow, origin_run_id, step, task_id)
        if origin is None or not origin.succeeded:
            return None
        return self.clone_record(origin, run_id, items=items)

    def clone_record(self, origin: TaskRecord, run_id: str, *, items: bool = True) -> TaskRecord:
        """Write `origin` (a succeeded task's record) into `run_id` as a reused task: its artifacts by
        reference, its Distributed Map items list (unless `items` is False: a resume writes its own), and a
        record saying where it came from. Its foreach values are not copied: readers follow `cloned_from`."""
        flow, step, task_id = origin.flow, origin.step, origin.task_id
        refs = self.read_task_artifacts(flow, origin.run_id, step, task_id)
        self.write_task_artifacts(flow, run_id, step, task_id, refs)
        if items and origin.foreach_num_splits is not None:
            self.write_foreach_items(flow, run_id, step, task_id, origin.foreach_num_splits)
        cloned = replace(
            origin,
            run_id=run_id,
            cloned_from=origin.cloned_from or f"{origin.run_id}/{step}/{task_id}",
            mlflow_run_id=None,
            evidence_mlflow_run_id=origin.mlflow_run_id or origin.evidence_mlflow_run_id,
        )
        self.write_task_record(cloned)
        return cloned

    # ----- the records as plain JSON (tracking/ reads them so)
    def write_run(self, flow: str, run_id: str, data: dict[str, Any]) -> None:
        self.put_json(f"{self.run_key(flow, run_id)}/{layout.RUN_RECORD}", data)

    def read_run(self, flow: str, run_id: str) -> dict[str, Any] | None:
        return self.try_json(f"{self.run_key(flow, run_id)}/{layout.RUN_RECORD}")

    def write_elsewhere(self, flow: str, run_id: str, url: str) -> None:
        """Note here that the run's documents are in the datastore at `url` (a hybrid run's S3)."""
        self.put_json(f"{self.run_key(flow, run_id)}/{layout.RUN_ELSEWHERE}", {"datastore": url})

    def read_elsewhere(self, flow: str, run_id: str) -> str | None:
        found = self.try_json(f"{self.run_key(flow, run_id)}/{layout.RUN_ELSEWHERE}")
        return str(found["datastore"]) if found and found.get("datastore") else None

    def write_task_meta(self, flow: str, run_id: str, step: str, task_id: str, meta: dict[str, Any]) -> None:
        self.put_json(f"{self.task_key(flow, run_id, step, task_id)}/{layout.TASK_RECORD}", meta)

    def read_task_meta(self, flow: str, run_id: str, step: str, task_id: str) -> dict[str, Any] | None:
        return self.try_json(f"{self.task_key(flow, run_id, step, task_id)}/{layout.TASK_RECORD}")

    # ----- listing
    def list_flows(self) -> list[str]:
        return self.storage.list_dirs(layout.flows_key(self.namespace))

    def list_runs(self, flow: str) -> list[str]:
        return self.storage.list_dirs(layout.runs_key(self.namespace, flow))

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[str]:
        return self.storage.list_dirs(layout.step_key(self.namespace, flow, run_id, step))
