"""Step images: tagged by a hash of what goes into them, built and pushed only when that tag is new.

The tag `deps-<hash>` covers the Dockerfile, the dependency files, the build arguments, the platform's
exact revision (the one installed, checked against the project's pin) and the base image's digest, so a
pull request that changes only flow code reuses the image while a moved base image or another platform
commit builds a new one. Job definitions reference the image by digest (`repo@sha256:...`), never by a
mutable tag. Anyone can compute a tag: production never trusts one found in a repository a pull request
can write (see `branchline.images.production`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchline.errors import BranchlineError, ServiceUnreachable

DEPENDENCY_FILES = (
    "Dockerfile", ".dockerignore", "requirements.in", "requirements.txt", "requirements.lock", "constraints.txt",
)
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class ImageError(BranchlineError):
    """The image cannot be built, found or pushed."""


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
    from branchline import __version__

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
    from branchline.images.base import base_image, resolve_digest
    from branchline.images.platform import check_pin, installed_revision

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


def registry_auth(repository: str) -> dict[str, str] | None:
    """ECR: a token from boto3; anything else: None (the Docker engine's own credentials apply)."""
    host = repository.split("/", 1)[0]
    match = _ECR_HOST.match(host)
    if not match:
        return None
    from branchline.aws.session import client

    data = client("ecr").get_authorization_token(registryIds=[match.group(1)])["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {"username": user, "password": password, "registry": data["proxyEndpoint"]}


def connect_docker(client: Any = None) -> Any:
    """The given client, else one from the environment (DOCKER_HOST), with a clear error when unreachable."""
    if client is not None:
        return client
    import docker
    from docker.errors import DockerException

    try:
        return docker.from_env(timeout=600)
    except DockerException as exc:
        raise ServiceUnreachable(
            f"cannot reach the Docker engine: {exc}", hint="start Docker or set DOCKER_HOST"
        ) from None


def remote_digest(docker_client: Any, ref: str, auth: dict[str, str] | None) -> str | None:
    """The digest of `ref` in its registry, or None when the tag does not exist there."""
    from docker.errors import APIError, NotFound

    try:
        return docker_client.images.get_registry_data(ref, auth_config=auth).id
    except NotFound:
        return None
    except APIError as exc:
        text = str(exc).lower()
        if "not found" in text or "manifest unknown" in text or "404" in text:
            return None
        raise registry_error(ref, str(exc.explanation or exc)) from None


_UNREACHABLE = ("connection refused", "no such host", "timeout", "network is unreachable", ": eof")
_DENIED = ("unauthorized", "denied", "authentication required", "403", "401")


def registry_error(ref: str, detail: str) -> BranchlineError:
    """One clear error for a registry the engine could not ask about `ref`: unreachable, refused, or other."""
    host = ref.split("/", 1)[0]
    lowered = detail.lower()
    if any(word in lowered for word in _UNREACHABLE):
        return ServiceUnreachable(
            f"the image registry {host} did not answer for {ref}: {detail}",
            hint=f"check that the registry at {host} is running and reachable from the Docker engine",
        )
    if any(word in lowered for word in _DENIED):
        return ImageError(
            f"the image registry {host} refused access to {ref}: {detail}",
            hint="log the Docker engine in to the registry (ECR: AWS credentials that may pull and push)",
        )
    return ImageError(f"the image registry {host} failed for {ref}: {detail}", hint="check the repository name")


def publish(
    root: Path,
    repository: str,
    *,
    build_args: Mapping[str, str] | None = None,
    docker_client: Any = None,
    log: Callable[[str], None] = lambda line: None,
    force: bool = False,
) -> PublishResult:
    """Build and push `repository:deps-<hash>` unless the registry already has it."""
    from docker.errors import APIError, BuildError

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
    from branchline.images.platform import stage_wheel

    stage_wheel(root, log)
    log(f"building {ref}")
    try:
        _, stream = client.images.build(
            path=str(root),
            tag=ref,
            buildargs=dict(build_args or {}),
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="host",
            labels={"org.opencontainers.image.revision": tag, "branchline.dependency-hash": tag},
        )
        for chunk in stream:
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
    except BuildError as exc:
        tail = "\n".join(str(c.get("stream", c.get("error", ""))).rstrip() for c in list(exc.build_log)[-15:])
        raise ImageError(f"docker build of {ref} failed: {exc.msg}\n{tail}") from None
    except APIError as exc:
        raise ImageError(f"docker build of {ref} failed: {exc.explanation or exc}") from None
    digest = push(client, repository, tag, auth)
    log(f"pushed {repository}@{digest}")
    return PublishResult(repository, tag, digest, built=True)


def push(client: Any, repository: str, tag: str, auth: dict[str, str] | None) -> str:
    """Push the engine's `repository:tag`; the digest the registry stored it under."""
    from docker.errors import APIError

    ref = f"{repository}:{tag}"
    digest = None
    try:
        for event in client.images.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in event:
                raise registry_error(ref, f"push failed: {event['error']}")
            digest = (event.get("aux") or {}).get("Digest") or digest
    except APIError as exc:
        raise registry_error(ref, f"push failed: {exc.explanation or exc}") from None
    digest = digest or remote_digest(client, ref, auth)
    if not digest:
        raise ImageError(f"pushed {ref} but the registry reports no digest for it")
    return str(digest)
