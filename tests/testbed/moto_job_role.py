"""moto shim: a Batch container acts as its job definition's job role, as an ECS task role makes it in AWS.

moto starts job containers with the job definition's environment only, so a container either has the keys a
test put into that environment (acting in moto's default account) or none at all. In AWS the ECS agent serves
the job role's credentials to the container, and the SDK uses them unless the environment carries keys of its
own (environment keys come first in every SDK's credential chain). Here, when the job definition names a
`jobRoleArn` and the container's environment has no `AWS_ACCESS_KEY_ID`, the container gets keys from
`AssumeRole` into that role, made in-process by moto's STS backend: the job then reads and writes in its role's
account (a production job in the production account, a branch job in the development account). Keys set in the
environment keep winning, as in AWS. Only the container sees the keys: `DescribeJobs` does not list them.

Applied inside the server by `tests.testbed.moto_launcher`. Read to write this (not copied): moto's
`moto/batch/models.py` (Job.run, Job._get_container_property) and `moto/sts/models.py` (assume_role).
"""

from __future__ import annotations

import threading
from typing import Any

_FLAG = "_branchline_job_role_shim"
_starting = threading.local()  # set while a job's own thread builds its container (Job.run)


def role_environment(role_arn: str, region: str, job_id: str) -> dict[str, str]:
    """Keys acting as `role_arn` (in the account its ARN names), from moto's STS backend."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    account = role_arn.split(":")[4]
    assumed = sts_backends[account][get_partition(region)].assume_role(
        region_name=region, role_session_name=f"batch-{job_id[:32]}", role_arn=role_arn, policy="",
        duration=3600, external_id="")  # fmt: skip
    return {"AWS_ACCESS_KEY_ID": assumed.access_key_id, "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
            "AWS_SESSION_TOKEN": assumed.session_token}  # fmt: skip


def with_role_keys(environment: list[dict[str, str]], role_arn: str | None, keys: Any) -> list[dict[str, str]]:
    """`environment` plus the role's keys, unless it has no role or carries keys of its own (those win)."""
    if not role_arn or any(e["name"] == "AWS_ACCESS_KEY_ID" for e in environment):
        return environment
    return [*environment, *({"name": k, "value": v} for k, v in keys().items())]


def apply() -> None:
    """Idempotent: the job's thread asks for the container's environment; add the role's keys there only."""
    from moto.batch import models

    job_cls = models.Job
    if getattr(job_cls, _FLAG, False):
        return
    original_run = job_cls.run
    original_property = job_cls._get_container_property

    def run(self: Any) -> None:
        _starting.job = self
        try:
            original_run(self)
        finally:
            _starting.job = None

    def container_property(self: Any, p: str, default: Any) -> Any:
        value = original_property(self, p, default)
        if p != "environment" or getattr(_starting, "job", None) is not self:
            return value

        def keys() -> dict[str, str]:
            if not hasattr(self, "_bl_role_keys"):  # one session per job, reused by its retried attempts
                role = self.job_definition.container_properties.get("jobRoleArn")
                self._bl_role_keys = role_environment(role, self.job_definition._region, self.job_id)
            return self._bl_role_keys

        return with_role_keys(value, self.job_definition.container_properties.get("jobRoleArn"), keys)

    job_cls.run = run
    job_cls._get_container_property = container_property
    setattr(job_cls, _FLAG, True)
