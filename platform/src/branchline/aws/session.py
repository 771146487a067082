"""boto3 clients configured one way for the whole platform.

Why one factory: every command must honour the standard AWS configuration (`AWS_PROFILE`,
`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>`
variables, which botocore reads itself), retry throttling the same way (botocore's `standard` mode)
and never hang on a dead endpoint (bounded connect/read timeouts). boto3 is imported lazily: the local
runtime never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from branchline.config import load_config
from branchline.errors import ConfigError, ServiceUnreachable

ClientFactory = Callable[[str], Any]
"""service name → boto3 client: what every AWS-facing function takes (`client` below; tests pass the same)."""

DEFAULT_REGION = "us-east-1"
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
MAX_ATTEMPTS = 5

_clients: dict[tuple[str, ...], Any] = {}
_sessions: dict[tuple[str, ...], Any] = {}
# a forked worker makes its own: connections are not shared
os.register_at_fork(after_in_child=lambda: (_clients.clear(), _sessions.clear()))


def _session(region_name: str | None = None) -> Any:
    """One boto3 session per profile, credentials and region: a session loads botocore's data (endpoints,
    service models) once, and every client made from it reuses them (a second client costs milliseconds)."""
    import boto3

    profile = os.environ.get("AWS_PROFILE") or None
    key = (profile or "", os.environ.get("AWS_ACCESS_KEY_ID", ""), os.environ.get("AWS_REGION", ""),
           os.environ.get("AWS_DEFAULT_REGION", ""), region_name or "")
    if key not in _sessions:
        try:
            _sessions[key] = boto3.session.Session(profile_name=profile, region_name=region_name)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound
            raise ConfigError(f"AWS profile {profile!r} not found: {exc}", hint="check AWS_PROFILE") from None
    return _sessions[key]


def region() -> str:
    """The region from the environment or profile; `aws.region` in the project config; else us-east-1."""
    found = _session().region_name
    if found:
        return found
    return str(load_config().get("aws.region") or DEFAULT_REGION)


def _endpoint(service: str) -> str | None:
    """`AWS_ENDPOINT_URL_<SERVICE>` then `AWS_ENDPOINT_URL` (explicit, so old botocores behave too)."""
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    return specific or os.environ.get("AWS_ENDPOINT_URL") or None


def client(service: str, *, region_name: str | None = None) -> Any:
    """A cached boto3 client for `service`; the cache key includes everything read from the environment."""
    from botocore.config import Config as BotoConfig

    profile = os.environ.get("AWS_PROFILE") or None
    chosen_region = region_name or region()
    endpoint = _endpoint(service)
    key = (service, chosen_region, endpoint or "", profile or "", os.environ.get("AWS_ACCESS_KEY_ID", ""))
    cached = _clients.get(key)
    if cached is not None:
        return cached
    made = _session(chosen_region).client(
        service,
        endpoint_url=endpoint,
        config=BotoConfig(
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
        ),
    )
    _clients[key] = made
    return made


def reset_clients() -> None:
    """Forget cached clients (tests that change the environment between deploys)."""
    _clients.clear()
    _sessions.clear()


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn the botocore errors a user can cause or meet into one-line BranchlineErrors."""
    from botocore import exceptions as bx

    try:
        yield
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") or _endpoint("sts") or "AWS"
        raise ServiceUnreachable(
            f"{action}: cannot reach {endpoint}",
            hint="check the network, AWS_ENDPOINT_URL and AWS_REGION",
        ) from None
    except bx.NoCredentialsError:
        raise ConfigError(
            f"{action}: no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        ) from None
    except bx.NoRegionError:
        raise ConfigError(f"{action}: no AWS region", hint="set AWS_REGION or [tool.branchline.aws] region") from None
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
                    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"):
            raise ConfigError(
                f"{action}: AWS refused the credentials ({code}: {error.get('Message', '')})",
                hint="check AWS_PROFILE and the role's permissions",
            ) from None
        raise
