"""Step images: tagged by a hash of what goes into them, built and pushed only when that tag is new.

The tag `deps-<hash>` covers the Dockerfile, the dependency files, the build arguments, the platform's
exact revision (the one installed, checked against the project's pin) and the base image's digest, so a
pull request that changes only flow code reuses the image while a moved base image or another platform
commit builds a new one. Job definitions reference the image by digest (`repo@sha256:...`), never by a
mutable tag. Anyone can compute a tag: production never trusts one found in a repository a pull request
can write (see `branchline.images.production`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchline.images.base import base_image, resolve_digest
from branchline.images.engine import ImageError, connect_docker, push, registry_auth, remote_digest
from branchline.images.platform import check_pin, installed_revision, stage_wheel

DEPENDENCY_FILES = (
    "Dockerfile", ".dockerignore", "requirements.in", "requirements.txt", "requirements.lock", "constraints.txt",
)


@dataclass(frozen=True)
class PublishResult:
    repository: str
    tag: str
    digest: str
    built: bool

    @property
    def reference(self) -> str:
        """What job definitions use: immutable, by digest."""
        return f"{self.repository}@{self.digest}"


def dependency_hash(root: Path, files: Iterable[str] = DEPENDENCY_FILES, extra: Mapping[str, str] | None = None) -> str:
    """sha256 over the named files that exist (name + content), the platform version and `extra`.

    Pure: `extra` carries what needs I/O to know (build args, `hash_inputs`).
    """
    from branchline import __version__  # read when hashing: the version of the platform installed now

    digest = hashlib.sha256()
    digest.update(f"branchline=={__version__}\n".encode())
    present = [name for name in files if (root / name).is_file()]
    if "Dockerfile" not in present:
        raise ImageError(f"no Dockerfile in {root}", hint="the step image is built from the project's Dockerfile")
    for name in sorted(present):
        digest.update(f"\0{name}\0".encode())
        digest.update((root / name).read_bytes())
    for key, value in sorted((extra or {}).items()):
        digest.update(f"\0arg {key}={value}".encode())
    return digest.hexdigest()


def image_tag(dep_hash: str) -> str:
    return f"deps-{dep_hash[:16]}"


def hash_inputs(root: Path, build_args: Mapping[str, str] | None = None, docker_client: Any = None) -> dict[str, str]:
    """`extra` for `dependency_hash`: the build args, the platform's revision and the base image's digest.

    The keys of what is not a build argument start with `@` (no build argument can).
    """
    inputs = dict(build_args or {})
    inputs["@platform"] = installed_revision()
    pinned = check_pin(root, inputs["@platform"])
    if pinned:
        inputs["@platform-pin"] = pinned
    base = base_image(root, build_args)
    if base:
        inputs["@base-image"] = resolve_digest(base, lambda: connect_docker(docker_client))
    return inputs


def current_tag(root: Path, build_args: Mapping[str, str] | None = None, docker_client: Any = None) -> str:
    """The `deps-<hash>` tag of the project's dependencies as they are now."""
    root = root.resolve()
    return image_tag(dependency_hash(root, extra=hash_inputs(root, build_args, docker_client)))


def publish(
    root: Path,
    repository: str,
    *,
    build_args: Mapping[str, str] | None = None,
    docker_client: Any = None,
    log: Callable[[str], None] = lambda line: None,
    force: bool = False,
    fresh_layers: bool = False,
) -> PublishResult:
    """Build and push `repository:deps-<hash>` unless the registry already has it.

    `fresh_layers`: build without the daemon's layer cache (the release: on a self-hosted runner, a pull
    request's job may have built, or planted, the cached layers a production build would otherwise reuse).
    """

    root = root.resolve()
    client = connect_docker(docker_client)
    tag = current_tag(root, build_args, client)
    ref = f"{repository}:{tag}"
    auth = registry_auth(repository)
    if not force:
        existing = remote_digest(client, ref, auth)
        if existing:
            log(f"{ref} already in the registry: no build")
            return PublishResult(repository, tag, existing, built=False)
    stage_wheel(root, log)
    log(f"building {ref}")
    build_image(client, ref, log, path=str(root), buildargs=dict(build_args or {}), network_mode="host",
                nocache=fresh_layers,
                labels={"org.opencontainers.image.revision": tag, "branchline.dependency-hash": tag})
    digest = push(client, repository, tag, auth)
    log(f"pushed {repository}@{digest}")
    return PublishResult(repository, tag, digest, built=True)


def build_image(client: Any, ref: str, log: Callable[[str], None], **build: Any) -> None:
    """`docker build -t ref` (no pull, intermediate containers removed); a failure is one error with its last lines."""
    from docker.errors import APIError, BuildError

    try:
        _, stream = client.images.build(tag=ref, rm=True, forcerm=True, pull=False, **build)
        for chunk in stream:
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
    except BuildError as exc:
        tail = "\n".join(str(c.get("stream", c.get("error", ""))).rstrip() for c in list(exc.build_log)[-15:])
        raise ImageError(f"docker build of {ref} failed: {exc.msg}\n{tail}") from None
    except APIError as exc:
        raise ImageError(f"docker build of {ref} failed: {exc.explanation or exc}") from None


