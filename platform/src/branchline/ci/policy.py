"""Which GitHub event may do what to which namespace. Pure: a context in, a namespace or a refusal out.

* a pull request deploys its head branch's namespace, never `prod` (even when its head is `main`:
  a fork's `main` is just a branch, and GitHub's OIDC subject of a PR job names no branch);
* only a push to the production branch releases `prod`;
* only a closed pull request tears a namespace down, and never `prod`.
"""

from __future__ import annotations

from branchline.aws.compile import SourceContext
from branchline.ci.context import CIError, GitHubContext
from branchline.namespaces import is_production, namespace_from_ci

PULL_REQUEST = "pull_request"
PUSH = "push"


def _refuse_prod(namespace: str, what: str) -> str:
    if is_production(namespace):  # namespace_from_ci never gives prod for a PR; this guards the guard
        raise CIError(f"{what} resolved to the production namespace: refused",
                      hint="only `branchline ci release`, on a push to the production branch, deploys prod")
    return namespace


def pr_namespace(ctx: GitHubContext, production_branch: str) -> str:
    """The branch namespace a `pull_request` job deploys."""
    if ctx.event_name == "pull_request_target":
        raise CIError(
            "`branchline ci pr` refuses pull_request_target events",
            hint="they run with the base repository's secrets; deploy PR code from `on: pull_request` only",
        )
    if ctx.event_name != PULL_REQUEST:
        raise CIError(f"`branchline ci pr` runs on pull_request events, not {ctx.event_name!r}",
                      hint="trigger the ci workflow with `on: pull_request`")
    if ctx.action == "closed":
        raise CIError("this pull request is closed: nothing to deploy",
                      hint="closed pull requests are torn down by `branchline ci cleanup`")
    return _refuse_prod(namespace_from_ci(ctx.env, production_branch), "a pull request")


def release_namespace(ctx: GitHubContext, production_branch: str) -> str:
    """`prod`, for a push to the production branch; anything else is refused with the reason."""
    wanted = f"refs/heads/{production_branch}"
    if ctx.event_name != PUSH:
        raise CIError(
            f"`branchline ci release` deploys prod only on a push to {production_branch}, not on a "
            f"{ctx.event_name!r} event",
            hint=f"trigger the release workflow on push, with branches: {production_branch}",
        )
    if ctx.ref != wanted:
        raise CIError(
            f"`branchline ci release` deploys prod only from {wanted}, not from {ctx.ref or '(no GITHUB_REF)'}",
            hint="pull requests deploy their own namespace with `branchline ci pr`",
        )
    namespace = namespace_from_ci(ctx.env, production_branch)
    if not is_production(namespace):  # cannot happen with the checks above; say so loudly if it does
        raise CIError(f"a push to {wanted} resolved to namespace {namespace!r}, not prod")
    return namespace


def cleanup_namespace(ctx: GitHubContext, production_branch: str) -> str:
    """The branch namespace of a closed pull request."""
    if ctx.event_name not in (PULL_REQUEST, "pull_request_target"):
        raise CIError(f"`branchline ci cleanup` runs on pull_request `closed` events, not {ctx.event_name!r}",
                      hint="trigger the cleanup workflow on pull_request, with types: closed")
    if ctx.action != "closed":
        raise CIError(f"`branchline ci cleanup` tears down closed pull requests; this one is {ctx.action or '?'!r}",
                      hint="trigger the cleanup workflow on pull_request, with types: closed")
    return _refuse_prod(namespace_from_ci(ctx.env, production_branch), "a closed pull request")


def deploy_source(ctx: GitHubContext) -> SourceContext:
    """Where a CI deploy's code came from, for its runs' records: the pull request's head branch (the pushed
    branch on a push; none for a tag), the repository and its host."""
    pushed = ctx.ref.removeprefix("refs/heads/") if ctx.ref.startswith("refs/heads/") else None
    return SourceContext(branch=ctx.head_ref or pushed, repository=ctx.repository, server_url=ctx.server_url)
