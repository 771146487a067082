"""Facts recorded with every run: the local namespace, git and CI context (read from this machine)."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from branchline.authoring.project import Placement, place, project_of
from branchline.namespaces import namespace_for_user, validate_namespace


def local_user() -> str:
    """The person running this process (as `getpass` finds them), `unknown` when nothing says."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def local_namespace() -> str:
    """`BRANCHLINE_NAMESPACE`, else `user-<name>` for a person running on a laptop."""
    explicit = os.environ.get("BRANCHLINE_NAMESPACE")
    if explicit:
        return validate_namespace(explicit)
    return namespace_for_user(local_user())


def local_placement(flow_cls: type, *, branch: str | None = None, production: bool = False) -> Placement:
    """Where this machine runs or deploys `flow_cls`: `--branch`, `--production`, `@project(...)`,
    `BRANCHLINE_NAMESPACE`, else this user's namespace (`branchline.authoring.project.place`)."""
    explicit = os.environ.get("BRANCHLINE_NAMESPACE")
    return place(branch=branch, production=production, username=local_user(), spec=project_of(flow_cls),
                 namespace=validate_namespace(explicit) if explicit else None)


def git_context(root: Path) -> dict[str, Any] | None:
    """Commit and branch of the project, or None outside a git work tree (one cheap git call)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    sha, _, branch = out.stdout.strip().partition("\n")
    return {"sha": sha or None, "branch": os.environ.get("GITHUB_HEAD_REF") or branch or None}


def git_context_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """In a step container: the commit and branch the deploy gave the start task (`SourceContext`)."""
    return {"sha": env.get("BRANCHLINE_GIT_SHA"), "branch": env.get("BRANCHLINE_BRANCH")}


def source_ci_from_env(env: Mapping[str, str]) -> dict[str, Any] | None:
    """In a step container: the repository and git host the deploy recorded, as the run record's CI context
    (its commit link); None when the deploy did not come from CI."""
    repository, server = env.get("BRANCHLINE_REPOSITORY"), env.get("BRANCHLINE_GIT_SERVER")
    return {"repository": repository, "server_url": server} if repository and server else None


def ci_context() -> dict[str, Any] | None:
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return None
    ref = os.environ.get("GITHUB_REF", "")
    pr = ref.split("/")[2] if ref.startswith("refs/pull/") else None
    return {"event": os.environ.get("GITHUB_EVENT_NAME"), "pr_number": pr, "run_id": os.environ.get("GITHUB_RUN_ID"),
            "repository": os.environ.get("GITHUB_REPOSITORY"), "server_url": os.environ.get("GITHUB_SERVER_URL")}
