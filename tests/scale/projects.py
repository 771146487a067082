"""Projects on the deployer's docker-less moto whose jobs go to a queue of their own, tagged with the faults the
test bed injects there (tests/testbed/moto_batch.py): the flow of tests/aws_deploy/test_project_moto.py."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

from branchline.aws.deploy import deploy
from branchline.aws.ops.trigger import start_run
from branchline.aws.session import client
from branchline.config import Config, load_config
from branchline.namespaces import Names
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.standins import new_project
from tests.aws_deploy.test_project_moto import IMAGE, make_project

DEFAULT_ACCOUNT = "123456789012"
"""moto's: the test credentials act there"""


def queued_project(aws: Infra, tmp_path: Path, queue_tags: dict[str, str]) -> Path:
    """A project (flow TrainFlow: start → train → end) whose jobs, branch and production, go to a new queue."""
    batch = client("batch")
    environments = batch.describe_job_queues(jobQueues=[aws.job_queue])["jobQueues"][0]["computeEnvironmentOrder"]
    queue = f"faults-{uuid.uuid4().hex[:6]}"
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1, computeEnvironmentOrder=environments,
                           tags=queue_tags)
    root = make_project(tmp_path / "p", new_project(), aws)
    text = (root / "pyproject.toml").read_text()
    text = text.replace(f'job_queue = "{aws.job_queue}"', f'job_queue = "{queue}"')
    text = text.replace(f'production_job_queue = "{aws.production_job_queue}"', f'production_job_queue = "{queue}"')
    (root / "pyproject.toml").write_text(text)
    return root


def bucket_of(config: Config) -> str:
    return config.datastore_url.removeprefix("s3://").split("/")[0]


def deployed_run(root: Path, namespace: str, run_id: str, config: Config | None = None) -> str:
    """Deploy the project (with a code package of its flow) and start a run; its execution ARN."""
    config = config or load_config(root)
    names = Names(config.project, namespace)
    key = f"{names.s3_prefix()}/code/pkg.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(root / "flows" / "train.py", arcname="flows/train.py")
    client("s3").put_object(Bucket=bucket_of(config), Key=key, Body=buffer.getvalue())
    deploy(config, namespace, image=IMAGE, code_package=f"s3://{bucket_of(config)}/{key}", git_sha="one")
    return start_run(client, names, "TrainFlow", {"alpha": 0.25}, run_id=run_id)
