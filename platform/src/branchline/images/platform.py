"""Which platform a step image carries, and which one compiles the flows: pinned, installed, built.

pip refuses VCS requirements in hash-checking mode, so a generated project installs everything but the
platform from its hashed lock (`requirements.txt`) and the platform itself, `--no-deps`, from the exact
pin in `requirements.in` (a commit, a version, or a wheel URL with its sha256). The step image has no
git, so the platform goes into it as a wheel built here from that same pin. The exact revision (commit,
version, archive hash, or a digest of a local source tree) is part of the image's dependency hash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from branchline.errors import BranchlineError

PIN_FILE = "requirements.in"
PLATFORM = "branchline"
WHEELHOUSE = "wheelhouse"
_SKIPPED_DIRS = {"__pycache__", ".git", "build", "dist", ".tox", ".venv", ".pytest_cache", ".ruff_cache"}


class PlatformError(BranchlineError):
    """The platform pin cannot be read, resolved or built."""


def pinned_requirement(root: Path) -> Requirement | None:
    """The `branchline` line of the project's `requirements.in`, or None (no pin file, or no such line)."""
    path = root / PIN_FILE
    if not path.is_file():
        return None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise PlatformError(f"{path}:{number}: not a requirement: {exc}") from None
        if requirement.name.lower() == PLATFORM:
            return requirement
    return None


def tree_digest(directory: Path) -> str:
    """sha256 over the names and contents of a source tree (caches and build output left out)."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or set(relative.parts) & _SKIPPED_DIRS or path.suffix == ".pyc":
            continue
        if any(part.endswith(".egg-info") for part in relative.parts):
            continue
        digest.update(f"\0{relative.as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return f"tree:{digest.hexdigest()}"


def url_revision(url: str) -> str | None:
    """The exact revision a direct URL names: a git commit, an archive's sha256, a local tree's digest.

    None when the URL names something that can still change (a branch, a tag, an unhashed archive).
    """
    parts = urlsplit(url)
    fragment = dict(item.partition("=")[::2] for item in parts.fragment.split("&") if item)
    if parts.scheme.startswith("git+"):
        _, at, ref = parts.path.rpartition("@")
        return f"git:{ref}" if at and _is_commit(ref) else None
    if parts.scheme == "file":
        path = Path(unquote(parts.path)) / fragment.get("subdirectory", "")
        if path.is_dir():
            return tree_digest(path)
        return f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}" if path.is_file() else None
    if "sha256" in fragment:
        return f"sha256:{fragment['sha256']}"
    return None


def requirement_revision(requirement: Requirement) -> str | None:
    """The exact revision a pin names, or None when the pin is not exact (`>=`, a branch, ...)."""
    if requirement.url:
        return url_revision(requirement.url)
    exact = [spec for spec in requirement.specifier if spec.operator in ("==", "===") and "*" not in spec.version]
    return f"version:{exact[0].version}" if exact else None


def installed_revision() -> str:
    """The revision of the branchline running now (PEP 610 `direct_url.json`, else its version)."""
    distribution = importlib.metadata.distribution(PLATFORM)
    text = distribution.read_text("direct_url.json")
    direct = json.loads(text) if text else None
    if isinstance(direct, dict):
        vcs = direct.get("vcs_info") or {}
        if vcs.get("commit_id"):
            return f"git:{vcs['commit_id']}"
        hashes = (direct.get("archive_info") or {}).get("hashes") or {}
        if "sha256" in hashes:
            return f"sha256:{hashes['sha256']}"
        if "dir_info" in direct:
            revision = url_revision(str(direct.get("url", "")))
            if revision:
                return revision
    return f"version:{distribution.version}"


def check_pin(root: Path, installed: str) -> str | None:
    """The pinned revision, checked against the installed one; None when the project pins nothing.

    Refuses a pin that is not exact, and an installed platform that differs from the pin when both are of
    one kind (two commits, two versions, two trees): the image would carry other code than the one that
    compiled its flows. Revisions read `git:<commit>`, `version:<v>`, `sha256:<hex>` or `tree:<hex>`.
    """
    requirement = pinned_requirement(root)
    if requirement is None:
        return None
    pinned = requirement_revision(requirement)
    if pinned is None:
        raise PlatformError(
            f"{root / PIN_FILE}: the platform requirement {str(requirement)!r} is not pinned to an exact revision",
            hint="pin a commit (git+https://...@<40-hex commit>), an exact version (branchline==X.Y.Z) or a wheel "
                 "URL with #sha256=...",
        )
    if installed != pinned and installed.partition(":")[0] == pinned.partition(":")[0]:
        raise PlatformError(
            f"the installed branchline ({installed}) is not the one {PIN_FILE} pins ({pinned}): the step image "
            "would run other code than the one compiling the flows",
            hint="install the project as its CI does (README, 'Supply chain'), or change the pin",
        )
    return pinned


def stage_wheel(root: Path, log: Callable[[str], None] = lambda line: None) -> Path | None:
    """Build the pinned platform's wheel into `<root>/wheelhouse/` for the image; None when nothing is pinned.

    `--no-build-isolation`: the build backend comes from the environment (CI installed it from the hashed
    lock), never fetched unpinned; `--no-index` for URL pins, so nothing else is fetched either.
    """
    requirement = pinned_requirement(root)
    if requirement is None:
        return None
    line = f"{PLATFORM} @ {requirement.url}" if requirement.url else f"{PLATFORM}{requirement.specifier}"
    wheelhouse = root / WHEELHOUSE
    wheelhouse.mkdir(exist_ok=True)
    for old in wheelhouse.glob(f"{PLATFORM}-*.whl"):
        old.unlink()
    log(f"building the platform's wheel: {line}")
    with tempfile.TemporaryDirectory(prefix="branchline-wheel-") as scratch:
        source = _local_tree(requirement.url)
        if source is not None:  # setuptools builds in the tree: build a copy (concurrent builds, clean checkout)
            copy = Path(scratch) / "source"
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*_SKIPPED_DIRS, "*.egg-info", "*.pyc"))
            line = f"{PLATFORM} @ {copy.as_uri()}"
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                   "--wheel-dir", scratch, line]
        if requirement.url:
            command.insert(-1, "--no-index")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(scratch).glob(f"{PLATFORM}-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
            raise PlatformError(f"cannot build the platform's wheel from {line!r}:\n{tail}",
                                hint="the build backend (setuptools, wheel) must be installed: it comes from "
                                     "the project's hashed lock")
        return Path(shutil.move(str(wheels[0]), wheelhouse / wheels[0].name))


def _local_tree(url: str | None) -> Path | None:
    """The directory a `file://` URL names (with its #subdirectory=), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    fragment = dict(item.partition("=")[::2] for item in parts.fragment.split("&") if item)
    path = Path(unquote(parts.path)) / fragment.get("subdirectory", "")
    return path if parts.scheme == "file" and path.is_dir() else None


def _is_commit(ref: str) -> bool:
    return len(ref) == 40 and all(ch in "0123456789abcdef" for ch in ref)
