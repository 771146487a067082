"""The code package in a step container: download it (S3 or a local path) and unpack it safely, once."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from branchline.aws.session import client
from branchline.errors import ConfigError

if TYPE_CHECKING:
    import tarfile


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract regular files and folders only, never outside `dest` (older Pythons lack filter="data")."""
    import tarfile

    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if not (member.isfile() or member.isdir()) or (target != root and root not in target.parents):
            raise ConfigError(f"code package entry {member.name!r} is not a plain file inside the package")
    tar.extractall(dest)  # every member was checked above


def unpack_code_package(url: str, dest_root: Path) -> Path:
    """Download (s3:// or a local path) and unpack the code tarball; reuse it when already there."""
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tar.gz")
    dest = dest_root / name
    if (dest / ".branchline-unpacked").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    import tarfile  # only containers unpack: local runs, which import this module too, skip its cost

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "code.tar.gz"
        if url.startswith("s3://"):
            bucket, _, key = url[5:].partition("/")
            client("s3").download_file(bucket, key, str(archive))
        else:
            archive = Path(url)
        with tarfile.open(archive, "r:gz") as tar:
            _safe_extract(tar, dest)
    (dest / ".branchline-unpacked").touch()
    return dest


def package_file(url: str, name: str) -> str:
    """One text file of a code package in S3 (`branchline resume --execution` reads the flow file that ran)."""
    import io
    import tarfile

    bucket, _, key = url.removeprefix("s3://").partition("/")
    data = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        try:
            member = tar.extractfile(name)
        except KeyError:
            member = None
        if member is None:
            raise ConfigError(f"the code package {url} has no file {name}")
        return member.read().decode()
