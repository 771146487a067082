"""Code packages: the project's tracked source, packed reproducibly and uploaded once per content.

Same content → same bytes → same hash: files sorted, owners, permissions and times normalised,
gzip without a timestamp. The step image carries only dependencies, so a change to flow code
deploys a new code package, never a new image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from branchline.aws.session import client as aws_client
from branchline.datastore.storage import S3Storage
from branchline.errors import BranchlineError

_EXCLUDED_DIRS = {".git", ".branchline", ".venv", "__pycache__", ".tox", ".pytest_cache", "node_modules"}


class CodePackageError(BranchlineError):
    """The project's files cannot be listed or packed."""


@dataclass(frozen=True)
class CodePackage:
    sha: str
    data: bytes
    files: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.sha}.tar.gz"


def tracked_files(root: Path, include: Iterable[str] = ()) -> list[str]:
    """`git ls-files` plus the untracked files or folders named in `include`, relative to `root`."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise CodePackageError(
            f"cannot list the project's files with git in {root}",
            hint="run inside the project's git repository (git init && git add .)",
        ) from None
    files = {p for p in out.decode().split("\0") if p}
    for extra in include:
        path = root / extra
        if path.is_file():
            files.add(str(path.relative_to(root)))
        elif path.is_dir():
            files.update(str(p.relative_to(root)) for p in path.rglob("*") if p.is_file())
        else:
            raise CodePackageError(f"--include {extra}: no such file or folder in {root}")
    return sorted(f for f in files if (root / f).is_file() and not set(Path(f).parts) & _EXCLUDED_DIRS)


def pack(root: Path, files: Iterable[str]) -> CodePackage:
    names = sorted(set(files))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            path = root / name
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    data = compressed.getvalue()
    return CodePackage(sha=hashlib.sha256(data).hexdigest(), data=data, files=tuple(names))


def build_code_package(root: Path, include: Iterable[str] = ()) -> CodePackage:
    return pack(root, tracked_files(root, include))


def package_url(package: CodePackage, bucket: str, prefix: str) -> str:
    """Where `upload` puts the package: `s3://<bucket>/<prefix>/code/<sha>.tar.gz`."""
    return f"s3://{bucket}/{prefix}/code/{package.name}"


def upload(package: CodePackage, bucket: str, prefix: str, client=None) -> tuple[str, bool]:
    """Upload under `<prefix>/code/<sha>.tar.gz` unless it is there; returns (s3 url, uploaded?)."""
    storage = S3Storage(bucket, prefix, client=client or aws_client("s3"))
    key = f"code/{package.name}"
    if storage.exists(key):
        return package_url(package, bucket, prefix), False
    storage.put_bytes(key, package.data)
    return package_url(package, bucket, prefix), True
