"""MLflow credentials for a step container, read from a Secrets Manager secret with the job's own role.

The job definition carries only the secret's id (`BRANCHLINE_TRACKING_SECRET`, one secret per namespace
kind: branches get the branch identity's, production the production identity's), never a credential: no
password is in a job definition, the state machine, a log or an MLflow tag. The task resolves the secret
before tracking starts and exports `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`, which MLflow's
client reads itself (and which the step's own subprocesses inherit).

The secret is a JSON object `{"username": "...", "password": "..."}` (the shape Secrets Manager's console
calls "other type of secret" with two keys).
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping

from branchline.aws.session import aws_errors, client
from branchline.tracking.connect import TrackingError

SECRET_ENV = "BRANCHLINE_TRACKING_SECRET"
USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"


def parse_secret(text: str | None, secret_id: str) -> tuple[str, str]:
    """(username, password) from the secret's JSON; the error never repeats the secret's content."""
    try:
        data = json.loads(text or "")
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data.get(k) for k in
                                             ("username", "password")):  # fmt: skip
        raise TrackingError(
            f"secret {secret_id} is not a JSON object with a non-empty \"username\" and \"password\"",
            hint='store it as {"username": "...", "password": "..."} (see docs/tracking.md)',
        )
    return data["username"], data["password"]


def export_tracking_credentials(environ: MutableMapping[str, str] | None = None) -> str | None:
    """Resolve `$BRANCHLINE_TRACKING_SECRET` and export MLflow's credential variables; returns the username.

    Nothing to do (None) when no secret is configured: a tracking server without authentication, or
    credentials given some other way. The secret wins over variables already set: the job's identity is
    the one its namespace was deployed with.
    """
    env = os.environ if environ is None else environ
    secret_id = env.get(SECRET_ENV)
    if not secret_id:
        return None
    from botocore.exceptions import ClientError

    try:
        with aws_errors(f"read the MLflow credentials secret {secret_id}"):
            answer = client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise TrackingError(
            f"cannot read the MLflow credentials secret {secret_id}: {error.get('Code', 'Error')}",
            hint="create it (docs/tracking.md) and allow the job role secretsmanager:GetSecretValue on it",
        ) from None
    username, password = parse_secret(answer.get("SecretString"), secret_id)
    env[USERNAME_ENV] = username
    env[PASSWORD_ENV] = password
    return username
