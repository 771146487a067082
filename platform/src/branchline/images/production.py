"""Production runs only images its own release wrote: the production repository, by digest, tagged `prod-*`.

A `deps-<hash>` tag says what an image *should* contain, not who pushed it: anyone can compute the hash,
and the pull-request role may push to the branch repository. So production never reads that repository:
the release builds (or reuses) its image in `production_image_repository`, which only the release role
may write, and every production deploy refuses any other reference. Each image production deploys also
gets `prod-<git sha>`, the tag the repository's lifecycle rule keeps (rollback targets stay pullable).
Pure functions; the registry calls are in `branchline.images.registry`.
"""

from __future__ import annotations

import re

from branchline.errors import BranchlineError, ConfigError

PRODUCTION_TAG_PREFIX = "prod-"
SETTING = "tool.branchline.aws.production_image_repository"
_DIGEST_REF = re.compile(r"(?P<repository>[^\s@]+)@(?P<digest>sha256:[0-9a-f]{64})")
_SHA = re.compile(r"[0-9a-f]{7,64}")


class ProductionImageError(BranchlineError):
    """An image production must not run."""


def split_reference(reference: str) -> tuple[str, str] | None:
    """(repository, digest) of `repo@sha256:...`, or None when the reference is not pinned by digest."""
    match = _DIGEST_REF.fullmatch(reference or "")
    return (match.group("repository"), match.group("digest")) if match else None


def require_repository(repository: str | None) -> str:
    """The production repository, or one clear error naming the setting."""
    if not repository:
        raise ConfigError(
            f"missing setting {SETTING} (needed to deploy prod)",
            hint="production runs only images from its own repository, which only the release role may "
                 "write; the project stack creates it (see docs/security.md, 'Images and supply chain')",
        )
    return repository


def check_repositories(branch: str | None, production: str | None) -> None:
    """Branches and production never share a repository: a pull request may push to the branch one."""
    if branch and production and branch.rstrip("/") == production.rstrip("/"):
        raise ConfigError(
            f"{SETTING} is the branch repository ({branch})",
            hint="production needs a repository that only the release role may write: a pull request can "
                 "push any image into image_repository",
        )


def check_production_image(reference: str, repository: str | None) -> tuple[str, str]:
    """(repository, digest) of an image production may run; refuses anything else in one line."""
    repository = require_repository(repository)
    parts = split_reference(reference)
    if parts is None or parts[0] != repository:
        raise ProductionImageError(
            f"production runs only images of {repository} pinned by digest, not {reference!r}",
            hint="let `branchline ci release` build it (it builds in the production repository), or pass "
                 f"--image {repository}@sha256:<digest>",
        )
    return parts


def production_tag(git_sha: str) -> str:
    """`prod-<sha>`: what the lifecycle rule keeps; one per production deploy."""
    sha = (git_sha or "").strip().lower()
    if not _SHA.fullmatch(sha):
        raise ProductionImageError(
            f"cannot tag the production image: {git_sha!r} is not a git commit",
            hint="run in the checkout of the commit being released (GITHUB_SHA or git HEAD)",
        )
    return f"{PRODUCTION_TAG_PREFIX}{sha}"
