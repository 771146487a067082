"""`branchline tracking bootstrap`: production claims its experiments and registered models first.

On an MLflow server with authentication (`mlflow server --app-name basic-auth`), whoever creates an
experiment or a registered model holds MANAGE on it. A branch that registered the production model's name
before production ever did would own it, and could move `champion` itself. So production's names are
created by the production identity (the release job, or an admin naming it with `--production-user`) before
any branch runs, and the bootstrap refuses a name that exists already but that the production identity does
not manage: someone else got there first, and only an admin can undo that.

It then grants each branch identity READ on production's experiment and model (explicitly, so a server
whose default permission is more generous stays safe; READ is what the pull-request comment needs) and EDIT
on the `dev` experiment and model, where branches write. Run it again at any time: it changes only what is
missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from branchline.namespaces.names import experiment_name, registered_model_name
from branchline.tracking.connect import TrackingDenied, TrackingError, TrackingSession, connect, is_http
from branchline.tracking.credentials import USERNAME_ENV

EXPERIMENT, MODEL = "experiment", "registered_model"
WRITES = ("EDIT", "MANAGE")


@dataclass(frozen=True)
class Resource:
    kind: str  # EXPERIMENT or MODEL
    name: str
    production: bool  # production's (branches READ) or the dev one (branches EDIT)

    @property
    def label(self) -> str:
        return f"{'experiment' if self.kind == EXPERIMENT else 'registered model'} {self.name}"


def bootstrap_resources(project: str, flows: Iterable[str], models: dict[str, str]) -> list[Resource]:
    """Production's and the dev experiment of each flow, and production's and the dev model of each gate (pure)."""
    out: list[Resource] = []
    for flow in flows:
        out += [Resource(EXPERIMENT, experiment_name(project, flow, "prod"), True),
                Resource(EXPERIMENT, experiment_name(project, flow, None), False)]  # fmt: skip
        if flow in models:
            model = models[flow]
            out += [Resource(MODEL, model, True), Resource(MODEL, registered_model_name(model, None), False)]
    return out


def ownership_problem(resource: Resource, user: str, permission: str) -> str | None:
    """Why an existing production resource cannot be trusted to `user` (None when it manages it)."""
    if permission == "MANAGE":
        return None
    return (
        f"{resource.label} already exists and the production user {user} does not manage it "
        f"(its permission: {permission}): someone else created it first and owns it"
    )


def bootstrap(
    uri: str,
    project: str,
    *,
    flows: Iterable[str],
    models: dict[str, str],
    production_user: str | None = None,
    branch_users: Iterable[str] = (),
) -> list[str]:
    """Create or check every resource; grant branch users; return one line per thing done or checked."""
    from mlflow.server.auth.client import AuthServiceClient

    caller = os.environ.get(USERNAME_ENV)
    if not is_http(uri) or not caller:
        raise TrackingError(
            f"tracking bootstrap needs an MLflow server with authentication and credentials, not {uri}"
            + ("" if caller else f" without {USERNAME_ENV}"),
            hint="point MLFLOW_TRACKING_URI at the server and set MLFLOW_TRACKING_USERNAME/PASSWORD "
            "(the production identity, or an admin with --production-user)",
        )
    producer = production_user or caller
    session, auth = connect(uri), AuthServiceClient(uri)
    done: list[str] = []
    for resource in bootstrap_resources(project, flows, models):
        key, created = _ensure(session, resource)
        if created:
            done.append(f"created {resource.label} as {caller}")
            if producer != caller:  # an admin created it on production's behalf
                _grant(session, auth, producer, resource, key, "MANAGE")
                done.append(f"  granted MANAGE to production user {producer}")
        elif resource.production:
            permission = _permission(session, auth, producer, resource, key)
            problem = ownership_problem(resource, producer, permission)
            if problem:
                raise TrackingError(
                    problem,
                    hint="an admin must delete it (or rename it) after checking what it holds, then run "
                    "`branchline tracking bootstrap` again before any branch runs",
                )
            done.append(f"kept {resource.label}: managed by production user {producer}")
        for user in branch_users:
            wanted = "READ" if resource.production else "EDIT"
            try:
                _grant(session, auth, user, resource, key, wanted)
            except TrackingDenied:
                if resource.production:
                    raise
                done.append(f"  left {user}'s permission on {resource.label} as it is (not managed by {caller})")
                continue
            if resource.production:
                _check_read_only(session, auth, user, resource, key)
            done.append(f"  granted {wanted} to branch user {user}")
    return done


def _ensure(session: TrackingSession, resource: Resource) -> tuple[str, bool]:
    """(permission key, created now): the experiment id or the model name."""
    client = session.client
    if resource.kind == EXPERIMENT:
        found = session.call(f"look up {resource.label}", client.get_experiment_by_name, resource.name)
        if found is not None:
            return str(found.experiment_id), False
        return str(session.call(f"create {resource.label}", client.create_experiment, resource.name)), True
    if session.maybe(f"read {resource.label}", client.get_registered_model, resource.name) is not None:
        return resource.name, False
    session.call(f"create {resource.label}", client.create_registered_model, resource.name)
    return resource.name, True


def _permission(session: TrackingSession, auth: Any, user: str, resource: Resource, key: str) -> str:
    result = session.call(f"read the permission of {user} on {resource.label}", auth.get_user_permission, user,
                          resource.kind, key)  # fmt: skip
    return str(result.permission)


def _grant(session: TrackingSession, auth: Any, user: str, resource: Resource, key: str, permission: str) -> None:
    """Give `user` exactly `permission` (MLflow's grant refuses to overwrite one: revoke it, then grant)."""
    from mlflow.exceptions import MlflowException

    what = f"grant {permission} on {resource.label} to {user}"
    try:
        auth.grant_user_permission(user, resource.kind, key, permission)
        return
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            session.call(what, _raise, exc)
    session.call(f"revoke the permission of {user} on {resource.label}", auth.revoke_user_permission, user,
                 resource.kind, key)  # fmt: skip
    session.call(what, auth.grant_user_permission, user, resource.kind, key, permission)


def _raise(exc: BaseException) -> None:
    raise exc


def _check_read_only(session: TrackingSession, auth: Any, user: str, resource: Resource, key: str) -> None:
    """After the grant, a branch user must not be able to write production's resource (checked when we may look)."""
    try:
        permission = _permission(session, auth, user, resource, key)
    except TrackingDenied:  # only an admin (or the user itself) may read another user's permission
        return
    if permission in WRITES:
        raise TrackingError(
            f"branch user {user} can still write production's {resource.label} ({permission})",
            hint="revoke it (MLflow's users/permissions/revoke, as an admin) and check what it wrote",
        )
