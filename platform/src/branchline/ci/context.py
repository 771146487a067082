"""The `GITHUB_*` environment of a job and its event payload, read once into plain data.

Everything a runner sets is input, and branch names in it are hostile: they are carried as data and
never reach a shell (subprocesses take argument lists; the GitHub API gets them only in JSON bodies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchline.errors import BranchlineError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class CIError(BranchlineError):
    """A CI job run on the wrong event, or with an environment it cannot work with."""


@dataclass(frozen=True)
class GitHubContext:
    """What `branchline ci` reads from a runner: the variables plus the event JSON."""

    env: Mapping[str, str]
    event_name: str
    event: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.env.get(name, "") or ""

    @property
    def ref(self) -> str:
        return self.get("GITHUB_REF")

    @property
    def head_ref(self) -> str:
        return self.get("GITHUB_HEAD_REF")

    @property
    def sha(self) -> str:
        return self.get("GITHUB_SHA")

    @property
    def action(self) -> str:
        """The event's activity type (`opened`, `synchronize`, `closed`...), empty when it has none."""
        return str(self.event.get("action") or "")

    @property
    def repository(self) -> str:
        """`owner/name`, checked: it is put into API URL paths."""
        value = self.get("GITHUB_REPOSITORY")
        if not _REPOSITORY.fullmatch(value):
            raise CIError(
                f"GITHUB_REPOSITORY {value!r} is not OWNER/NAME",
                hint="run inside a GitHub Actions job, or set GITHUB_REPOSITORY=owner/repo",
            )
        return value

    @property
    def api_url(self) -> str:
        return (self.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")

    @property
    def server_url(self) -> str:
        return (self.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")

    @property
    def token(self) -> str:
        return self.get("GITHUB_TOKEN")

    @property
    def run_url(self) -> str | None:
        """The Actions run page, when the runner said which run this is."""
        run_id = self.get("GITHUB_RUN_ID")
        if not run_id or not _REPOSITORY.fullmatch(self.get("GITHUB_REPOSITORY")):
            return None
        return f"{self.server_url}/{self.get('GITHUB_REPOSITORY')}/actions/runs/{run_id}"

    @property
    def pull_request(self) -> dict[str, Any]:
        value = self.event.get("pull_request")
        return value if isinstance(value, dict) else {}

    @property
    def pr_number(self) -> int:
        """The pull request's number from the event payload (the merge ref is the fallback)."""
        raw = self.pull_request.get("number", self.event.get("number"))
        if raw is None:
            match = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", self.ref)
            raw = match.group(1) if match else None
        if isinstance(raw, bool) or raw is None or not str(raw).isdigit() or int(raw) < 1:
            raise CIError(
                "no pull request number in the event",
                hint="GITHUB_EVENT_PATH must point at the JSON of a pull_request event (with `number`)",
            )
        return int(raw)

    @property
    def head_sha(self) -> str:
        """The PR head commit (what the author pushed); GITHUB_SHA is the merge commit that was built."""
        head = self.pull_request.get("head")
        return str(head.get("sha") or "") if isinstance(head, dict) else ""


def read_event(path: str) -> dict[str, Any]:
    """The event payload at `GITHUB_EVENT_PATH` ({} when the variable is unset)."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise CIError(f"cannot read the event file GITHUB_EVENT_PATH={path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CIError(f"the event file GITHUB_EVENT_PATH={path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CIError(f"the event file GITHUB_EVENT_PATH={path} holds no JSON object")
    return data


def github_context(env: Mapping[str, str]) -> GitHubContext:
    """The context of the job whose environment is `env` (normally `os.environ`)."""
    event_name = env.get("GITHUB_EVENT_NAME", "")
    if not event_name:
        raise CIError(
            "GITHUB_EVENT_NAME is not set: this is not a GitHub Actions job",
            hint="`branchline ci` commands run in the workflows; use `branchline deploy` by hand",
        )
    return GitHubContext(env=dict(env), event_name=event_name, event=read_event(env.get("GITHUB_EVENT_PATH", "")))
