"""What `namespace(...)` accepts: Metaflow's namespace strings, mapped onto branchline's namespaces. Pure.

Metaflow filters runs by a tag (`user:alice`, `production:<token>`); branchline keeps each namespace under its
own prefix, so a selector names a namespace (or every one, for `None`):

| selector | namespace | reads |
| --- | --- | --- |
| `None` | every namespace | the default datastore |
| `user:alice` | `user-alice` (the same rules as `namespace_for_user`) | the default datastore |
| `project_branch:user.alice` (`test.x`, `prod`) | `user-alice` (x's branch namespace, `prod`) | the default one |
| `prod`, `br-...`, `user-...` | itself | the default datastore |
| `production:<namespace>` | `<namespace>` | the deployment's datastore (S3) |

`production:<namespace>` is what `step-functions create` prints, as Metaflow prints its production token: the
runs of a deployment, read from the laptop.
"""

from __future__ import annotations

from typing import NamedTuple

from branchline.namespaces.derive import namespace_for_branch, namespace_for_user, validate_namespace
from branchline.namespaces.errors import NamespaceError
from branchline.namespaces.limits import PRODUCTION_NAMESPACE

USER_TAG = "user:"
PRODUCTION_TAG = "production:"
BRANCH_TAG = "project_branch:"
_FORMS = (
    "pass None (every namespace), 'user:<name>', 'production:<namespace>' (a deployment's runs, e.g. "
    "'production:prod'), 'project_branch:<user.name|test.branch|prod>' or a namespace ('prod', 'br-...', "
    "'user-...'); other tags are not namespaces in branchline"
)


class Selector(NamedTuple):
    """A parsed `namespace(...)` argument."""

    text: str | None
    """as given: what `get_namespace()` returns"""
    namespace: str | None
    """None: every namespace"""
    deployed: bool = False
    """read the deployment's datastore (S3), not this machine's"""


def _branch(label: str) -> str:
    """Metaflow's project branch name (`user.alice`, `test.x`, `prod`) → its namespace."""
    if label == "prod":
        return PRODUCTION_NAMESPACE
    kind, _, name = label.partition(".")
    if name and kind == "user":
        return namespace_for_user(name)
    if name and kind == "test":
        return namespace_for_branch(name)
    raise NamespaceError(f"namespace('{BRANCH_TAG}{label}') names no branch",
                         hint="a project branch is user.<name>, test.<branch> or prod")


def parse_selector(text: str | None) -> Selector:
    """The namespace `text` selects; one error naming the accepted forms otherwise."""
    if text is None:
        return Selector(None, None)
    if not isinstance(text, str) or not text:
        raise NamespaceError(f"namespace({text!r}) is not a namespace", hint=_FORMS)
    if text.startswith(USER_TAG) and text != USER_TAG:
        return Selector(text, namespace_for_user(text.removeprefix(USER_TAG)))
    if text.startswith(BRANCH_TAG):
        return Selector(text, _branch(text.removeprefix(BRANCH_TAG)))
    if text.startswith(PRODUCTION_TAG):
        target = text.removeprefix(PRODUCTION_TAG)
        try:
            return Selector(text, validate_namespace(target), deployed=True)
        except NamespaceError:
            raise NamespaceError(f"namespace({text!r}) names no deployment", hint=_FORMS) from None
    try:
        return Selector(text, validate_namespace(text))
    except NamespaceError:
        raise NamespaceError(f"namespace({text!r}) is not a branchline namespace", hint=_FORMS) from None


def is_namespace(name: str) -> bool:
    """Whether `name` (a directory under a datastore root, say) is a valid namespace."""
    try:
        validate_namespace(name)
    except NamespaceError:
        return False
    return True
