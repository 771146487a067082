"""`@pypi` step images: the project's step image plus a step's extra packages, tagged by a hash of both.

`pypi-<hash>` covers the base image's digest, the requirement lines and the Python version, so a step that
keeps its packages reuses its image, and a change to another step's packages (or to flow code) rebuilds
nothing else. The wheels are downloaded on this machine with its own pip configuration (index, proxies),
for the image's Python and platform, and installed offline in the build (`--no-index`): the build needs no
network and no index address is written anywhere.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from branchline.authoring.compute import pypi_requirements
from branchline.aws.compile.compute import step_compute
from branchline.graph.model import FlowGraph
from branchline.images.publish import (
    ImageError,
    PublishResult,
    build_image,
    connect_docker,
    push,
    registry_auth,
    remote_digest,
)

PLATFORM_TAGS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "linux_x86_64")


def pypi_tag(base_reference: str, requirements: Sequence[str], python: str) -> str:
    digest = hashlib.sha256("\n".join([base_reference, f"python {python}", *sorted(requirements)]).encode())
    return f"pypi-{digest.hexdigest()[:16]}"


def dockerfile(base_reference: str, requirements: Sequence[str], user: str) -> str:
    """Install the downloaded wheels into the image's environment (its `python` first on PATH), as root."""
    quoted = " ".join(f"'{r}'" for r in requirements)
    back = f"USER {user}\n" if user else ""
    return (
        f"FROM {base_reference}\nUSER root\nCOPY wheels /tmp/branchline-wheels\n"
        f"RUN python -m pip install --no-cache-dir --no-index --find-links /tmp/branchline-wheels {quoted} "
        "&& rm -rf /tmp/branchline-wheels\n" + back
    )


def image_python(client: Any, base_reference: str) -> str:
    """`3.11`: the version of the image's `python` (a throwaway container, no network)."""
    out = client.containers.run(base_reference, entrypoint=["python", "-c",
                                 "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 command=[], remove=True, network_mode="none")  # fmt: skip
    return out.decode().strip()


def download_wheels(requirements: Sequence[str], python: str, dest: Path) -> None:
    """`pip download` of the requirements and their dependencies, as wheels for the image's platform."""
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python, "--dest", str(dest)]  # fmt: skip
    for tag in PLATFORM_TAGS:
        argv += ["--platform", tag]
    done = subprocess.run([*argv, *requirements], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise ImageError(
            f"pip could not download {', '.join(requirements)} for Python {python} (linux x86_64): "
            f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no output'}",
            hint="check the package names and versions in @pypi(packages=...); they must exist as wheels",
        )


def _context(docker_file: str, wheels: Path) -> io.BytesIO:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = docker_file.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(str(wheels), arcname="wheels")
    raw.seek(0)
    return raw


def publish_pypi_image(
    base_reference: str,
    requirements: Sequence[str],
    python: str | None,
    repository: str,
    *,
    docker_client: Any = None,
    log: Callable[[str], None] = lambda line: None,
) -> PublishResult:
    """Build and push `repository:pypi-<hash>` unless the registry has it; the result names it by digest."""
    from docker.errors import ImageNotFound

    client = connect_docker(docker_client)
    auth = registry_auth(repository)
    try:
        base = client.images.get(base_reference)
    except ImageNotFound:
        base = client.images.pull(base_reference, auth_config=auth)
    have = image_python(client, base_reference)
    if python and python != have:
        raise ImageError(
            f"@pypi(python={python!r}) but the step image runs Python {have}",
            hint=f"use python={have!r}, or change the project's base image (Dockerfile BASE_IMAGE)",
        )
    tag = pypi_tag(base_reference, requirements, have)
    ref = f"{repository}:{tag}"
    existing = remote_digest(client, ref, auth)
    if existing:
        log(f"{ref} already in the registry: no build")
        return PublishResult(repository, tag, existing, built=False)
    with tempfile.TemporaryDirectory(prefix="branchline-pypi-") as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        download_wheels(requirements, have, wheels)
        log(f"building {ref} ({', '.join(requirements)} on {base_reference})")
        context = _context(dockerfile(base_reference, requirements, base.attrs["Config"].get("User") or ""), wheels)
        build_image(client, ref, lambda line: None, fileobj=context, custom_context=True, network_mode="none",
                    labels={"branchline.pypi": tag})
    digest = push(client, repository, tag, auth)
    log(f"pushed {repository}@{digest}")
    return PublishResult(repository, tag, digest, built=True)


def publish_step_images(
    graph: FlowGraph,
    base_reference: str,
    *,
    steps: Sequence[str] | None = None,
    docker_client: Any = None,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, str]:
    """step → its `@pypi` image (by digest), in the step image's repository, for the steps (of `steps`) that
    declare `@pypi` and no `@batch(image=...)`: what the compiler's `CompileContext.step_images` takes."""
    images = {}
    for node in graph:
        compute = step_compute(node)
        if compute.pypi is None or compute.image or (steps is not None and node.name not in steps):
            continue
        images[node.name] = publish_pypi_image(base_reference, pypi_requirements(dict(compute.pypi)), compute.python,
                                               repository_of(base_reference), docker_client=docker_client,
                                               log=log).reference
    return images


def repository_of(reference: str) -> str:
    """`repo` of `repo@sha256:...` or `repo:tag` (a registry's `host:port/` is not a tag)."""
    if "@" in reference:
        return reference.split("@", 1)[0]
    head, _, last = reference.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]
