"""Key/value storage backends: a local directory and S3, behind one small interface.

Keys are `/`-separated relative paths. Writes of files stream (no whole-file copies in
memory); small JSON documents go through put_bytes/get_bytes. The S3 backend is given its client
(made by `branchline.aws.session` at the edge that opens the datastore): the datastore knows no AWS
configuration, and boto3 is imported only by whoever makes that client.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from branchline.errors import ArtifactError


class Storage(Protocol):
    """What the datastore needs from a backend."""

    url: str

    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def get_range(self, key: str, start: int, end: int) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def list_dirs(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...

    @contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]: ...


class LocalStorage:
    """A directory on this machine. Writes are atomic (temp file + rename)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ArtifactError(f"refusing a datastore key outside {self.root}: {key!r}")
        return path

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def adopt_file(self, key: str, path: Path) -> None:
        """Move a temp file into place (same file system: no copy)."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except OSError:
            self.put_file(key, path)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object at `key`."""
        try:
            with self._path(key).open("rb") as handle:
                handle.seek(start)
                return handle.read(end - start)
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def list_dirs(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix)
        if not base.exists():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base)
        return count

    @contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise KeyError(key) from None
        with handle:
            yield handle

    def local_path(self, key: str) -> Path:
        return self._path(key)


class S3Storage:
    """An S3 bucket under a key prefix, through the boto3 S3 client it is given."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise KeyError(key) from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object at `key` (one ranged GET)."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{end - 1}")
        except self.client.exceptions.NoSuchKey:
            raise KeyError(key) from None
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix).rstrip("/") + "/" if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def list_dirs(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix).rstrip("/") + "/"
        names: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
            names += [p["Prefix"][len(full) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(names)

    def delete_prefix(self, prefix: str) -> int:
        keys = [self._key(k) for k in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
        return len(keys)

    @contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]:
        with tempfile.TemporaryFile() as handle:
            try:
                self.client.download_fileobj(self.bucket, self._key(key), handle)
            except Exception as exc:  # botocore raises ClientError 404 here
                if "404" in str(exc) or "Not Found" in str(exc):
                    raise KeyError(key) from None
                raise
            handle.seek(0)
            yield handle


def storage_from_url(url: str, s3_client: Callable[[], Any] | None = None) -> Storage:
    """`s3://bucket/prefix` (its client made by `s3_client`, only then) or a local directory path."""
    if url.startswith("s3://"):
        if s3_client is None:
            raise ArtifactError(f"the datastore {url} is on S3 but no S3 client was given to open it")
        bucket, _, prefix = url[5:].partition("/")
        return S3Storage(bucket, prefix, s3_client())
    return LocalStorage(url)
