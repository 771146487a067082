"""What a deploy needs before it can run: the step image (by digest) and the code package (in S3).

The image is built only when its dependency hash is new; `--image` passes one from an earlier job and
`--skip-image` only looks up the image of the current dependency hash (no Docker build). Branch
namespaces use `image_repository`; production uses `production_image_repository` only, which the
pull-request role cannot write, so a `deps-<hash>` tag planted by a pull request is never even looked
at by a release. The code package goes under the namespace's own S3 prefix, so tearing the namespace
down removes it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from branchline.aws.deploy.settings import image_repositories
from branchline.aws.session import aws_errors
from branchline.ci.context import CIError
from branchline.config import Config
from branchline.images.codepkg import build_code_package, upload
from branchline.images.production import check_production_image, production_tag, require_repository
from branchline.images.publish import current_tag, publish
from branchline.images.registry import add_tag, tag_digest
from branchline.namespaces import Names


@dataclass(frozen=True)
class ImageChoice:
    reference: str
    source: str


@dataclass(frozen=True)
class CodePackageChoice:
    url: str
    uploaded: bool
    files: int


def image_repository(config: Config, *, production: bool = False) -> str:
    """Where this deploy's image lives: the branch repository, or (prod) the production one only."""
    if production:
        return require_repository(image_repositories(config)[1])
    return str(config.require("aws.image_repository",
                              hint="set tool.branchline.aws.image_repository (the ECR repository of step "
                                   "images), or pass --image REPOSITORY@sha256:..."))


def existing_image(config: Config, *, production: bool = False) -> ImageChoice:
    """The digest reference of `deps-<hash>` of the current dependencies, which must already exist."""
    repository = image_repository(config, production=production)
    tag = current_tag(config.root)
    digest = tag_digest(repository, tag)
    if not digest:
        raise CIError(f"--skip-image: {repository}:{tag} does not exist (the dependencies changed)",
                      hint="drop --skip-image to build it, or pass --image REPOSITORY@sha256:... from the job "
                           "that built it")
    return ImageChoice(f"{repository}@{digest}", f"existing {tag}")


def choose_image(config: Config, *, image: str | None, skip_image: bool,
                 log: Callable[[str], None], production: bool = False) -> ImageChoice:
    """`--image` as given; else the existing image (`--skip-image`); else publish (build only if new)."""
    if image and skip_image:
        raise CIError("--image and --skip-image exclude each other",
                      hint="--image passes a digest reference; --skip-image looks up the current one")
    if image:
        return ImageChoice(image, "given")
    if skip_image:
        return existing_image(config, production=production)
    result = publish(config.root, image_repository(config, production=production), log=log, fresh_layers=production)
    return ImageChoice(result.reference, "built and pushed" if result.built else "reused: dependencies unchanged")


def protect_production_image(config: Config, reference: str, git_sha: str, log: Callable[[str], None]) -> str:
    """Check a production image and tag it `prod-<sha>` before anything references it; returns the tag."""
    repository, digest = check_production_image(reference, image_repository(config, production=True))
    tag = production_tag(git_sha)
    add_tag(repository, digest, tag, log=log)
    return tag


def upload_code_package(config: Config, names: Names, bucket: str, include: Sequence[str] = ()) -> CodePackageChoice:
    """Pack the checkout's tracked files (and `include`) and put them under `<namespace prefix>/code/` (once per
    content)."""
    package = build_code_package(config.root, include)
    with aws_errors(f"upload of the code package to s3://{bucket}/{names.s3_prefix()}"):
        url, uploaded = upload(package, bucket, names.s3_prefix())
    return CodePackageChoice(url, uploaded, len(package.files))
