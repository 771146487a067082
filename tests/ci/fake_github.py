"""A tiny stand-in for the GitHub REST endpoints `branchline` uses, on 127.0.0.1.

It plays only what `branchline` relies on, as GitHub documents it:

- issue comments (list, create, update): bearer-token auth, `per_page`/`page` pagination, comments created by
  the job token belonging to `github-actions[bot]` (type `Bot`), 201 on create and 200 on update;
- pull requests, read-only: `GET /repos/{r}/pulls?state=&head=OWNER:BRANCH` (filtered and paginated as GitHub
  does; a pull request's head carries its repository, so a fork's same-named branch is told apart);
- repository settings, read-only: `GET /repos/{r}/environments/{name}` (404 when absent; GitHub creates an
  environment *without any protection* the first time a workflow names it: `workflow_names_environment`),
  `…/environments/{name}/deployment-branch-policies`, `GET /repos/{r}/actions/oidc/customization/sub`,
  `GET /repos/{r}/branches/{branch}` (`protected`), `GET /repos/{r}/rules/branches/{branch}` (ruleset rules) and
  `GET /repos/{r}/actions/permissions/workflow` (needs the administration permission, which no job token has).

The token's job permissions are modelled: an endpoint whose permission the token lacks answers 403
"Resource not accessible by integration", as GitHub does for a `GITHUB_TOKEN`. Every request is recorded so
tests assert our side of the boundary.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

BOT = {"login": "github-actions[bot]", "type": "Bot"}
_LIST_OR_CREATE = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
_UPDATE = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")
_ENVIRONMENT = re.compile(r"/repos/([^/]+/[^/]+)/environments/([^/]+)(/deployment-branch-policies)?")
_OIDC = re.compile(r"/repos/([^/]+/[^/]+)/actions/oidc/customization/sub")
_BRANCH = re.compile(r"/repos/([^/]+/[^/]+)/(branches|rules/branches)/(.+)")
_WORKFLOW_PERMISSIONS = re.compile(r"/repos/([^/]+/[^/]+)/actions/permissions/workflow")
ADMIN_TOKEN_PERMISSIONS = frozenset({"actions:read", "contents:read", "metadata:read", "administration:read"})
_PULLS = re.compile(r"/repos/([^/]+/[^/]+)/pulls")
JOB_TOKEN_PERMISSIONS = frozenset({"pull-requests:write", "actions:read", "contents:read", "metadata:read"})
NOT_ACCESSIBLE = {"message": "Resource not accessible by integration"}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any] | None
    authorization: str


@dataclass
class FakeGitHub:
    repository: str
    token: str
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    next_id: int = 1000
    permissions: frozenset[str] = JOB_TOKEN_PERMISSIONS
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    branch_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    oidc: dict[str, Any] = field(default_factory=lambda: {"use_default": True})
    oidc_readable: bool = True  # whether the token may read the OIDC customisation (documented as unclear)
    branches: dict[str, dict[str, Any]] = field(default_factory=dict)
    branch_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # GitHub's default for new repositories: workflows may not approve pull requests
    workflow_permissions: dict[str, Any] = field(default_factory=lambda: {
        "default_workflow_permissions": "read", "can_approve_pull_request_reviews": False})
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)

    # ----- pull requests, as people open and close them
    def open_pull(self, number: int, branch: str, *, head_repository: str | None = None, base: str = "main",
                  sha: str = "f" * 40) -> dict[str, Any]:
        """A pull request from `branch` of `head_repository` (default: this repository; else a fork)."""
        repo = head_repository or self.repository
        pull = {"number": number, "state": "open", "html_url": f"https://github.invalid/{self.repository}/pull/{number}",
                "head": {"ref": branch, "sha": sha, "label": f"{repo.split('/')[0]}:{branch}",
                         "repo": {"full_name": repo, "owner": {"login": repo.split("/")[0]}}},
                "base": {"ref": base, "repo": {"full_name": self.repository}}}
        self.pulls[number] = pull
        return pull

    def close_pull(self, number: int) -> None:
        self.pulls[number]["state"] = "closed"

    # ----- repository settings, as an admin would set them in the web UI
    def workflow_names_environment(self, name: str) -> dict[str, Any]:
        """What GitHub does when a job first says `environment: NAME`: an environment with no protection."""
        self.next_id += 1
        return self.environments.setdefault(name, {
            "id": self.next_id, "node_id": f"EN_{self.next_id}", "name": name,
            "url": f"https://api.github.invalid/repos/{self.repository}/environments/{name}",
            "can_admins_bypass": True, "protection_rules": [], "deployment_branch_policy": None})

    def protect_environment(self, name: str, *, branches: tuple[tuple[str, str], ...] = (("main", "branch"),),
                            reviewers: int = 1, prevent_self_review: bool = True,
                            protected_branches: bool = False) -> None:
        """Deployment branch rules (name, branch|tag) and required reviewers, as Settings → Environments."""
        env = self.workflow_names_environment(name)
        rules: list[dict[str, Any]] = [{"id": 1, "node_id": "GA_1", "type": "branch_policy"}]
        if reviewers:
            people = [{"type": "User", "reviewer": {"login": f"reviewer{i}", "id": i}} for i in range(reviewers)]
            rules.append({"id": 2, "node_id": "GA_2", "type": "required_reviewers",
                          "prevent_self_review": prevent_self_review, "reviewers": people})
        env["protection_rules"] = rules
        env["can_admins_bypass"] = False
        env["deployment_branch_policy"] = {"protected_branches": protected_branches,
                                           "custom_branch_policies": not protected_branches}
        self.branch_policies[name] = [{"id": i, "node_id": f"BP_{i}", "name": n, "type": t}
                                      for i, (n, t) in enumerate(branches, 1)]

    def customise_oidc_subject(self, keys: list[str]) -> None:
        """`PUT /repos/{r}/actions/oidc/customization/sub` by a repository admin."""
        self.oidc = {"use_default": False, "include_claim_keys": list(keys)}

    def protect_branch(self, branch: str, *, classic: bool = True, ruleset_rules: tuple[str, ...] = ()) -> None:
        self.branches.setdefault(branch, {"name": branch})["protected"] = classic
        self.branch_rules[branch] = [{"type": t, "ruleset_source_type": "Repository",
                                      "ruleset_source": self.repository, "ruleset_id": 7} for t in ruleset_rules]

    def production_as_documented(self, branch: str = "main") -> None:
        """Every one-time setting of docs/infra.md in place."""
        self.protect_environment("production", branches=((branch, "branch"),))
        self.customise_oidc_subject(["repo", "context", "ref"])
        self.protect_branch(branch, classic=False, ruleset_rules=("pull_request", "non_fast_forward", "deletion"))

    def add_comment(self, number: int, body: str, user: dict[str, str] | None = None) -> int:
        self.next_id += 1
        self.comments[self.next_id] = {"id": self.next_id, "issue": number, "body": body,
                                       "user": dict(user or {"login": "alice", "type": "User"}),
                                       "html_url": f"https://github.invalid/{self.repository}/pull/{number}"
                                                   f"#issuecomment-{self.next_id}"}
        return self.next_id

    def on_issue(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == number]

    @property
    def calls(self) -> list[str]:
        """`METHOD path` of every request, for asserting the sequence."""
        return [f"{r.method} {r.path}" for r in self.requests]

    def handle(self, method: str, raw_path: str, body: dict[str, Any] | None,
               authorization: str) -> tuple[int, Any]:
        split = urlsplit(raw_path)
        query = parse_qs(split.query)
        self.requests.append(Seen(method, split.path, query, body, authorization))
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        if method == "GET" and (settings := self._settings(split.path, query)) is not None:
            return settings
        if method == "GET" and (pulls := _PULLS.fullmatch(split.path)) and pulls.group(1) == self.repository:
            return self._list_pulls(query)
        listing = _LIST_OR_CREATE.fullmatch(split.path)
        if listing and listing.group(1) == self.repository:
            number = int(listing.group(2))
            if method == "GET":
                per_page = min(int(query.get("per_page", ["30"])[0]), 100)
                page = int(query.get("page", ["1"])[0])
                items = sorted(self.on_issue(number), key=lambda c: c["id"])
                return 200, items[(page - 1) * per_page : page * per_page]
            if method == "POST" and body and isinstance(body.get("body"), str):
                return 201, self.comments[self.add_comment(number, body["body"], BOT)]
        update = _UPDATE.fullmatch(split.path)
        if (listing or update) and "pull-requests:write" not in self.permissions:
            return 403, NOT_ACCESSIBLE
        if update and update.group(1) == self.repository and method == "PATCH":
            comment = self.comments.get(int(update.group(2)))
            if comment is None:
                return 404, {"message": "Not Found"}
            if comment["user"] != BOT:
                return 403, {"message": "Resource not accessible by integration"}
            comment["body"] = (body or {})["body"]
            return 200, comment
        return 404, {"message": "Not Found"}

    def _list_pulls(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """`state` (open, closed, all; default open) and `head` (`owner:branch`), paginated."""
        if not {"pull-requests:read", "pull-requests:write"} & self.permissions:
            return 403, NOT_ACCESSIBLE
        state = query.get("state", ["open"])[0]
        head = query.get("head", [None])[0]
        items = [p for _, p in sorted(self.pulls.items())
                 if state in ("all", p["state"]) and (head is None or p["head"]["label"] == head)]
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        return 200, items[(page - 1) * per_page : page * per_page]

    def _settings(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any] | None:
        """The read-only settings endpoints (None: not one of them)."""
        if (env := _ENVIRONMENT.fullmatch(path)) and env.group(1) == self.repository:
            if "actions:read" not in self.permissions:
                return 403, NOT_ACCESSIBLE
            name = unquote(env.group(2))
            if name not in self.environments:
                return 404, {"message": "Not Found"}
            if env.group(3):
                policies = self.branch_policies.get(name, [])
                return 200, {"total_count": len(policies), "branch_policies": policies}
            return 200, self.environments[name]
        if (oidc := _OIDC.fullmatch(path)) and oidc.group(1) == self.repository:
            return (200, self.oidc) if self.oidc_readable else (403, NOT_ACCESSIBLE)
        if (branch := _BRANCH.fullmatch(path)) and branch.group(1) == self.repository:
            name = unquote(branch.group(3))
            if branch.group(2) == "branches":
                if "contents:read" not in self.permissions:
                    return 403, NOT_ACCESSIBLE
                found = self.branches.get(name, {"name": name, "protected": False})
                return 200, {"name": name, "protected": bool(found.get("protected"))}
            return 200, self.branch_rules.get(name, [])
        if (workflow := _WORKFLOW_PERMISSIONS.fullmatch(path)) and workflow.group(1) == self.repository:
            readable = "administration:read" in self.permissions
            return (200, self.workflow_permissions) if readable else (403, NOT_ACCESSIBLE)
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        status, payload = self.fake.handle(self.command, self.path, body, self.headers.get("Authorization", ""))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class GitHubServer:
    """`FakeGitHub` behind a real HTTP server in a thread; `url` is what GITHUB_API_URL is set to."""

    def __init__(self, fake: FakeGitHub) -> None:
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.fake = fake
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> GitHubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
