"""Content-addressed artifacts and the metadata of runs and tasks.

Layout under the storage root (one namespace per prefix, objects stored once per namespace)::

    <ns>/objects/<sha[:2]>/<sha>                      pickled artifact values
    <ns>/runs/<flow>/<run>/run.json                   parameters, status, git/CI context
    <ns>/runs/<flow>/<run>/<step>/<task>/meta.json      status, attempts, foreach cardinality
    <ns>/runs/<flow>/<run>/<step>/<task>/artifacts.json name -> sha (written last: the commit mark)
    <ns>/runs/<flow>/<run>/<step>/<task>/foreach-items.json  items read by a Distributed Map
    <ns>/runs/<flow>/<run>/<step>/<task>/logs/<attempt>.{out,err}
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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


def task_id_for(path: tuple[int, ...]) -> str:
    """Deterministic task id from the foreach index path: () -> '0', (3, 1) -> '0-3-1'."""
    return "-".join(["0", *map(str, path)])


def path_for(task_id: str) -> tuple[int, ...]:
    parts = task_id.split("-")
    if parts[0] != "0" or not all(p.isdigit() for p in parts[1:]):
        raise ArtifactError(f"not a branchline task id: {task_id!r}")
    return tuple(int(p) for p in parts[1:])


class FlowDatastore:
    """Artifacts and metadata of one namespace, on any Storage backend."""

    def __init__(self, storage: Storage, namespace: str) -> None:
        self.storage = storage
        self.namespace = namespace
        self._tmpdir = storage.local_path(f"{namespace}/.tmp") if isinstance(storage, LocalStorage) else None

    # ----- keys
    def object_key(self, sha: str) -> str:
        return f"{self.namespace}/objects/{sha[:2]}/{sha}"

    def run_key(self, flow: str, run_id: str) -> str:
        return f"{self.namespace}/runs/{flow}/{run_id}"

    def task_key(self, flow: str, run_id: str, step: str, task_id: str) -> str:
        return f"{self.run_key(flow, run_id)}/{step}/{task_id}"

    # ----- artifacts
    def save_value(self, value: Any) -> ArtifactRef:
        """Pickle `value` to a temp file while hashing it; store it once under its hash."""
        tmp_dir = self._tmpdir
        if tmp_dir is not None:
            tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="artifact-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                writer = _HashingWriter(handle)
                try:
                    pickle.dump(value, writer, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as exc:
                    raise ArtifactError(
                        f"cannot store a value of type {type(value).__name__}: {exc}",
                        hint="artifacts must be picklable; keep open files, locks and clients out of self",
                    ) from None
            sha = writer.digest.hexdigest()
            key = self.object_key(sha)
            if not self.storage.exists(key):
                if isinstance(self.storage, LocalStorage):
                    self.storage.adopt_file(key, tmp)
                else:
                    self.storage.put_file(key, tmp)
            return ArtifactRef(sha=sha, size=writer.size, type=type(value).__name__)
        finally:
            tmp.unlink(missing_ok=True)

    def load_value(self, sha: str) -> Any:
        try:
            with self.storage.open_read(self.object_key(sha)) as handle:
                return pickle.load(handle)
        except KeyError:
            raise ArtifactError(f"artifact object {sha} is missing from {self.storage.url}") from None

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

    # ----- runs and tasks
    def write_run(self, flow: str, run_id: str, data: dict[str, Any]) -> None:
        self.put_json(f"{self.run_key(flow, run_id)}/run.json", data)

    def read_run(self, flow: str, run_id: str) -> dict[str, Any] | None:
        return self.try_json(f"{self.run_key(flow, run_id)}/run.json")

    def write_task_meta(self, flow: str, run_id: str, step: str, task_id: str, meta: dict) -> None:
        self.put_json(f"{self.task_key(flow, run_id, step, task_id)}/meta.json", meta)

    def read_task_meta(self, flow: str, run_id: str, step: str, task_id: str) -> dict | None:
        return self.try_json(f"{self.task_key(flow, run_id, step, task_id)}/meta.json")

    def write_task_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, refs: dict[str, ArtifactRef]
    ) -> None:
        data = {name: ref.to_json() for name, ref in sorted(refs.items())}
        self.put_json(f"{self.task_key(flow, run_id, step, task_id)}/artifacts.json", data)

    def read_task_artifacts(self, flow: str, run_id: str, step: str, task_id: str) -> dict[str, ArtifactRef]:
        data = self.try_json(f"{self.task_key(flow, run_id, step, task_id)}/artifacts.json")
        if data is None:
            raise ArtifactError(f"task {flow}/{run_id}/{step}/{task_id} has no committed artifacts")
        return {name: ArtifactRef.from_json(ref) for name, ref in data.items()}

    def list_runs(self, flow: str) -> list[str]:
        return self.storage.list_dirs(f"{self.namespace}/runs/{flow}")

    def list_flows(self) -> list[str]:
        return self.storage.list_dirs(f"{self.namespace}/runs")

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[str]:
        return self.storage.list_dirs(f"{self.run_key(flow, run_id)}/{step}")

    def log_key(self, flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
        return f"{self.task_key(flow, run_id, step, task_id)}/logs/{attempt}.{stream}"
