"""Flows deployed on the test bed's moto (Batch running real containers), for the fault tests.

`Deployment` holds what the platform's stack would have made (roles, a bucket, job queues, one per fault a
queue's tags inject: see tests/testbed/moto_batch.py) and deploys test flows with the real deployer into a
branch namespace each, with the session's step image and a code package of the test flows.

`started_scenarios` does it once per test session (a test bed service, so the xdist workers share it) and
starts every scenario's first execution at once: they wait on moto's job life cycle, not on the CPU, so
running them side by side keeps the fault tests' time near that of the longest one.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchline.aws.deploy import deploy
from branchline.aws.deploy.executor import Executor
from branchline.aws.ops.trigger import start_run
from branchline.aws.session import ClientFactory
from branchline.config import Config
from branchline.namespaces import Names
from tests.e2e.project import job_environment
from tests.flows import flow_path
from tests.scale.stepimage import step_image
from tests.testbed.bed import Testbed
from tests.testbed.moto_batch import ATTEMPT_SECONDS_TAG, HOST_FAILURES_TAG
from tests.testbed.runs import ServiceInfo

PROJECT = "scale"
QUEUES = {"plain": {}, "hosts": {HOST_FAILURES_TAG: "1"}, "quick": {ATTEMPT_SECONDS_TAG: "25"}}


@dataclass(frozen=True)
class Scenario:
    queue: str
    flow_file: str
    flow: str
    params: dict[str, Any]


SCENARIOS = {
    "foreach": Scenario("plain", "resume_foreach_flow", "ResumeForeachFlow", {"fail_item": 1}),
    "hosts": Scenario("hosts", "parameters_flow", "ParametersFlow", {}),
    "timeouts": Scenario("quick", "timeout_retry_flow", "TimeoutRetryFlow", {}),
    "killed": Scenario("plain", "killed_catch_flow", "KilledCatchFlow", {}),
    "stopped": Scenario("plain", "stoppable_flow", "StoppableFlow", {}),
}


def client(service: str) -> Any:
    from branchline.aws.session import client as make

    return make(service)


def endpoint_clients(endpoint: str) -> ClientFactory:
    """Clients of `endpoint` with the test credentials, whatever this process's environment says."""
    import boto3

    made: dict[str, Any] = {}

    def factory(service: str) -> Any:
        if service not in made:
            made[service] = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                                         aws_access_key_id="testing", aws_secret_access_key="testing")
        return made[service]

    return factory


def code_package(flows: list[str]) -> bytes:
    """A code package of test flows (`flows/<name>.py`), as `branchline image` packs a project's files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in flows:
            tar.add(flow_path(name), arcname=f"flows/{name}.py")
    return buffer.getvalue()


@dataclass
class Deployment:
    endpoint: str
    image: str
    root: Path
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    queues: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def clients(self) -> ClientFactory:
        return endpoint_clients(self.endpoint)

    @property
    def bucket(self) -> str:
        return f"scale-{self.suffix}"

    def create_infra(self, queue_tags: dict[str, dict[str, str]]) -> None:
        """Roles, an unmanaged compute environment, the bucket, and one job queue per entry of `queue_tags`."""
        clients = self.clients
        iam, batch = clients("iam"), clients("batch")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"Service": ["states.amazonaws.com", "batch.amazonaws.com"]}}]})
        for kind in ("states", "job", "batch"):
            self.roles[kind] = iam.create_role(RoleName=f"scale-{self.suffix}-{kind}",
                                               AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        env = batch.create_compute_environment(computeEnvironmentName=f"scale-{self.suffix}", type="UNMANAGED",
                                               state="ENABLED", serviceRole=self.roles["batch"])
        for name, tags in queue_tags.items():
            queue = f"scale-{self.suffix}-{name}"
            batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1, tags=tags,
                                   computeEnvironmentOrder=[{"order": 1,
                                                             "computeEnvironment": env["computeEnvironmentArn"]}])
            self.queues[name] = queue
        clients("s3").create_bucket(Bucket=self.bucket)

    def config(self, queue: str, flows: list[str]) -> Config:
        aws = {"states_role_arn": self.roles["states"], "job_role_arn": self.roles["job"],
               "job_queue": self.queues[queue], "bucket": self.bucket, "region": "us-east-1",
               "job_environment": job_environment(self.endpoint)}
        return Config(root=self.root, data={"project": PROJECT, "flows": [f"flows/{f}.py" for f in flows],
                                            "aws": aws})

    def deploy(self, queue: str, flows: list[str], label: str) -> Names:
        """Deploy `flows` to a namespace of their own (`label`), whose jobs go to `queue`."""
        names = Names(PROJECT, f"br-{label}-{self.suffix}")
        (self.root / "flows").mkdir(parents=True, exist_ok=True)
        for name in flows:
            (self.root / "flows" / f"{name}.py").write_text(flow_path(name).read_text())
        key = f"{names.s3_prefix()}/code/{label}.tar.gz"
        self.clients("s3").put_object(Bucket=self.bucket, Key=key, Body=code_package(flows))
        deploy(self.config(queue, flows), names.namespace, image=self.image, code_package=f"s3://{self.bucket}/{key}",
               git_sha="scale", executor=Executor(self.clients))
        return names

    def datastore(self) -> str:
        return f"s3://{self.bucket}/branchline/{PROJECT}"


def started_scenarios(bed: Testbed) -> ServiceInfo:
    """Every scenario deployed and its first execution started (once per session): where to find them."""

    def start(directory: Path) -> ServiceInfo:
        found = Deployment(bed.moto(docker=True), step_image(bed), directory)
        found.create_infra(QUEUES)
        scenarios = {}
        for name, scenario in SCENARIOS.items():
            names = found.deploy(scenario.queue, [scenario.flow_file], label=name)
            arn = start_run(found.clients, names, scenario.flow, scenario.params, run_id=name)
            scenarios[name] = {"namespace": names.namespace, "execution_arn": arn}
        return {"endpoint": found.endpoint, "datastore": found.datastore(), "queues": found.queues,
                "scenarios": scenarios}

    return bed.run.service("scale_fault_scenarios", start)



def queue_jobs(queue: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every job of a queue (whose name starts with `prefix`), as `describe_jobs` gives them, oldest first."""
    batch = client("batch")
    ids = [summary["jobId"]
           for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
           for summary in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
           if summary["jobName"].startswith(prefix)]
    jobs = [job for start in range(0, len(ids), 100)
            for job in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]]
    return sorted(jobs, key=lambda job: job["createdAt"])


def diagnostics(queue: str) -> str:
    """Every job of the queue with its status, reason and last log lines: for assertion messages."""
    from branchline.aws.ops.logs import log_lines, log_streams

    lines = []
    for job in queue_jobs(queue):
        lines.append(f"--- {job['jobName']} {job['status']} {job.get('statusReason', '')}")
        try:
            for _, stream in log_streams(client, [job["jobId"]]):
                lines += [f"    {line}" for line in list(log_lines(client, stream))[-15:]]
        except Exception as exc:  # diagnostics never hide the failure they explain
            lines.append(f"    (no logs: {exc})")
    return "\n".join(lines)


def env_of(job: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["container"]["environment"]}
