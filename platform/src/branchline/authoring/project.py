"""`@project(name=...)`: Metaflow's project branches mapped onto branchline's namespaces.

Metaflow gives a `@project` flow a *branch*: `user.<name>` by default, `test.<branch>` with `--branch`, `prod`
with `--production`. branchline runs each branch in one namespace, derived by the same rules as everything
else (`branchline.namespaces`): `user-<name>`, the namespace a pull request from git branch `<branch>` gets
(hostile branch names included), and `prod`. A run and a deployment of the same branch share the namespace, so
flows of one project find each other's runs through `Flow(...).latest_run`.

The project's name is branchline's project name, written with `-` for `_` (`demo_project` is `demo-project`):
where `[tool.branchline] project` is set too, the two must agree. Pure: the CLI and the deployer call these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from branchline.errors import ConfigError, FlowError
from branchline.namespaces import PRODUCTION_NAMESPACE, Names, namespace_for_branch, namespace_for_user
from branchline.namespaces.limits import USER_PREFIX
from branchline.namespaces.names import validate_project

PROJECT_ATTR = "_branchline_project"
BRANCH_ENV = "BRANCHLINE_PROJECT_BRANCH"
"""The Metaflow branch name of a run (`user.alice`, `test.x`, `prod`), set for its tasks: a `test.` branch's raw
name cannot be read back from its (hashed) namespace."""

_METAFLOW_NAME = re.compile(r"[a-z0-9_]{1,128}")


class ProjectSpec(NamedTuple):
    """What `@project(...)` says; `branch` and `production` are None unless the decorator sets them."""

    name: str
    branch: str | None = None
    production: bool | None = None


def project(cls: type | None = None, *, name: str, branch: str | None = None, production: bool | None = None) -> Any:
    """Bind the flow to a project (Metaflow's `@project`): its runs and deployments get the project's branch
    namespaces, and `current.project_name`, `branch_name`, `project_flow_name`, `is_production` are set."""

    def apply(flow_cls: type) -> type:
        setattr(flow_cls, PROJECT_ATTR, ProjectSpec(name, branch, production))
        return flow_cls

    return apply(cls) if cls is not None else apply


def project_of(flow_cls: type) -> ProjectSpec | None:
    return getattr(flow_cls, PROJECT_ATTR, None)


def branchline_project(spec: ProjectSpec) -> str:
    """The branchline project name of `@project(name=...)`: checked by Metaflow's rule, then by branchline's."""
    if not isinstance(spec.name, str) or not _METAFLOW_NAME.fullmatch(spec.name):
        raise FlowError(
            f"@project(name={spec.name!r}) is not a valid project name",
            hint="use lowercase letters, digits and `_` (Metaflow's rule), e.g. @project(name='demo_project')",
        )
    mapped = spec.name.replace("_", "-")
    try:
        return validate_project(mapped)
    except ConfigError as exc:
        raise FlowError(f"@project(name={spec.name!r}): {exc.message}", hint=exc.hint) from None


def agreed_project(spec: ProjectSpec | None, configured: str | None, where: str) -> str | None:
    """The project a flow runs in: `@project`'s and `[tool.branchline] project`'s, which must agree."""
    if spec is None:
        return configured
    mapped = branchline_project(spec)
    if configured is not None and configured != mapped:
        raise ConfigError(
            f"@project(name={spec.name!r}) and [tool.branchline] project = {configured!r} ({where}) disagree",
            hint=f"change one: project = \"{mapped}\" in {where}, or @project(name='{configured.replace('-', '_')}')",
        )
    return mapped


@dataclass(frozen=True)
class Placement:
    """Where a run or a deployment goes: its namespace and Metaflow's name for its branch."""

    namespace: str
    branch_name: str
    is_production: bool = False
    is_user_branch: bool = False


def branch_label(namespace: str, username: str) -> str:
    """Metaflow's branch name for a namespace chosen without `--branch` (`BRANCHLINE_NAMESPACE`)."""
    if namespace == PRODUCTION_NAMESPACE:
        return "prod"
    if namespace.startswith(USER_PREFIX):
        return f"user.{username}"
    return f"test.{namespace}"


def place(
    *,
    branch: str | None,
    production: bool,
    username: str,
    spec: ProjectSpec | None = None,
    namespace: str | None = None,
) -> Placement:
    """`--branch X` → X's branch namespace, `--production` → `prod`, else `namespace` (BRANCHLINE_NAMESPACE) or
    the user's own; `@project(branch=..., production=...)` counts as the flag unless the flag says otherwise."""
    if spec is not None:
        if spec.branch is not None and branch is not None and spec.branch != branch:
            raise FlowError(f"--branch {branch!r} and @project(branch={spec.branch!r}) disagree",
                            hint="pass --branch on the command line or in @project, not both")
        branch = branch if branch is not None else spec.branch
        production = production or bool(spec.production)
    if branch is not None and not branch.strip():
        raise FlowError("--branch is empty", hint="name a branch, e.g. --branch better_version")
    if production and branch:
        raise FlowError(
            f"--production with --branch {branch!r}: branchline has one production namespace, prod",
            hint="deploy production with --production alone, or the variant as a test branch with --branch alone",
        )
    if production:
        return Placement(PRODUCTION_NAMESPACE, "prod", is_production=True)
    if branch:
        return Placement(namespace_for_branch(branch), f"test.{branch}")
    if namespace:
        return Placement(namespace, branch_label(namespace, username), namespace == PRODUCTION_NAMESPACE,
                         namespace.startswith(USER_PREFIX))
    return Placement(namespace_for_user(username), f"user.{username}", is_user_branch=True)


def current_fields(
    flow_cls: type, flow: str, namespace: str, username: str | None, label: str | None = None
) -> dict[str, Any]:
    """`current.project_name` & co. for a task of `flow_cls` in `namespace` (all None without `@project`);
    `label` is the run's branch name as its launcher set it (`BRANCH_ENV`), else derived from the namespace.

    `project_flow_name` names the deployment, as in Metaflow: here, the branch's state machine name.
    """
    spec = project_of(flow_cls)
    if spec is None:
        return {}
    mapped = branchline_project(spec)
    label = label or branch_label(namespace, username or "unknown")
    return {
        "project_name": spec.name,
        "branch_name": label,
        "project_flow_name": Names(mapped, namespace).state_machine(flow),
        "is_production": namespace == PRODUCTION_NAMESPACE,
        "is_user_branch": label.startswith("user."),
    }
