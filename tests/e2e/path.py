"""The end-to-end path, phase by phase, shared by the e2e test and ``benchmarks/bench_e2e.py``.

render → publish the step image (local registry) → upload the code package (moto S3) → deploy a branch
namespace (moto Step Functions + Batch) → start executions (each step a real container on the test bed engine)
→ teardown. Every phase goes through the platform's own public functions; each is timed.

The caller sets up the process environment first (``AWS_ENDPOINT_URL`` + dummy credentials for moto,
``DOCKER_HOST`` for the engine): the platform reads the standard variables, as it would in CI.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e import project as proj
from tests.testbed.aws import TERMINAL

REGION = "us-east-1"


def client(service: str) -> Any:
    """The platform's own boto3 client factory (standard AWS environment variables)."""
    from branchline.aws.session import client as make

    return make(service)


def create_infra(prefix: str) -> proj.Infra:
    """Roles, an unmanaged compute environment, the shared branch queue and the bucket, in moto."""
    iam, batch = client("iam"), client("batch")
    services = ["states.amazonaws.com", "batch.amazonaws.com", "ecs-tasks.amazonaws.com"]
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": services}}
    trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    roles = {kind: iam.create_role(RoleName=f"{prefix}-{kind}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
             for kind in ("states", "job", "batch")}  # fmt: skip
    env = batch.create_compute_environment(
        computeEnvironmentName=f"{prefix}-ce", type="UNMANAGED", state="ENABLED", serviceRole=roles["batch"]
    )["computeEnvironmentArn"]
    queue = f"{prefix}-branches"
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])  # fmt: skip
    bucket = f"{prefix}-data"
    client("s3").create_bucket(Bucket=bucket)
    return proj.Infra(states_role_arn=roles["states"], job_role_arn=roles["job"], job_queue=queue, bucket=bucket)


@dataclass
class Execution:
    """One finished execution: its ARN, run id, final status and the rows of its history."""

    arn: str
    run_id: str
    status: str
    described: dict[str, Any]


