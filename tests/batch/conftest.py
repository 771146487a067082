"""Fixtures of the Batch tests: the session's shared project (`bed.setup_project`) and a namespace per test."""

from __future__ import annotations

import pytest

from tests.batch.bed import BatchBed, aws_env, new_namespace, setup_project
from tests.conftest import _require
from tests.testbed.bed import Testbed


@pytest.fixture(scope="session")
def batch_project(testbed: Testbed) -> dict:
    """The project, its infra in moto and its published step image (once per session, shared by workers)."""

    def parts() -> tuple[str, str, str, str]:
        return testbed.moto(docker=True), testbed.docker_host, testbed.registry(), testbed.base_image()

    endpoint, docker_host, registry, base = _require(parts)
    return testbed.run.service(
        "batch_project", lambda data: setup_project(data, endpoint, docker_host, registry, base, testbed.wheelhouse)
    )


@pytest.fixture
def batch_bed(batch_project: dict, monkeypatch: pytest.MonkeyPatch) -> BatchBed:
    """The shared project, a fresh user namespace, and this process's AWS environment pointed at moto."""
    from branchline.aws.session import reset_clients

    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(batch_project["endpoint"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKER_HOST", batch_project["docker_host"])
    reset_clients()
    return BatchBed(batch_project, new_namespace())
