"""moto shim: Step Functions' Batch tasks act in the execution's account, as in AWS.

moto's interpreter builds its service clients with fixed keys, so every `batch:submitJob` lands in moto's default
account: a state machine of the production account (two-account mode) could not reach its own job queue. While a
Batch task state runs, this shim gives its client credentials of the execution's account (from `AssumeRole` into
it on the same server; moto files the keys under that account). Applied inside the server by
`tests.testbed.moto_launcher`.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_PATCHED_FLAG = "_branchline_accounts_patched"
_current = threading.local()


@functools.cache
def _credentials(endpoint: str, account: str, region: str) -> dict[str, str]:
    """Keys acting in `account` of the moto server at `endpoint` (moto accepts any role name, any caller)."""
    import boto3

    sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, aws_access_key_id="sfn",
                       aws_secret_access_key="sfn")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/branchline-moto-states",
                            RoleSessionName="states")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def apply() -> None:
    """Idempotent: wrap the Batch task's client factory and the two methods that build its clients."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as module,
    )

    cls = module.StateTaskServiceBatch
    if getattr(cls, _PATCHED_FLAG, False):
        return
    fixed = module.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        made = fixed(region=region, service=service, state_credentials=state_credentials)
        account = getattr(_current, "account", None)
        if account in (None, DEFAULT_ACCOUNT_ID) or made.meta.endpoint_url is None:
            return made
        return boto3.client(service, region_name=region, endpoint_url=made.meta.endpoint_url, config=made.meta.config,
                            **_credentials(made.meta.endpoint_url, account, region))

    def in_account(method: Any) -> Any:
        @functools.wraps(method)
        def wrapped(self: Any, env: Any, resource_runtime_part: Any, *args: Any, **kwargs: Any) -> Any:
            _current.account = resource_runtime_part.account
            try:
                return method(self, env, resource_runtime_part, *args, **kwargs)
            finally:
                _current.account = None

        return wrapped

    module.boto_client_for = client_for
    cls._eval_service_task = in_account(cls._eval_service_task)  # type: ignore[method-assign]
    cls._build_sync_resolver = in_account(cls._build_sync_resolver)  # type: ignore[method-assign]
    setattr(cls, _PATCHED_FLAG, True)
