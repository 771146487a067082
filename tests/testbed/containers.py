"""The container side of the test bed: Docker engine, local registry, base image, wheelhouse.

All of it is Debian's own packages (``make test`` installs them: ``scripts/testbed/install.sh``), run as root,
no network: ``dockerd`` with no bridge and no iptables (containers use ``--network host``), the distribution registry
``docker-registry`` on 127.0.0.1 without auth, a base image made by debootstrap (no image can be pulled), and
Python wheels downloaded on the host for the image builds to install offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.testbed.procs import TestbedUnavailable, free_port, http_ok, spawn, stop_on_error, wait_until
from tests.testbed.runs import ServiceInfo, cache_dir, file_lock

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `sudo make testbed` (installs docker.io docker-registry debootstrap), or `sudo make test`"
DOCKER_CLI = "/usr/bin/docker"  # Debian's client, same API version as its engine
BASE_TAG = "branchline-base:bookworm"
BASE_PYTHON = "3.11"  # Debian bookworm's python3: wheels must be for it


def require_tools(*names: str) -> None:
    """Raise ``TestbedUnavailable`` naming what is missing (root, or a Debian package's binary)."""
    if os.geteuid() != 0:
        raise TestbedUnavailable("the Docker engine of the test bed needs root: run `sudo make test`")
    missing = [name for name in names if shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    if missing:
        raise TestbedUnavailable(f"{', '.join(missing)} not installed: {INSTALL_HINT}")


def storage_drivers() -> list[str]:
    """Storage drivers to try, in order: ``$BRANCHLINE_TESTBED_STORAGE_DRIVER`` or overlay2 then vfs.

    vfs works everywhere but copies the whole image for every container (~5 s each for the base image here);
    overlay2 takes ~0.3 s where the kernel and the data-root's filesystem allow it.
    """
    chosen = os.environ.get("BRANCHLINE_TESTBED_STORAGE_DRIVER", "").strip()
    return [chosen] if chosen else ["overlay2", "vfs"]


def start_engine(data_dir: Path) -> ServiceInfo:
    """Start a private dockerd (no bridge, no iptables) with its socket and data in ``data_dir``."""
    require_tools("dockerd", "docker", "containerd", "runc")
    failures = []
    for driver in storage_drivers():
        try:
            return _start_dockerd(data_dir / driver, driver)
        except RuntimeError as exc:
            failures.append(f"--storage-driver={driver}: {exc}")
    raise RuntimeError("dockerd did not start:\n" + "\n".join(failures))


def _start_dockerd(data_dir: Path, driver: str) -> ServiceInfo:
    """Start dockerd with one storage driver and wait (bounded) until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = data_dir / "docker.sock"
    log = data_dir / "dockerd.log"
    argv = [
        "dockerd",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        f"--storage-driver={driver}",
        # moto's Batch adds `host.docker.internal:host-gateway`; with no bridge the engine needs its IP.
        "--host-gateway-ip=127.0.0.1",
        f"--data-root={data_dir / 'data'}",
        f"--exec-root={data_dir / 'exec'}",
        f"--pidfile={data_dir / 'dockerd.pid'}",
        f"-H=unix://{sock}",
    ]
    pid = spawn(argv, log)
    docker_host = f"unix://{sock}"
    with stop_on_error(pid, expect="dockerd"):
        waited = wait_until(
            lambda: _docker(docker_host, "info", "--format", "{{.ServerVersion}}").returncode == 0,
            timeout=60,
            what="dockerd",
            pid=pid,
            log=log,
        )
    return {
        "docker_host": docker_host,
        "storage_driver": driver,
        "pids": [[pid, "dockerd"]],
        "startup_s": round(waited, 2),
        "log": str(log),
    }


def start_registry(data_dir: Path) -> ServiceInfo:
    """Start Debian's distribution registry (v2 API) on 127.0.0.1 with filesystem storage and no auth."""
    require_tools("docker-registry")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = data_dir / "config.yml"
    config.write_text(registry_config(port, data_dir / "storage"))
    log = data_dir / "registry.log"
    pid = spawn(["docker-registry", "serve", str(config)], log)
    with stop_on_error(pid, expect="docker-registry"):
        waited = wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/v2/"), timeout=30, what="docker-registry", pid=pid, log=log
        )
    return {"address": f"127.0.0.1:{port}", "pids": [[pid, "docker-registry"]], "startup_s": round(waited, 2)}


def registry_config(port: int, storage: Path) -> str:
    """The registry's YAML config: loopback only, filesystem storage, deletes allowed, no auth section."""
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )


def import_base_image(docker_host: str) -> ServiceInfo:
    """Import ``branchline-base:bookworm`` into the engine (debootstrap once per machine, then cached)."""
    require_tools("debootstrap")
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO / "scripts/testbed/base-image.sh")],
        env={**os.environ, "DOCKER_HOST": docker_host, "BRANCHLINE_TESTBED_CACHE": str(cache_dir())},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/testbed/base-image.sh failed:\n{proc.stderr.strip()}")
    return {"tag": proc.stdout.strip().splitlines()[-1], "seconds": round(time.monotonic() - start, 2)}


def wheelhouse_key(requirements: Sequence[str]) -> str:
    """Cache key of a wheelhouse: the requirement lines (order-insensitive) and the target Python."""
    text = "\n".join(sorted(r.strip() for r in requirements if r.strip()))
    return hashlib.sha256(f"cp{BASE_PYTHON}\n{text}".encode()).hexdigest()[:16]


def build_wheelhouse(requirements: Sequence[str]) -> Path:
    """Download wheels for ``requirements`` (and their dependencies) for the base image's Python.

    Uses the host's pip and its own configuration (index, find-links: nothing of it is written here), with
    ``--only-binary=:all:`` and an explicit target (CPython 3.11, manylinux x86_64), so the wheels install in
    the image even when the host's Python differs. Cached by ``wheelhouse_key``; a concurrent build of the
    same key waits on a lock.
    """
    target = cache_dir() / "wheelhouse" / wheelhouse_key(requirements)
    done = target / ".complete"
    if done.exists():
        return target
    with file_lock(target.with_suffix(".lock")):
        if done.exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "requirements.txt").write_text("\n".join(requirements) + "\n")
        proc = subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(target),
                "--only-binary=:all:", "--implementation", "cp", "--python-version", BASE_PYTHON,
                "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
                "--platform", "manylinux_2_17_x86_64", "--platform", "any",
                "-r", str(target / "requirements.txt"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"pip download for the wheelhouse failed:\n{proc.stderr.strip()[-3000:]}")
        done.write_text("ok\n")
    return target


def _docker(docker_host: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the Docker CLI against ``docker_host``."""
    return subprocess.run(
        [DOCKER_CLI, "-H", docker_host, *args], capture_output=True, text=True, timeout=60, check=False
    )
