"""Process plumbing for the test bed: free ports, spawning servers, bounded waits, stopping by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path


class TestbedUnavailable(RuntimeError):
    """A test bed part cannot run on this machine (missing package, not root...): the message says why."""

    __test__ = False  # not a test class, whatever pytest thinks of its name


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a long-running server detached from our process group (so it outlives an xdist worker).

    Output goes to ``log``; returns the pid.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' if gone): used to check a recorded pid is still ours."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def log_tail(log: Path, lines: int = 25) -> str:
    """The last lines of a server log, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, pid: int | None = None, log: Path | None = None
) -> float:
    """Poll ``check`` until it is true; raise with the server's log if ``pid`` dies or ``timeout`` passes.

    Returns the seconds waited (reported by the fixtures as start-up time).
    """
    start = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - start
        if pid is not None and not alive(pid):
            raise RuntimeError(f"{what} exited during start-up; log tail:\n{log_tail(log) if log else ''}")
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s; log tail:\n{log_tail(log) if log else ''}")
        time.sleep(0.2)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether GET ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


def stop(pid: int, *, expect: str, timeout: float = 20.0) -> None:
    """Stop a server started by ``spawn`` (only if its command line still contains ``expect``).

    SIGTERM to the leader first (dockerd shuts its containerd down itself), SIGKILL after ``timeout``, then
    whatever is left of its process group (``spawn`` made the leader a session leader, so the group is ours:
    mlflow's uvicorn worker, a dockerd's containerd).
    """
    if alive(pid) and expect in cmdline(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(lambda: [pid] if alive(pid) else [], timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(lambda: [pid] if alive(pid) else [], 5)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_members(pid):
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        _wait_gone(lambda: group_members(pid), 5)


@contextlib.contextmanager
def stop_on_error(pid: int, *, expect: str) -> Iterator[None]:
    """Stop the just-spawned ``pid`` if its start-up checks fail, so a failed start leaks no server."""
    try:
        yield
    except BaseException:
        stop(pid, expect=expect, timeout=5)
        raise


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _wait_gone(remaining: Callable[[], list[int]], timeout: float) -> bool:
    """Poll until ``remaining()`` is empty (reaping our own children meanwhile); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pids = remaining()
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        if not remaining():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
