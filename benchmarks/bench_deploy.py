"""Deploy, unchanged redeploy and teardown: branchline vs Metaflow's `step-functions create`, same moto server.

Run:  .venv/bin/python benchmarks/bench_deploy.py [--repeat 3] [--metaflow-version 2.19.39]

Both sides deploy the same 12-step flow (a static split, a foreach, @retry, @catch, @timeout; only the import
line differs) as command-line processes, against one moto server of the test bed (docker-less Batch), with the
same AWS settings: `branchline deploy` / `teardown -n br-bench-N` and `python flow.py step-functions create` /
`delete`. One repetition = first deploy, the same deploy again (nothing changed), teardown; the sides
alternate, so a busy machine slows both alike; median of `--repeat` after a warm-up repetition that is not
counted (it fills both sides' bytecode caches: this machine sets PYTHONDONTWRITEBYTECODE, unset here for both).
Metaflow is installed from the package index into its own venv (.cache/bench-metaflow, as
bench_local_runtime.py does). Prints a Markdown table, then what an unchanged redeploy reads (counted through
botocore's events, in this process) and the time of branchline's deploy() inside a warm process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.metaflow_compat.reference import METAFLOW_VERSION, metaflow_python  # noqa: E402
from tests.testbed.bed import Testbed  # noqa: E402
from tests.testbed.runs import Run, reap_stale_runs  # noqa: E402
from tests.testbed.servers import TEST_CREDENTIALS  # noqa: E402

IMAGE = "bench@sha256:" + "a" * 64
BRANCHLINE = REPO / ".venv" / "bin" / "branchline"
FLOW = '''
from {framework} import FlowSpec, Parameter, catch, retry, step, timeout


class BenchFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.next(self.load_a, self.load_b)

    @step
    def load_a(self):
        self.a = 1
        self.next(self.merge)

    @retry(times=2)
    @step
    def load_b(self):
        self.b = 2
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.items = [1, 2, 3]
        self.next(self.prepare)

    @timeout(minutes=30)
    @step
    def prepare(self):
        self.next(self.fit, foreach="items")

    @retry(times=1)
    @step
    def fit(self):
        self.score = self.input * self.alpha
        self.next(self.evaluate)

    @catch(var="failed")
    @step
    def evaluate(self):
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.best = max(i.score for i in inputs)
        self.next(self.report)

    @step
    def report(self):
        self.next(self.register)

    @step
    def register(self):
        self.next(self.notify)

    @step
    def notify(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BenchFlow()
'''


def aws_clients(endpoint: str) -> Any:
    import boto3

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    return make


def infra(endpoint: str) -> dict[str, str]:
    """Roles, a MANAGED compute environment (Metaflow reads its computeResources), a queue, a bucket."""
    c = aws_clients(endpoint)
    suffix = uuid.uuid4().hex[:6]
    iam, ec2, batch = c("iam"), c("ec2"), c("batch")
    role = iam.create_role(RoleName=f"bench-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"bench-{suffix}")["InstanceProfile"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"bench-{suffix}", Description="bench", VpcId=vpc)["GroupId"]
    resources = {"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "desiredvCpus": 0, "instanceTypes": ["optimal"],
                 "subnets": [subnet], "securityGroupIds": [group], "instanceRole": profile}
    env = batch.create_compute_environment(computeEnvironmentName=f"bench-{suffix}", type="MANAGED", state="ENABLED",
                                           serviceRole=role, computeResources=resources)
    queue = batch.create_job_queue(jobQueueName=f"bench-{suffix}", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1,
                                                             "computeEnvironment": env["computeEnvironmentArn"]}])
    c("s3").create_bucket(Bucket=f"bench-{suffix}")
    return {"role": role, "queue": queue["jobQueueArn"], "bucket": f"bench-{suffix}"}


def projects(work: Path, made: dict[str, str]) -> tuple[Path, Path]:
    branchline, metaflow = work / "branchline", work / "metaflow"
    (branchline / "flows").mkdir(parents=True)
    (branchline / "flows" / "bench.py").write_text(FLOW.format(framework="branchline"))
    (branchline / "pyproject.toml").write_text(
        '[tool.branchline]\nproject = "bench"\n\n[tool.branchline.aws]\n'
        f'states_role_arn = "{made["role"]}"\njob_role_arn = "{made["role"]}"\njob_queue = "{made["queue"]}"\n'
        f'bucket = "{made["bucket"]}"\nregion = "us-east-1"\n')
    metaflow.mkdir()
    (metaflow / "bench.py").write_text(FLOW.format(framework="metaflow"))
    return branchline, metaflow


def environments(endpoint: str, made: dict[str, str], work: Path) -> tuple[dict[str, str], dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "METAFLOW_", "BRANCHLINE_"))}
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    base.update(TEST_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    metaflow = {**base, "METAFLOW_HOME": str(work / "metaflow-home"), "USERNAME": "bench", "METAFLOW_USER": "bench",
                "METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DEFAULT_METADATA": "local",
                "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{made['bucket']}/metaflow",
                "METAFLOW_S3_ENDPOINT_URL": endpoint, "METAFLOW_BATCH_JOB_QUEUE": made["queue"],
                "METAFLOW_ECS_S3_ACCESS_IAM_ROLE": made["role"], "METAFLOW_SFN_IAM_ROLE": made["role"],
                "METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE": made["role"], "METAFLOW_SFN_DYNAMO_DB_TABLE": "bench"}
    return base, metaflow


def timed(argv: list[str], cwd: Path, env: dict[str, str], expect: str = "") -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or expect not in done.stdout + done.stderr:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def branchline_pass(root: Path, env: dict[str, str], namespace: str) -> dict[str, float]:
    deploy = [str(BRANCHLINE), "deploy", "-n", namespace, "--image", IMAGE, "--code-package", "s3://bench/c.tgz",
              "--git-sha", "bench"]
    return {
        "first deploy": timed(deploy, root, env, "create_state_machine"),
        "unchanged redeploy": timed(deploy, root, env, "nothing to do"),
        "teardown": timed([str(BRANCHLINE), "teardown", "-n", namespace], root, env, "delete_state_machine"),
    }


def metaflow_pass(python: Path, root: Path, env: dict[str, str]) -> dict[str, float]:
    command = [str(python), "bench.py", "--no-pylint", "step-functions"]
    return {
        "first deploy": timed([*command, "create"], root, env, "pushed to AWS Step Functions successfully"),
        "unchanged redeploy": timed([*command, "create"], root, env, "pushed to AWS Step Functions successfully"),
        "teardown": timed([*command, "delete"], root, env, "Deleting AWS Step Functions state machine"),
    }


def in_process(root: Path, endpoint: str) -> tuple[list[str], float]:
    """What an unchanged redeploy reads, and how long deploy() takes in a process that already deployed once."""
    os.environ.update(TEST_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    from branchline.aws.deploy import deploy
    from branchline.aws.deploy.executor import Executor
    from branchline.config import load_config
    from tests.aws_deploy.metering import MeteredClients

    config = load_config(root)
    deploy(config, "br-bench-reads", image=IMAGE, code_package="s3://bench/c.tgz", git_sha="bench")
    metered = MeteredClients()
    deploy(config, "br-bench-reads", image=IMAGE, code_package="s3://bench/c.tgz", git_sha="bench",
           executor=Executor(metered))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        deploy(config, "br-bench-reads", image=IMAGE, code_package="s3://bench/c.tgz", git_sha="bench")
        times.append(time.perf_counter() - start)
    return metered.calls, statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--metaflow-version", default=METAFLOW_VERSION)
    args = parser.parse_args(argv)
    python = metaflow_python(args.metaflow_version)
    reap_stale_runs()
    run = Run.new()
    try:
        endpoint = Testbed(run).moto(docker=False)
        made = infra(endpoint)
        with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
            work = Path(tmp)
            bl_root, mf_root = projects(work, made)
            bl_env, mf_env = environments(endpoint, made, work)
            results: dict[str, list[dict[str, float]]] = {"branchline": [], "metaflow": []}
            for index in range(args.repeat + 1):  # the first repetition warms both sides up
                mf = metaflow_pass(python, mf_root, mf_env)
                bl = branchline_pass(bl_root, bl_env, f"br-bench-{index}")
                if index:
                    results["metaflow"].append(mf)
                    results["branchline"].append(bl)
                print(f"repetition {index}{' (warm-up)' if not index else ''}: branchline {json.dumps(bl)}, "
                      f"metaflow {json.dumps(mf)}", file=sys.stderr)
            reads, warm = in_process(bl_root, endpoint)
        print(f"Deploys of a 12-step flow on one moto server, median of {args.repeat} (metaflow "
              f"{args.metaflow_version}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})\n")
        print("| operation | branchline (s) | metaflow (s) | metaflow / branchline |\n|---|---:|---:|---:|")
        for operation in ("first deploy", "unchanged redeploy", "teardown"):
            ours = statistics.median(r[operation] for r in results["branchline"])
            theirs = statistics.median(r[operation] for r in results["metaflow"])
            print(f"| {operation} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}x |")
        print(f"\nunchanged redeploy, in this process: {warm * 1000:.1f} ms; its calls: {', '.join(reads)}")
        return 0
    finally:
        run.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
