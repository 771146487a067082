"""The few GitHub REST calls `branchline ci` makes (issue comments, reading repository settings), over plain
HTTP (stdlib only).

One PR comment is updated in place: it is found by a hidden marker at the very start of its body, among
comments written by a bot (the job's token posts as `github-actions[bot]`), so a person who pastes the
marker into their own comment does not get it overwritten.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from branchline.ci.context import CIError

PR_MARKER = "<!-- branchline:pr -->"
PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: far beyond any pull request; bounds a misbehaving server
TIMEOUT_S = 30
RETRY_STATUSES = frozenset({500, 502, 503, 504})
RETRY_DELAYS_S = (1.0, 3.0)


class GitHubError(CIError):
    """GitHub answered with an error (`status`), or did not answer (`status` 0)."""

    status: int = 0


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author_type: str


@dataclass(frozen=True)
class CommentResult:
    id: int
    url: str
    created: bool


COMMENT_ACCESS = ("write the pull request comment", "pull-requests: write", ", or use --no-comment")


class GitHub:
    """`api_url` + a token; every call is one request (or a bounded page walk).

    `access` = (what the token is for, the job permission it needs, an alternative) words the errors.
    """

    def __init__(self, api_url: str, token: str, repository: str,
                 access: tuple[str, str, str] = COMMENT_ACCESS) -> None:
        purpose, permission, alternative = access
        if not token:
            raise CIError(f"GITHUB_TOKEN is not set: cannot {purpose}",
                          hint="pass `env: GITHUB_TOKEN: ${{ github.token }}` to the step "
                               f"(with `permissions: {permission}`){alternative}")
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.repository = repository
        self.permission = permission

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """JSON in, JSON out; 5xx and connection errors are retried twice, anything else fails at once."""
        url = f"{self.api_url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "branchline-ci",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        for delay in (*RETRY_DELAYS_S, None):
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                    raw = resp.read()
                return json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                if exc.code in RETRY_STATUSES and delay is not None:
                    time.sleep(delay)
                    continue
                error = GitHubError(f"GitHub {method} {path} failed: HTTP {exc.code} {_message(exc)}",
                                    hint=_hint(exc.code, self.permission))
                error.status = exc.code
                raise error from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if delay is not None:
                    time.sleep(delay)
                    continue
                reason = getattr(exc, "reason", exc)
                raise GitHubError(f"GitHub API {self.api_url} is unreachable ({method} {path}): {reason}",
                                  hint="check GITHUB_API_URL and the network") from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def get_if_readable(self, path: str) -> tuple[int, Any]:
        """GET `path`; (200, body), or (403|404, None) when the token may not read it or it does not exist."""
        try:
            return 200, self.request("GET", path)
        except GitHubError as exc:
            if exc.status in (403, 404):
                return exc.status, None
            raise

    # ----- issue comments (a pull request is an issue for comments)
    def comments(self, number: int) -> Iterator[Comment]:
        for page in range(1, MAX_PAGES + 1):
            items = self.request("GET", f"/repos/{self.repository}/issues/{number}/comments"
                                        f"?per_page={PER_PAGE}&page={page}")
            if not isinstance(items, list):
                raise GitHubError(f"GitHub returned no list of comments for #{number}")
            for item in items:
                user = item.get("user") or {}
                yield Comment(int(item["id"]), str(item.get("body") or ""), str(user.get("type") or ""))
            if len(items) < PER_PAGE:
                return

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body}))

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/repos/{self.repository}/issues/comments/{comment_id}", {"body": body}))


def find_marked(comments: Iterator[Comment], marker: str) -> Comment | None:
    """The first bot comment whose body starts with `marker`."""
    return next((c for c in comments if c.author_type == "Bot" and c.body.startswith(marker)), None)


def upsert_comment(github: GitHub, number: int, body: str, marker: str = PR_MARKER) -> CommentResult:
    """Update the marked comment of pull request `number`, or create it; `body` gets the marker first."""
    text = body if body.startswith(marker) else f"{marker}\n{body}"
    existing = find_marked(github.comments(number), marker)
    if existing is None:
        made = github.create_comment(number, text)
        return CommentResult(int(made["id"]), str(made.get("html_url", "")), created=True)
    updated = github.update_comment(existing.id, text)
    return CommentResult(existing.id, str(updated.get("html_url", "")), created=False)


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read() or b"{}").get("message", exc.reason))
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def _hint(status: int, permission: str = "pull-requests: write") -> str | None:
    if status in (401, 403):
        return f"the token lacks access: give the job `permissions: {permission}` (forks get a read-only token)"
    if status == 404:
        return "check GITHUB_REPOSITORY and the pull request number"
    return None
