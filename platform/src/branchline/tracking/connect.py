"""Reaching the tracking store: bounded retries, a clear error naming the URI, the project's experiment.

`connect(uri)` gives a `TrackingSession`: the MlflowClient and the URI it talks to, which every tracking,
gate and check function takes as one argument, so each failed call can name the server.

MLflow's own HTTP client retries 7 times with a growing backoff and a 120 s timeout: a server that is
down looks like a hang. We probe HTTP servers first (stdlib, short timeout, a few attempts) and cap
MLflow's retries through its environment variables before it is imported.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from branchline.errors import BranchlineError, ServiceUnreachable
from branchline.namespaces.names import experiment_name

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

T = TypeVar("T")

# MLflow's HTTP retry policy, made short unless the user chose their own.
HTTP_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}
PROBE_ATTEMPTS = int(os.environ.get("BRANCHLINE_TRACKING_PROBE_ATTEMPTS", "3"))
PROBE_TIMEOUT = float(os.environ.get("BRANCHLINE_TRACKING_PROBE_TIMEOUT", "5"))


class TrackingError(BranchlineError):
    """Tracking could not record a run (a misconfigured store, a failed recorder...)."""


class TrackingDenied(TrackingError):
    """The tracking server refused this identity (401: who are you; 403: not allowed to do that)."""


def unreachable(uri: str, reason: object) -> ServiceUnreachable:
    return ServiceUnreachable(
        f"MLflow tracking server {uri} is unreachable: {reason}",
        hint="start it, or point [tool.branchline] tracking_uri / MLFLOW_TRACKING_URI at a running server "
        "(unset both to track into the local .branchline/mlflow.db)",
    )


def bound_http_retries(environ: dict[str, str] | None = None) -> None:
    """Cap MLflow's HTTP retries/timeout (read by MLflow at request time) unless already set."""
    env = os.environ if environ is None else environ
    for key, value in HTTP_ENV_DEFAULTS.items():
        env.setdefault(key, value)


def is_http(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///path` URI (None for other stores or in-memory sqlite)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :]
    return Path(path) if path and path != ":memory:" else None


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a local store keeps an experiment's artifacts: beside the database, never in the CWD.

    MLflow's default for a sqlite store is `./mlruns` relative to whatever directory a task runs in;
    a server decides for itself (None).
    """
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.parent / "mlartifacts" / experiment.replace("/", "_")).resolve().as_uri()


def probe(uri: str, *, attempts: int = PROBE_ATTEMPTS, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise ServiceUnreachable if an HTTP tracking server does not answer within a bounded retry.

    Any HTTP answer counts as reachable (a proxy may not expose /health); only connection failures
    and timeouts count as down. Non-HTTP stores (sqlite, file) are checked by `prepare_local_store`.
    """
    if not is_http(uri):
        return
    url = uri.rstrip("/") + "/health"
    reason: object = "no answer"
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(0.5 * 2 ** (attempt - 1))
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
    raise unreachable(uri, f"{reason} (after {max(1, attempts)} attempts)")


def prepare_local_store(uri: str) -> None:
    """Create the directory of a sqlite store; a clear error if it cannot be written."""
    db = sqlite_path(uri)
    if db is None:
        return
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackingError(
            f"cannot create the MLflow store {uri}: {exc}",
            hint="check the permissions of the project's .branchline/ directory or set tracking_uri",
        ) from None


@dataclass(frozen=True)
class TrackingSession:
    """An MlflowClient and the URI of its store: what every function that talks to MLflow takes."""

    client: MlflowClient
    uri: str

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one MLflow call; connection failures become ServiceUnreachable, refusals TrackingDenied.

        `fn` is usually a method of `client`, but any call that reaches this store (mlflow's fluent API,
        the auth app's client) is translated the same way.
        """
        from mlflow.exceptions import MlflowException
        from requests import HTTPError

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            raise _translate(self.uri, what, str(exc), exc.error_code) from None
        except HTTPError as exc:  # artifact uploads/downloads through the server's proxy raise requests' own error
            status = exc.response.status_code if exc.response is not None else None
            code = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}.get(status or 0, "")
            raise _translate(self.uri, what, str(exc), code) from None

    def maybe(self, what: str, fn: Callable[..., T], *args: Any) -> T | None:
        """`call`, but None when MLflow says the thing does not exist."""
        from mlflow.exceptions import MlflowException

        def attempt() -> T | None:
            try:
                return fn(*args)
            except MlflowException as exc:
                if not_found(exc):
                    return None
                raise

        return self.call(what, attempt)


def connect(uri: str) -> TrackingSession:
    """A session on `uri`, after checking the store is there. Imports mlflow (~2 s).

    A sqlite store is created (schema migrations, ~2 s) by the first client: two processes doing it
    at once corrupt its version table, so the first clients of a local store are made under a file
    lock, until `<db>.ready` marks the store complete.
    """
    bound_http_retries()
    probe(uri)
    prepare_local_store(uri)
    from mlflow.tracking import MlflowClient

    db = sqlite_path(uri)
    ready = db.with_name(db.name + ".ready") if db is not None else None
    if ready is None or ready.exists():
        return TrackingSession(MlflowClient(tracking_uri=uri, registry_uri=uri), uri)
    import fcntl

    with open(db.with_name(db.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)  # the tracking store exists and is migrated
            client.search_registered_models(max_results=1)  # and so does the registry's
            ready.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return TrackingSession(client, uri)


def not_found(exc: BaseException) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def _translate(uri: str, what: str, text: str, code: str) -> BranchlineError:
    first = text.splitlines()[0] if text else "no detail"
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if code == "UNAUTHENTICATED":
        return TrackingDenied(
            f"MLflow at {uri} did not accept the credentials to {what} (401 unauthenticated"
            f"{', user ' + user if user else ', no user given'})",
            hint="set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (step containers read them from "
            "the Secrets Manager secret in BRANCHLINE_TRACKING_SECRET; see docs/tracking.md)",
        )
    if code == "PERMISSION_DENIED":
        return TrackingDenied(
            f"MLflow at {uri} refused to {what}: permission denied (403) for user {user or '(anonymous)'}",
            hint="branch identities may only READ production's experiment and registered model; "
            "production's writes need the production credential (docs/security.md)",
        )
    if any(s in text for s in ("Max retries", "Connection", "timed out", "API request to")):
        return unreachable(uri, f"{what}: {first}")
    return TrackingError(f"MLflow refused to {what} on {uri}: {first}")


def ensure_experiment(session: TrackingSession, project: str, flow: str, namespace: str | None) -> str:
    """Id of the namespace's experiment (`experiment_name`), created on first use (tolerates a concurrent creator).

    Production's experiment should exist already (`branchline tracking bootstrap`): whoever creates an
    experiment on a server with authentication owns it.
    """
    from mlflow.exceptions import MlflowException

    client, uri = session.client, session.uri
    name = experiment_name(project, flow, namespace)
    found = session.call(f"look up experiment {name}", client.get_experiment_by_name, name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            session.call(f"restore experiment {name}", client.restore_experiment, found.experiment_id)
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location(uri, name)))
    except MlflowException as exc:
        found = session.call(f"look up experiment {name}", client.get_experiment_by_name, name)
        if found is None:
            raise _translate(uri, f"create experiment {name}", str(exc), exc.error_code) from None
        return str(found.experiment_id)
