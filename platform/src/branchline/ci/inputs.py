"""What a deploy needs before it can run: the step image (by digest) and the code package (in S3).

The image is built only when its dependency hash is new; `--image` passes one from an earlier job and
`--skip-image` only looks up the image of the current dependency hash (no Docker build). The code
package goes under the namespace's own S3 prefix, so tearing the namespace down removes it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from branchline.ci.context import CIError
from branchline.config import Config
from branchline.namespaces import Names

_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(.+)$")


@dataclass(frozen=True)
class ImageChoice:
    reference: str
    source: str


@dataclass(frozen=True)
class CodePackageChoice:
    url: str
    uploaded: bool
    files: int


def image_repository(config: Config) -> str:
    return str(config.require("aws.image_repository",
                              hint="set tool.branchline.aws.image_repository (the ECR repository of step "
                                   "images), or pass --image REPOSITORY@sha256:..."))


def existing_image(config: Config) -> ImageChoice:
    """The digest reference of `deps-<hash>` of the current dependencies, which must already exist."""
    from branchline.images.publish import dependency_hash, image_tag

    repository = image_repository(config)
    tag = image_tag(dependency_hash(config.root))
    digest = _ecr_digest(repository, tag) if _ECR.match(repository) else _registry_digest(repository, tag)
    if not digest:
        raise CIError(f"--skip-image: {repository}:{tag} does not exist (the dependencies changed)",
                      hint="drop --skip-image to build it, or pass --image REPOSITORY@sha256:... from the job "
                           "that built it")
    return ImageChoice(f"{repository}@{digest}", f"existing {tag}")


def _ecr_digest(repository: str, tag: str) -> str | None:
    from branchline.aws.session import aws_errors, client

    match = _ECR.match(repository)
    assert match is not None
    ecr = client("ecr")
    with aws_errors(f"look up {repository}:{tag}"):
        try:
            found = ecr.describe_images(registryId=match.group(1), repositoryName=match.group(2),
                                        imageIds=[{"imageTag": tag}])["imageDetails"]
        except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
            return None
    return str(found[0]["imageDigest"]) if found else None


def _registry_digest(repository: str, tag: str) -> str | None:
    from branchline.images.publish import connect_docker, registry_auth, remote_digest

    return remote_digest(connect_docker(), f"{repository}:{tag}", registry_auth(repository))


def choose_image(config: Config, *, image: str | None, skip_image: bool,
                 log: Callable[[str], None]) -> ImageChoice:
    """`--image` as given; else the existing image (`--skip-image`); else publish (build only if new)."""
    if image and skip_image:
        raise CIError("--image and --skip-image exclude each other",
                      hint="--image passes a digest reference; --skip-image looks up the current one")
    if image:
        return ImageChoice(image, "given")
    if skip_image:
        return existing_image(config)
    from branchline.images.publish import publish

    result = publish(config.root, image_repository(config), log=log)
    return ImageChoice(result.reference, "built and pushed" if result.built else "reused: dependencies unchanged")


def upload_code_package(config: Config, names: Names, bucket: str) -> CodePackageChoice:
    """Pack the checkout's tracked files and put them under `<namespace prefix>/code/` (once per content)."""
    from branchline.aws.session import aws_errors
    from branchline.images.codepkg import build_code_package, upload

    package = build_code_package(config.root)
    with aws_errors(f"upload of the code package to s3://{bucket}/{names.s3_prefix()}"):
        url, uploaded = upload(package, bucket, names.s3_prefix())
    return CodePackageChoice(url, uploaded, len(package.files))
