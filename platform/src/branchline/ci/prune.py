"""Branch namespaces whose branch is gone: found by their tags and data prefixes, judged against the branches.

A deployed namespace is known from the `branchline:namespace` tag of the project's state machines
(tagging API) and job definitions (listed with their tags), and from the first key segment of the
project's S3 prefix (a deploy that stopped after uploading its code package). Only `br-*` namespaces
are candidates: `prod` and `user-*` never are. A branch list that looks wrong (empty, or without the
production branch) stops the prune before anything is deleted.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from branchline.aws.session import ClientFactory
from branchline.ci.context import CIError
from branchline.namespaces import TAG_NAMESPACE, TAG_PROJECT, NamespaceError, namespace_for_branch, validate_namespace
from branchline.namespaces.limits import BRANCH_PREFIX

GIT_TIMEOUT_S = 120


# ----------------------------------------------------------------------------- what is deployed


def _branch_namespace(value: str | None) -> str | None:
    if not value or not value.startswith(BRANCH_PREFIX):
        return None
    try:
        return validate_namespace(value)
    except NamespaceError:
        return None


def deployed_branch_namespaces(clients: ClientFactory, project: str, bucket: str | None) -> set[str]:
    """Every `br-*` namespace of `project` that has a state machine, a job definition or data."""
    found: set[str] = set()
    tagging = clients("resourcegroupstaggingapi").get_paginator("get_resources")
    for page in tagging.paginate(TagFilters=[{"Key": TAG_PROJECT, "Values": [project]}],
                                 ResourceTypeFilters=["states:stateMachine"]):
        for item in page.get("ResourceTagMappingList", []):
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            found.add(_branch_namespace(tags.get(TAG_NAMESPACE)) or "")
    for page in clients("batch").get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
        for jd in page.get("jobDefinitions", []):
            tags = jd.get("tags") or {}
            if tags.get(TAG_PROJECT) == project:
                found.add(_branch_namespace(tags.get(TAG_NAMESPACE)) or "")
    if bucket:
        prefix = f"branchline/{project}/"
        for page in clients("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                                           Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                found.add(_branch_namespace(common["Prefix"][len(prefix):].rstrip("/")) or "")
    found.discard("")
    return found


# ----------------------------------------------------------------------------- which branches exist


def git_auth_env(env: Mapping[str, str]) -> dict[str, str]:
    """Git config through the environment (never argv): the job token as an HTTP header for the server.

    The checkout keeps no credentials (`persist-credentials: false`); this is how `actions/checkout`
    authenticates too, scoped to `GITHUB_SERVER_URL` so the token goes nowhere else.
    """
    extra = {"GIT_TERMINAL_PROMPT": "0"}
    token = env.get("GITHUB_TOKEN")
    if token:
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        extra |= {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{server}/.extraheader",
                  "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}
    return extra


def parse_ls_remote(output: bytes) -> list[str]:
    """Branch names from `git ls-remote --heads` (`<sha>\\trefs/heads/<name>` lines; names may hold anything
    git allows, but no tab or newline)."""
    branches = []
    for line in output.splitlines():
        _, sep, ref = line.partition(b"\t")
        if not sep or not ref.startswith(b"refs/heads/"):
            continue
        try:
            branches.append(ref[len(b"refs/heads/"):].decode("utf-8"))
        except UnicodeDecodeError:
            raise CIError(f"branch {ref!r} is not UTF-8: its namespace cannot be told",
                          hint="pass the branch list with --branches-file") from None
    return branches


def remote_branches(root: Path, env: Mapping[str, str], remote: str = "origin") -> list[str]:
    """`git ls-remote --heads <remote>` in the checkout at `root`."""
    try:
        done = subprocess.run(["git", "ls-remote", "--heads", remote], cwd=root, capture_output=True,
                              env={**os.environ, **git_auth_env(env)}, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CIError(f"cannot list the branches of {remote}: {exc}",
                      hint="run in the repository's checkout, or pass --branches-file") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise CIError(f"`git ls-remote --heads {remote}` failed: {detail[-1] if detail else done.returncode}",
                      hint="the job needs `contents: read` and GITHUB_TOKEN, or pass --branches-file")
    return parse_ls_remote(done.stdout)


def read_branches_file(path: Path) -> list[str]:
    """One branch name per line (git allows no whitespace in branch names, so lines are stripped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CIError(f"cannot read --branches-file {path}: {exc.strerror}") from None
    names = (line.strip(" \t\r") for line in text.split("\n"))  # not str.splitlines: U+2028 is a valid name
    return [name.removeprefix("refs/heads/") for name in names if name]


# ----------------------------------------------------------------------------- the decision (pure)


def stale_namespaces(deployed: Iterable[str], branches: Iterable[str], production_branch: str) -> list[str]:
    """Deployed branch namespaces that no existing branch maps to; refuses an implausible branch list."""
    existing = list(branches)
    if not existing:
        raise CIError("the branch list is empty: refusing to prune (it would remove every branch namespace)",
                      hint="check the remote, or the --branches-file")
    if production_branch not in existing:
        raise CIError(f"the branch list does not contain the production branch {production_branch!r}: "
                      "refusing to prune from a list that looks wrong",
                      hint="check the remote, the --branches-file, or tool.branchline.production_branch")
    alive = {namespace_for_branch(b) for b in existing}
    return sorted(ns for ns in set(deployed) if ns.startswith(BRANCH_PREFIX) and ns not in alive)
