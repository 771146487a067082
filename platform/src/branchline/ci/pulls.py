"""Other open pull requests of a branch (GitHub REST): a namespace belongs to a branch, not to one pull request.

Two pull requests from one branch (into `main` and into a release branch, say) deploy one namespace. Closing
either must not tear it down while the other is open: `branchline ci cleanup` asks GitHub for the open pulls
whose head is this branch of this repository (`GET /repos/{repo}/pulls?state=open&head=OWNER:BRANCH`). The
branch name is hostile input: it goes into the query string percent-encoded, and every answer is checked
again against the exact branch and repository (a server that ignored the filter must not keep a namespace
alive, nor a fork's same-named branch).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from branchline.ci.context import CIError, GitHubContext
from branchline.ci.github import MAX_PAGES, PER_PAGE, GitHub

PULLS_ACCESS = ("list the open pull requests of this branch before tearing its namespace down",
                "pull-requests: read", "")


@dataclass(frozen=True)
class OpenPull:
    number: int
    url: str


def head_owner(ctx: GitHubContext) -> str:
    """The owner of the pull request's head repository (the event's `head.repo.owner.login`, else ours)."""
    head = ctx.pull_request.get("head")
    repo = head.get("repo") if isinstance(head, dict) else None
    owner = repo.get("owner") if isinstance(repo, dict) else None
    login = owner.get("login") if isinstance(owner, dict) else None
    return str(login or ctx.repository.split("/", 1)[0])


def open_pulls_of_branch(github: GitHub, owner: str, branch: str) -> list[OpenPull]:
    """Open pull requests whose head is `owner:branch` in `github.repository` (fork heads excluded)."""
    head = quote(f"{owner}:{branch}", safe="")
    found = []
    for page in range(1, MAX_PAGES + 1):
        items = github.request("GET", f"/repos/{github.repository}/pulls?state=open&head={head}"
                                      f"&per_page={PER_PAGE}&page={page}")
        if not isinstance(items, list):
            raise CIError("GitHub returned no list of pull requests")
        for item in items:
            item_head = item.get("head") or {}
            repo = (item_head.get("repo") or {}).get("full_name")
            if item.get("state") == "open" and item_head.get("ref") == branch and repo == github.repository:
                found.append(OpenPull(int(item["number"]), str(item.get("html_url", ""))))
        if len(items) < PER_PAGE:
            return found
    return found


def other_open_pulls(ctx: GitHubContext) -> list[OpenPull]:
    """Open pull requests of this pull request's head branch, other than this one."""
    github = GitHub(ctx.api_url, ctx.token, ctx.repository, access=PULLS_ACCESS)
    number = ctx.pr_number
    return [p for p in open_pulls_of_branch(github, head_owner(ctx), ctx.head_ref) if p.number != number]
