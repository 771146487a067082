"""The deployer tests' moto server and infra (roles, queues, bucket) serve the docker-less tests here too."""

from tests.aws_deploy.conftest import aws, deploy_moto_url, infra

__all__ = ["aws", "deploy_moto_url", "infra"]
