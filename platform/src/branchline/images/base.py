"""The step image's base image, resolved to a digest: a tag can move, the dependency hash must not.

The base is the `BASE_IMAGE` build argument when given, else the Dockerfile's `ARG BASE_IMAGE=` default,
else its first literal `FROM`. A reference pinned by digest (`name:tag@sha256:...`) is taken as it is;
any other is asked of the Docker engine (its local image id, content-addressed) or, failing that, of the
registry, so an image built on a base that moved gets a new tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from branchline.errors import BranchlineError
from branchline.images.engine import registry_auth, remote_digest

_ARG = re.compile(r"^\s*ARG\s+BASE_IMAGE=(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.MULTILINE | re.IGNORECASE)
_PINNED = re.compile(r"@(sha256:[0-9a-f]{64})$")


class BaseImageError(BranchlineError):
    """The base image cannot be named or resolved to a digest."""


def base_image(root: Path, build_args: Mapping[str, str] | None = None) -> str | None:
    """The base image reference the build will use, or None when the Dockerfile names none we can read."""
    if build_args and build_args.get("BASE_IMAGE"):
        return build_args["BASE_IMAGE"]
    text = (root / "Dockerfile").read_text(encoding="utf-8")
    declared = _ARG.search(text)
    if declared:
        return declared.group(1).strip("\"'")
    literal = [ref for ref in _FROM.findall(text) if "$" not in ref and ref.lower() != "scratch"]
    return literal[0] if literal else None


def pinned_digest(reference: str) -> str | None:
    """`sha256:...` of a reference pinned by digest, else None."""
    match = _PINNED.search(reference)
    return match.group(1) if match else None


def resolve_digest(reference: str, docker: Callable[[], Any]) -> str:
    """The digest of `reference`: its own pin, else the engine's image id, else the registry's digest."""
    pinned = pinned_digest(reference)
    if pinned:
        return pinned
    from docker.errors import APIError, DockerException, ImageNotFound

    client = docker()
    try:
        return str(client.images.get(reference).id)
    except ImageNotFound:
        pass
    except (APIError, DockerException) as exc:
        raise BaseImageError(f"cannot inspect the base image {reference}: {exc}") from None
    hint = "pin it by digest in the Dockerfile (ARG BASE_IMAGE=name:tag@sha256:...) or pull it first"
    try:
        found = remote_digest(client, reference, registry_auth(reference))
    except BranchlineError as exc:
        raise BaseImageError(f"the base image {reference} is not on the Docker engine and its registry failed: "
                             f"{exc.message}", hint=hint) from None
    if not found:
        raise BaseImageError(f"the base image {reference} is neither on the Docker engine nor in its registry",
                             hint=hint)
    return found