@dataclass
class EndToEnd:
    """State carried from one phase to the next; ``timings`` holds seconds per phase."""

    work: Path
    endpoint: str
    registry: str
    base_image: str
    wheelhouse: Callable[[list[str]], Path]
    """Gives a directory of wheels for third-party requirement lines (the test bed's ``wheelhouse``)."""
    full_dependencies: bool = False
    """Install the template's own requirements (MLflow, GX, scikit-learn, pandas) instead of the trimmed set."""
    log: Callable[[str], None] = lambda line: None
    namespace: str = field(default_factory=lambda: f"br-e2e-{uuid.uuid4().hex[:6]}")
    timings: dict[str, float] = field(default_factory=dict)
    project: Path | None = None
    infra: proj.Infra | None = None
    image: Any = None  # branchline.images.publish.PublishResult
    code_package: str = ""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a phase (the last run of a name wins) and log it."""
        start = time.perf_counter()
        self.log(f"[e2e] {name} ...")
        yield
        self.timings[name] = time.perf_counter() - start
        self.log(f"[e2e] {name}: {self.timings[name]:.1f} s")

    # ------------------------------------------------------------------ phases
    def render(self) -> Path:
        with self.phase("render"):
            self.project = proj.render_project(self.work / "out")
        return self.project

    def prepare(self) -> str:
        """Infra in moto, the e2e flow, trimmed requirements and the wheelhouse (not a timed phase of the path)."""
        assert self.project is not None, "render first"
        self.infra = create_infra(self.project.name)
        requirements = proj.template_requirements(self.project) if self.full_dependencies else proj.REQUIREMENTS
        wheels = self.wheelhouse(proj.third_party_requirements(requirements))
        wheel = proj.platform_wheel(self.work / "platform-wheel")
        return proj.prepare(self.project, self.infra, self.endpoint, wheel, wheels, requirements)

    @property
    def repository(self) -> str:
        assert self.project is not None
        return f"{self.registry}/{self.project.name}-step"

    def publish(self, phase: str = "image publish") -> Any:
        """`branchline image publish`'s function: build + push unless the dependency tag is in the registry."""
        from branchline.images.publish import publish

        assert self.project is not None
        args = {"BASE_IMAGE": self.base_image, "WHEELHOUSE": "wheelhouse"}
        with self.phase(phase):
            self.image = publish(self.project, self.repository, build_args=args, log=self.log)
        return self.image

    def upload_code(self, phase: str = "code package") -> tuple[str, bool]:
        """Pack the tracked source and upload it under the namespace's prefix (once per content)."""
        from branchline.images.codepkg import build_code_package, upload
        from branchline.namespaces import Names

        assert self.project is not None and self.infra is not None
        with self.phase(phase):
            package = build_code_package(self.project)
            url, uploaded = upload(package, self.infra.bucket, Names(self.project_name, self.namespace).s3_prefix())
        self.code_package = url
        return url, uploaded

    def deploy(self, phase: str = "deploy") -> Any:
        from branchline.aws.deploy import deploy
        from branchline.config import load_config

        assert self.project is not None and self.image is not None
        with self.phase(phase):
            result = deploy(load_config(self.project), self.namespace, image=self.image.reference,
                            code_package=self.code_package)  # fmt: skip
        return result

    def run(self, params: dict[str, Any], *, timeout: float = 300, phase: str = "execution") -> Execution:
        """Start an execution on the `live` alias and wait (bounded) until it ends."""
        from branchline.aws.ops.trigger import start_run
        from branchline.namespaces import Names

        sfn = client("stepfunctions")
        run_id = f"e2e-{uuid.uuid4().hex[:10]}"
        with self.phase(phase):
            arn = start_run(client, Names(self.project_name, self.namespace), proj.FLOW_CLASS, params, run_id)
            deadline = time.monotonic() + timeout
            while True:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] in TERMINAL:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"execution {run_id} still {described['status']} after {timeout:.0f} s\n{self.diagnostics(arn)}"
                    )
                time.sleep(0.5)
        return Execution(arn=arn, run_id=run_id, status=described["status"], described=described)

    def teardown(self) -> Any:
        from branchline.aws.deploy import teardown
        from branchline.config import load_config

        assert self.project is not None
        with self.phase("teardown"):
            return teardown(load_config(self.project), self.namespace)

    # ------------------------------------------------------------------ what a test inspects
    @property
    def project_name(self) -> str:
        assert self.project is not None
        return self.project.name

    def names(self) -> Any:
        from branchline.namespaces import Names

        return Names(self.project_name, self.namespace)

    def datastore_url(self) -> str:
        assert self.infra is not None
        return f"s3://{self.infra.bucket}/branchline/{self.project_name}"

    def run_client(self, run_id: str) -> Any:
        """``branchline.client.Run`` of a run, reading moto S3 as any user would."""
        from branchline import client as bl

        return bl.Run(f"{proj.FLOW_CLASS}/{run_id}", namespace=self.namespace, datastore=self.datastore_url())

    def job_logs(self, job_ids: list[str]) -> dict[str, list[str]]:
        """CloudWatch lines of each job (all attempts), by job id."""
        from branchline.aws.ops.logs import log_lines, log_streams

        lines: dict[str, list[str]] = {job: [] for job in job_ids}
        for job, stream in log_streams(client, job_ids):
            lines[job].extend(log_lines(client, stream))
        return lines

    def leftovers(self) -> list[str]:
        """Everything of the namespace still in moto: state machines, ACTIVE job definitions, S3 keys, tagged ARNs."""
        names = self.names()
        assert self.infra is not None
        found = [m["name"] for m in client("stepfunctions").list_state_machines()["stateMachines"]
                 if m["name"] == names.state_machine(proj.FLOW_CLASS)]  # fmt: skip
        batch = client("batch")
        for step in ("start", "square", "join", "validate", "end"):
            jobdefs = batch.describe_job_definitions(jobDefinitionName=names.job_definition(proj.FLOW_CLASS, step),
                                                     status="ACTIVE")["jobDefinitions"]  # fmt: skip
            found += [d["jobDefinitionArn"] for d in jobdefs]
        listed = client("s3").list_objects_v2(Bucket=self.infra.bucket, Prefix=f"{names.s3_prefix()}/")
        found += [f"s3://{self.infra.bucket}/{o['Key']}" for o in listed.get("Contents", [])]
        tagged = client("resourcegroupstaggingapi").get_resources(
            TagFilters=[{"Key": "branchline:namespace", "Values": [self.namespace]}]
        )["ResourceTagMappingList"]
        found += [r["ResourceARN"] for r in tagged]
        return found

    def diagnostics(self, execution_arn: str) -> str:
        """Execution history (failures) and the logs of every job it ran: for assertion messages."""
        from branchline.aws.ops.status import execution_status

        lines = []
        try:
            status = execution_status(client, execution_arn)
            rows = status.rows + [row for child in status.children for row in child.rows]
            lines.append(f"execution {execution_arn}: {status.status}")
            lines += [f"  {r.state:<12} {r.kind:<10} {r.status:<10} jobs={r.job_ids} {r.error}" for r in rows]
            jobs = [job for row in rows for job in row.job_ids]
            for job, job_lines in self.job_logs(jobs).items():
                lines.append(f"  --- job {job}")
                lines += [f"    {line}" for line in job_lines[-40:]]
        except Exception as exc:  # diagnostics must never hide the failure they explain
            lines.append(f"(diagnostics failed: {exc!r})")
        return "\n".join(lines)
