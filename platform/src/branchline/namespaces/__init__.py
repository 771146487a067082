"""Namespaces: git ref / CI event → namespace, and every AWS/MLflow name derived from it. Pure, no I/O.

A namespace is `prod`, `br-<slug>-<hash>` (one per branch) or `user-<name>` (one per person
deploying by hand). Rules, and why:

* Branch names are hostile input (`zzz";echo${IFS}"hi";#` is a valid branch) and richer than
  any AWS name: case, punctuation, any Unicode, hundreds of characters. The *slug* is a
  readable rendering that loses information, so the namespace also carries a short hash of the
  **raw** branch name: `Feature/X` and `feature-x` share a slug but never a namespace.
* Names are cut where they must be, and the *readable* part is what gets cut, never the hash:
  a person scanning the console still sees `myproj-br-feature-login-…-TrainFlow`, and two names
  that share a cut-down head still differ by the hash of their full, uncut inputs.
* A name that needed no change carries no hash (`myproj-prod-TrainFlow`), and such plain names
  never end like a hash, so a plain name and a hashed one cannot collide.
* The production branch is `prod` only through a push/dispatch/schedule on it, never through a
  pull request (a fork's `main` is just another branch).

All service limits live in :mod:`branchline.namespaces.limits`. Changing any rule here renames
deployed resources (orphaning the old ones), which is why the tests pin golden values.
"""

from branchline.namespaces.derive import (
    is_production,
    is_user_namespace,
    namespace_for_branch,
    namespace_for_user,
    namespace_from_ci,
    namespace_from_ref,
    validate_namespace,
)
from branchline.namespaces.errors import CIEnvironmentError, NamespaceError
from branchline.namespaces.limits import LIVE_ALIAS, PRODUCTION_NAMESPACE
from branchline.namespaces.names import Names, tracking_secret_prefix, validate_project
from branchline.namespaces.tags import TAG_FLOW, TAG_GIT_SHA, TAG_NAMESPACE, TAG_PROJECT, TAG_SPEC_HASH, TAG_STEP

__all__ = [
    "LIVE_ALIAS",
    "PRODUCTION_NAMESPACE",
    "TAG_FLOW",
    "TAG_GIT_SHA",
    "TAG_NAMESPACE",
    "TAG_PROJECT",
    "TAG_SPEC_HASH",
    "TAG_STEP",
    "CIEnvironmentError",
    "Names",
    "NamespaceError",
    "is_production",
    "is_user_namespace",
    "namespace_for_branch",
    "namespace_for_user",
    "namespace_from_ci",
    "namespace_from_ref",
    "tracking_secret_prefix",
    "validate_namespace",
    "validate_project",
]
