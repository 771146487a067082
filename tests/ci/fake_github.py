"""A tiny stand-in for GitHub's issue-comments REST endpoints (list, create, update), on 127.0.0.1.

It plays only what `branchline ci` relies on, as GitHub documents it: bearer-token auth, `per_page`/`page`
pagination, comments created by the job token belonging to `github-actions[bot]` (type `Bot`), 201 on
create and 200 on update. Every request is recorded so tests assert our side of the boundary.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT = {"login": "github-actions[bot]", "type": "Bot"}
_LIST_OR_CREATE = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
_UPDATE = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")


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
        if update and update.group(1) == self.repository and method == "PATCH":
            comment = self.comments.get(int(update.group(2)))
            if comment is None:
                return 404, {"message": "Not Found"}
            if comment["user"] != BOT:
                return 403, {"message": "Resource not accessible by integration"}
            comment["body"] = (body or {})["body"]
            return 200, comment
        return 404, {"message": "Not Found"}


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
