"""The Docker engine and the registries it talks to: connect, authenticate (ECR), look up a digest, push.

Every failure becomes one clear error: the engine or a registry unreachable, access refused, or other.
The docker SDK and boto3 are imported only when an engine or ECR is actually asked.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from branchline.aws.session import client as aws_client
from branchline.errors import BranchlineError, ServiceUnreachable

_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class ImageError(BranchlineError):
    """The image cannot be built, found or pushed."""


def registry_auth(repository: str) -> dict[str, str] | None:
    """ECR: a token from boto3; anything else: None (the Docker engine's own credentials apply)."""
    host = repository.split("/", 1)[0]
    match = _ECR_HOST.match(host)
    if not match:
        return None
    data = aws_client("ecr").get_authorization_token(registryIds=[match.group(1)])["authorizationData"][0]
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
