"""The deployer tests' moto server and infra (roles, queues, bucket) serve the docker-less tests here too."""

from collections.abc import Iterator

import pytest

from branchline.authoring.current import current
from tests.aws_deploy.conftest import aws, deploy_moto_url, infra

__all__ = ["aws", "deploy_moto_url", "infra"]


@pytest.fixture(autouse=True)
def _no_task_left_current() -> Iterator[None]:
    """Tasks run in this process (`execute_task`, as a container runs one) set `current` and leave it set, as a
    container's process may; a later test in this worker would then read runs in that task's namespace."""
    yield
    current._set()
