"""Reading and adding tags in an image repository: ECR through its API, any other registry through Docker.

ECR needs no Docker engine for either (a `--skip-image` job or a release that reuses its image builds
nothing). Adding a tag copies the manifest as it is, so the digest cannot change; with the Docker engine
the image is pulled by digest, tagged and pushed, and the pushed digest is checked.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from branchline.aws.session import aws_errors, client
from branchline.images.engine import ImageError, connect_docker, push, registry_auth, registry_error, remote_digest

_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(.+)$")
_MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
]


def is_ecr(repository: str) -> bool:
    return _ECR.match(repository) is not None


def tag_digest(repository: str, tag: str, docker_client: Any = None) -> str | None:
    """The digest `repository:tag` points at, or None when that tag is not there."""
    match = _ECR.match(repository)
    if match is None:
        return remote_digest(connect_docker(docker_client), f"{repository}:{tag}", registry_auth(repository))
    ecr = client("ecr")
    with aws_errors(f"look up {repository}:{tag}"):
        try:
            found = ecr.describe_images(registryId=match.group(1), repositoryName=match.group(2),
                                        imageIds=[{"imageTag": tag}])["imageDetails"]
        except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
            return None
    return str(found[0]["imageDigest"]) if found else None


def add_tag(repository: str, digest: str, tag: str, *, docker_client: Any = None,
            log: Callable[[str], None] = lambda line: None) -> bool:
    """Give the image `repository@digest` the tag `tag` too; False when it already had it.

    Refuses when the tag names another image (tags are immutable in the project's repositories).
    """
    current = tag_digest(repository, tag, docker_client)
    if current == digest:
        return False
    if current is not None:
        raise ImageError(
            f"{repository}:{tag} already names another image ({current}), not {digest}",
            hint="a release of this commit already ran with another image; deploy that one, or release a new commit",
        )
    match = _ECR.match(repository)
    if match is not None:
        _ecr_add_tag(match.group(1), match.group(2), digest, tag)
    else:
        _docker_add_tag(repository, digest, tag, connect_docker(docker_client))
    log(f"tagged {repository}@{digest} as {tag}")
    return True


def _ecr_add_tag(registry_id: str, name: str, digest: str, tag: str) -> None:
    ecr = client("ecr")
    with aws_errors(f"tag {name}@{digest} as {tag}"):
        images = ecr.batch_get_image(registryId=registry_id, repositoryName=name, imageIds=[{"imageDigest": digest}],
                                     acceptedMediaTypes=_MANIFEST_TYPES)["images"]
        if not images:
            raise ImageError(f"{name}@{digest} is not in the repository", hint="publish the image first")
        image = images[0]
        media = image.get("imageManifestMediaType")
        extra = {"imageManifestMediaType": media} if media else {}
        # ImageAlreadyExists: the same manifest already carries that tag, which is what we wanted.
        with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
            ecr.put_image(registryId=registry_id, repositoryName=name, imageManifest=image["imageManifest"],
                          imageTag=tag, imageDigest=digest, **extra)


def _docker_add_tag(repository: str, digest: str, tag: str, client: Any) -> None:
    from docker.errors import APIError

    reference = f"{repository}@{digest}"
    auth = registry_auth(repository)
    try:
        client.images.pull(reference, auth_config=auth).tag(repository, tag)
    except APIError as exc:
        raise registry_error(reference, f"pulling it to tag it {tag} failed: {exc.explanation or exc}") from None
    pushed = push(client, repository, tag, auth)
    if pushed != digest:
        raise ImageError(f"tagging {reference} as {tag} pushed another manifest ({pushed})",
                         hint="the registry rewrote the manifest; tag it with the registry's own tools")
