"""One pytest session's test bed: a run directory, its services (started once, shared by xdist workers), teardown.

Layout (root: ``$BRANCHLINE_TESTBED_DIR``, default ``/var/tmp/branchline-testbed``, outside the repo so that it
survives between CI runs on the same machine)::

    cache/                    kept between runs: base image rootfs tarball, wheelhouses
    run/<pid>-<id>/           pid: the pytest process that owns the run (the xdist controller)
    run/<pid>-<id>/<service>.json   how to reach a started service + the pids to stop (or {"error": ...})
    run/<pid>-<id>/<service>/       its data (docker data-root, registry storage, mlflow db...), removed at the end
    run/.trash-<pid>-<id>-<x>/      a finished run being deleted in the background

A service is started lazily by the first process (controller or xdist worker) that asks for it, under a file
lock; the others read its record. Only the owner tears the run down, at session end. Runs whose owner died
(a killed pytest) are reaped at the next session's start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.testbed.procs import TestbedUnavailable, alive, stop

ServiceInfo = dict[str, Any]


def state_root() -> Path:
    """Where the test bed keeps its cache and run directories (root's, or one per other user: root's is not theirs)."""
    uid = os.geteuid()
    default = "/var/tmp/branchline-testbed" if uid == 0 else f"/var/tmp/branchline-testbed-{uid}"
    return Path(os.environ.get("BRANCHLINE_TESTBED_DIR", default))


def cache_dir() -> Path:
    """Cache kept between runs (base image tarball, wheelhouses)."""
    path = state_root() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (blocking), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Run:
    """The services of one pytest session, shared by its xdist workers through files in ``directory``."""

    def __init__(self, directory: Path, owner: int) -> None:
        self.directory = directory
        self.owner = owner

    @classmethod
    def new(cls) -> Run:
        """A run owned by this process; its directory is made only when a service is first started."""
        return cls(state_root() / "run" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}", os.getpid())

    def service(self, name: str, start: Callable[[Path], ServiceInfo]) -> ServiceInfo:
        """The record of service ``name``, starting it with ``start(data_dir)`` if no process has yet.

        ``start`` returns a JSON-able dict; its ``pids`` entry (list of ``[pid, expected cmdline part]``) is
        what teardown stops. A ``TestbedUnavailable`` from ``start`` is remembered, so every worker gets the
        same reason without retrying.
        """
        record = self.directory / f"{name}.json"
        self.directory.mkdir(parents=True, exist_ok=True)
        with file_lock(self.directory / f"{name}.lock"):
            if not record.exists():
                try:
                    info = start(self.directory / name)
                except TestbedUnavailable as exc:
                    info = {"unavailable": str(exc)}
                except Exception as exc:
                    info = {"error": f"{type(exc).__name__}: {exc}"}
                info["started_at"] = time.time()
                record.write_text(json.dumps(info))
            info = json.loads(record.read_text())
        if "unavailable" in info:
            raise TestbedUnavailable(info["unavailable"])
        if "error" in info:
            raise RuntimeError(f"test bed service {name!r} failed to start: {info['error']}")
        return info

    def shutdown(self) -> None:
        """Stop every service, unmount leftovers, delete the run directory.

        Services are independent processes, so they are stopped side by side (each takes 0.3-3 s to exit, more
        under load, and the session's end waits for the slowest rather than for their sum); a service's own
        processes stop in reverse start order.
        """
        if not self.directory.exists():
            return
        records = []
        for path in self.directory.glob("*.json"):
            with contextlib.suppress(ValueError, OSError):
                records.append(json.loads(path.read_text()))

        def stop_service(info: ServiceInfo) -> None:
            for pid, expect in reversed(info.get("pids", [])):
                stop(int(pid), expect=str(expect))

        with ThreadPoolExecutor(max_workers=max(1, len(records))) as pool:
            list(pool.map(stop_service, records))
        _unmount_under(self.directory)
        discard(self.directory)


TRASH_PREFIX = ".trash-"


def discard(directory: Path) -> None:
    """Delete ``directory`` in the background, so that the session does not wait for it.

    A run's engine data holds the images the tests built (~100,000 files, 20 s of unlinking on a busy machine).
    The directory is renamed away at once (it is gone for everyone) and a detached ``rm`` deletes the rest;
    ``reap_stale_runs`` finishes whatever an interrupted ``rm`` left.
    """
    trash = directory.with_name(f"{TRASH_PREFIX}{directory.name}-{uuid.uuid4().hex[:6]}")
    try:
        directory.rename(trash)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        return
    _remove_detached(trash)


def _remove_detached(path: Path) -> None:
    """``rm -rf`` ``path`` in a process of its own session: it outlives pytest, nobody waits for it."""
    subprocess.Popen(
        ["rm", "-rf", "--one-file-system", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def reap_stale_runs() -> list[Path]:
    """Tear down runs whose owning pytest process is gone (killed sessions); returns what was reaped."""
    reaped = []
    for directory in sorted((state_root() / "run").glob("*")):
        if directory.name.startswith(TRASH_PREFIX):
            _remove_detached(directory)  # an earlier session's rm was interrupted (or is still at it: harmless)
            continue
        try:
            owner = int(directory.name.split("-", 1)[0])
        except ValueError:
            continue  # not ours
        if alive(owner):
            continue
        Run(directory, owner).shutdown()
        reaped.append(directory)
    return reaped


def _unmount_under(directory: Path) -> None:
    """Lazily unmount whatever a killed dockerd left mounted below ``directory`` (else rmtree fails)."""
    prefix = str(directory.resolve()) + "/"
    try:
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
