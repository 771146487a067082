"""Git ref / CI event / user → namespace, and the check for namespaces typed by hand."""

from __future__ import annotations

import re
from collections.abc import Mapping

from branchline.namespaces.errors import CIEnvironmentError, NamespaceError
from branchline.namespaces.limits import (
    BRANCH_PREFIX,
    HASH_LENGTH,
    NAMESPACE_MAX_LENGTH,
    PRODUCTION_NAMESPACE,
    USER_PREFIX,
)
from branchline.namespaces.text import cut, looks_hashed, short_hash, slugify

_NAMESPACE = re.compile(r"prod|(?:br|user)-[a-z0-9]+(?:-[a-z0-9]+)*")
_NAMESPACE_HINT = (
    "a namespace is `prod`, `br-<name>` or `user-<name>`: lowercase letters, digits and single `-`, "
    f"at most {NAMESPACE_MAX_LENGTH} characters (e.g. `user-alice`)"
)
HEADS = "refs/heads/"
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
REF_EVENTS = frozenset({"push", "workflow_dispatch", "schedule"})


def _hashed(prefix: str, raw: str) -> str:
    """`<prefix><slug>-<hash of raw>`, the slug cut so that the whole fits NAMESPACE_MAX_LENGTH."""
    room = NAMESPACE_MAX_LENGTH - len(prefix) - 1 - HASH_LENGTH
    slug = cut(slugify(raw), room)
    return f"{prefix}{slug}-{short_hash(raw)}" if slug else f"{prefix}{short_hash(raw)}"


def namespace_for_branch(branch: str) -> str:
    """`br-<slug>-<hash>`; the hash is of the raw name, so `Feature/X` and `feature-x` stay apart."""
    if not branch:
        raise NamespaceError("branch name is empty", hint="pass the name of a git branch, e.g. `feature/x`")
    return _hashed(BRANCH_PREFIX, branch)


def namespace_for_user(username: str) -> str:
    """`user-<name>` when the name is already a short slug, else `user-<slug>-<hash>`."""
    if not username:
        raise NamespaceError("user name is empty", hint="pass a user name, e.g. `alice`")
    plain = USER_PREFIX + username
    if slugify(username) == username and len(plain) <= NAMESPACE_MAX_LENGTH and not looks_hashed(plain):
        return plain
    return _hashed(USER_PREFIX, username)


def namespace_from_ref(ref: str, production_branch: str = "main") -> str:
    """`refs/heads/<production_branch>` → `prod`; any other `refs/heads/<b>` → the namespace of `<b>`."""
    if ref.startswith(HEADS) and ref != HEADS:
        branch = ref.removeprefix(HEADS)
        return PRODUCTION_NAMESPACE if branch == production_branch else namespace_for_branch(branch)
    if ref.startswith("refs/pull/"):
        raise NamespaceError(
            f"git ref {ref!r} is a pull request merge ref, which names no branch",
            hint="use the pull request's head branch (GITHUB_HEAD_REF) instead",
        )
    if ref.startswith("refs/tags/"):
        raise NamespaceError(
            f"git ref {ref!r} is a tag; namespaces belong to branches",
            hint="deploy from a branch (refs/heads/...)",
        )
    raise NamespaceError(
        f"git ref {ref!r} is not a branch ref",
        hint="pass a full branch ref such as `refs/heads/feature/x`",
    )


def _require(env: Mapping[str, str], variable: str, event: str | None = None) -> str:
    value = env.get(variable, "")
    if not value:
        raise CIEnvironmentError(variable, event)
    return value


def namespace_from_ci(env: Mapping[str, str], production_branch: str = "main") -> str:
    """The namespace of a GitHub Actions job, from the `GITHUB_*` variables the runner sets.

    Pull requests deploy their head branch's namespace, never `prod`, even from a fork's `main`:
    only a push (or dispatch / schedule) on the production branch itself yields `prod`.
    """
    event = _require(env, "GITHUB_EVENT_NAME")
    if event in PULL_REQUEST_EVENTS:
        return namespace_for_branch(_require(env, "GITHUB_HEAD_REF", event))
    if event in REF_EVENTS:
        return namespace_from_ref(_require(env, "GITHUB_REF", event), production_branch)
    supported = ", ".join(sorted(PULL_REQUEST_EVENTS | REF_EVENTS))
    raise NamespaceError(
        f"GitHub event {event!r} has no namespace",
        hint=f"run namespace-dependent jobs on one of: {supported}",
    )


def validate_namespace(ns: str) -> str:
    """`ns` unchanged when valid; otherwise an error saying exactly what is wrong with it."""
    if not ns:
        raise NamespaceError("namespace is empty", hint=_NAMESPACE_HINT)
    if len(ns) > NAMESPACE_MAX_LENGTH:
        problem = f"is {len(ns)} characters long (at most {NAMESPACE_MAX_LENGTH})"
    elif bad := sorted({c for c in ns if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-")}):
        problem = "contains " + " ".join(repr(c) for c in bad)
    elif not ns.startswith((BRANCH_PREFIX, USER_PREFIX)) and ns != PRODUCTION_NAMESPACE:
        problem = f"must be {PRODUCTION_NAMESPACE!r} or start with {BRANCH_PREFIX!r} or {USER_PREFIX!r}"
    elif not _NAMESPACE.fullmatch(ns):
        problem = "has an empty part (a trailing `-` or `--`)"
    else:
        return ns
    raise NamespaceError(f"invalid namespace {ns!r}: it {problem}", hint=_NAMESPACE_HINT)


def is_production(ns: str) -> bool:
    return ns == PRODUCTION_NAMESPACE


def is_user_namespace(ns: str | None) -> bool:
    """A person's own namespace (`user-<name>`), not a branch's or production's."""
    return bool(ns) and str(ns).startswith(USER_PREFIX)
