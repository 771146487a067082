"""The hybrid runtime on the test bed: a laptop run whose `@batch` steps (or every step, `--with batch`) run as
AWS Batch jobs, each a real container on the test bed's engine started by moto's Batch, reading and writing
moto's S3; the other steps run in local workers. Assertions are what a user sees: the terminal's lines, the run
read back with `Run(...)`, the jobs' states in Batch.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.batch.bed import BatchBed, run_id_of
from tests.e2e.path import client

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(900)]

ONE_BATCH_STEP = '''
from branchline import FlowSpec, batch, step


class MixedFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.heavy)

    @batch(cpu=2, memory=1024)
    @step
    def heavy(self):
        import os
        self.total = sum(self.numbers)
        self.heavy_job = os.environ.get("AWS_BATCH_JOB_ID")
        print(f"heavy total={self.total}")
        self.next(self.end)

    @step
    def end(self):
        import os
        self.end_job = os.environ.get("AWS_BATCH_JOB_ID")
        print(f"end sees total={self.total}")
'''


def test_one_batch_step_among_local_steps(batch_bed: BatchBed, mlflow_server: str) -> None:
    flow = batch_bed.write_flow("mixed_flow.py", ONE_BATCH_STEP)
    tracked = {"BRANCHLINE_TRACKING": "1", "MLFLOW_TRACKING_URI": mlflow_server}
    done = batch_bed.branchline("run", flow, "--wait-tracking", **tracked)
    assert done.code == 0, done.text
    print(done.text)
    run_id = run_id_of(done.out)
    # the Batch step's job went through Batch's states; its lines came back with the step/task prefix
    assert "batch heavy/0 submitted as job" in done.out, done.text
    assert "batch heavy/0 RUNNING" in done.out, done.text
    assert "[heavy/0] heavy total=6" in done.out, done.text
    assert "[end/0] end sees total=6" in done.out, done.text
    assert "batch start/0" not in done.out and "batch end/0" not in done.out, done.text

    # read back from the laptop exactly as a local run; only `heavy` ran in a container
    run = batch_bed.run_client("MixedFlow", run_id)
    assert run.successful, run.info
    assert batch_bed.latest_run_id("MixedFlow") == run_id, "Flow(...).latest_run lists the hybrid run"
    assert run["heavy"].task.data.total == 6 and run["end"].task.data.total == 6
    jobs = batch_bed.jobs_of(run)
    assert jobs["start"] == [None] and jobs["end"] == [None], jobs
    (heavy_job,) = jobs["heavy"]
    assert heavy_job and run["heavy"].task.data.heavy_job == heavy_job
    assert run["end"].task.data.end_job is None
    described = client("batch").describe_jobs(jobs=[heavy_job])["jobs"][0]
    assert described["status"] == "SUCCEEDED"
    assert "-MixedFlow-heavy-0-a0" in described["jobName"], described["jobName"]
    jobdef = client("batch").describe_job_definitions(jobDefinitions=[described["jobDefinition"]])["jobDefinitions"][0]
    requirements = {r["type"]: r["value"] for r in jobdef["containerProperties"]["resourceRequirements"]}
    assert requirements == {"VCPU": "2", "MEMORY": "1024"}, jobdef
    assert jobdef["containerProperties"]["image"] == batch_bed.info["image"]
    assert run["heavy"].task.metadata.get("log_paths", [""])[0].endswith(f"#jobs/detail/{heavy_job}")

    # MLflow: the Batch task's run carries its job id and the link to its logs; the local ones do not
    import mlflow

    tracking = mlflow.MlflowClient(tracking_uri=mlflow_server)
    experiments = [e.experiment_id for e in tracking.search_experiments()]
    tasks = {r.data.tags.get("branchline.step"): r.data.tags
             for r in tracking.search_runs(experiments, filter_string=f"tags.`branchline.run_id` = '{run_id}'")
             if r.data.tags.get("branchline.step")}  # fmt: skip
    assert sorted(tasks) == ["end", "heavy", "start"], tasks
    assert tasks["heavy"]["branchline.batch_job_id"] == heavy_job
    assert tasks["heavy"]["branchline.logs"].endswith(f"#jobs/detail/{heavy_job}")
    assert "branchline.batch_job_id" not in tasks["start"] and "branchline.logs" not in tasks["end"]


HELLO = '''
from branchline import FlowSpec, step


class HelloFlow(FlowSpec):
    """
    A flow where Metaflow prints 'Hi'.

    Run this flow to validate that Metaflow is installed correctly.

    """

    @step
    def start(self):
        """
        This is the 'start' step. All flows must have a step named 'start' that
        is the first step in the flow.

        """
        print("HelloFlow is starting.")
        self.next(self.hello)

    @step
    def hello(self):
        """
        A step for metaflow to introduce itself.

        """
        print("Metaflow says: Hi!")
        self.next(self.end)

    @step
    def end(self):
        """
        This is the 'end' step. All flows must have an 'end' step, which is the
        last step in the flow.

        """
        print("HelloFlow is all done.")


if __name__ == "__main__":
    HelloFlow()
'''

FOREACH = '''
from branchline import FlowSpec, step


class ForeachFlow(FlowSpec):

    @step
    def start(self):
        self.titles = ['Stranger Things',
                       'House of Cards',
                       'Narcos']
        self.next(self.a, foreach='titles')

    @step
    def a(self):
        self.title = '%s processed' % self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [input.title for input in inputs]
        self.next(self.end)

    @step
    def end(self):
        print('\\n'.join(self.results))


if __name__ == '__main__':
    ForeachFlow()
'''


def test_metaflow_tutorial_flows_run_with_batch(batch_bed: BatchBed) -> None:
    """Metaflow's hello-world tutorial and its docs' foreach example, only the import changed, every step a job."""
    hello = batch_bed.write_flow("hello_flow.py", HELLO)
    done = batch_bed.branchline("run", hello, "--with", "batch:cpu=1,memory=1000")
    assert done.code == 0, done.text
    for line in ("[start/0] HelloFlow is starting.", "[hello/0] Metaflow says: Hi!", "[end/0] HelloFlow is all done."):
        assert line in done.out, done.text
    run = batch_bed.run_client("HelloFlow", run_id_of(done.out))
    assert run.successful and all(batch_bed.jobs_of(run).values()), batch_bed.jobs_of(run)

    foreach = batch_bed.write_flow("foreach_flow.py", FOREACH)
    done = batch_bed.branchline("run", foreach, "--with", "batch", "--max-workers", "3")  # as `python flow.py run`
    assert done.code == 0, done.text
    run = batch_bed.run_client("ForeachFlow", run_id_of(done.out))
    assert run["end"].task.data.results == [f"{t} processed" for t in ("Stranger Things", "House of Cards", "Narcos")]
    jobs = batch_bed.jobs_of(run)
    assert len(jobs["a"]) == 3 and len(set(jobs["a"])) == 3 and all(jobs["a"]), jobs
    assert all(job for ids in jobs.values() for job in ids), f"every step ran on Batch: {jobs}"


WIDE = '''
from branchline import FlowSpec, batch, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(20))
        self.next(self.square, foreach="items")

    @batch(memory=512)
    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(inp.value for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_foreach_of_20_fans_out_over_batch(batch_bed: BatchBed) -> None:
    flow = batch_bed.write_flow("wide_flow.py", WIDE)
    done = batch_bed.branchline("run", flow, "--max-workers", "20")
    assert done.code == 0, done.text
    run = batch_bed.run_client("WideFlow", run_id_of(done.out))
    assert run["join"].task.data.values == [i * i for i in range(20)]
    jobs = batch_bed.jobs_of(run)["square"]
    assert len(jobs) == 20 and len(set(jobs)) == 20 and all(jobs), jobs
    assert done.out.count("submitted as job") == 20, done.text
    states = {j["jobId"]: j["status"] for j in batch_bed.jobs_in_namespace()}
    assert {states[job] for job in jobs} == {"SUCCEEDED"}, states


FLAKY = '''
from branchline import FlowSpec, batch, current, step


class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @batch
    @step
    def flaky(self):
        print(f"flaky attempt {current.retry_count}")
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails on purpose")
        self.attempt_seen = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_failing_batch_step_succeeds_on_its_second_attempt_with_retry(batch_bed: BatchBed) -> None:
    flow = batch_bed.write_flow("flaky_flow.py", FLAKY)
    failed = batch_bed.branchline("run", flow)
    assert failed.code == 1 and "step 'flaky' failed (task 0, attempt 1)" in failed.err, failed.text
    assert "the first attempt fails on purpose" in failed.err and "#jobs/detail/" in failed.err, failed.text

    done = batch_bed.branchline("run", flow, "--with", "retry:times=1,minutes_between_retries=0")
    assert done.code == 0, done.text
    expected = "retry flaky/0: attempt 2/2 now after: RuntimeError: the first attempt fails on purpose"
    assert expected in done.out, done.text
    assert "[flaky/0] flaky attempt 0" in done.out and "[flaky/0] flaky attempt 1" in done.out, done.text
    run = batch_bed.run_client("FlakyFlow", run_id_of(done.out))
    assert run["flaky"].task.data.attempt_seen == 1
    jobs = [(j["jobName"], j["status"]) for j in batch_bed.jobs_in_namespace()]
    attempts = sorted((name.rsplit("-", 2)[-2], status) for name, status in jobs if "-flaky-0-" in name)
    assert attempts == [("a0", "FAILED"), ("a0", "FAILED"), ("a1", "SUCCEEDED")], jobs  # one job per attempt


RESUMABLE = '''
from branchline import FlowSpec, batch, current, step


class ResumeFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.heavy)

    @batch
    @step
    def heavy(self):
        self.value = self.base * 2
        self.next(self.check)

    @batch
    @step
    def check(self):
        if current.origin_run_id is None:
            raise RuntimeError("check fails until the run is resumed")
        self.checked = self.value + 1
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_resume_after_a_batch_failure_reuses_local_and_batch_tasks(batch_bed: BatchBed) -> None:
    flow = batch_bed.write_flow("resume_flow.py", RESUMABLE)
    failed = batch_bed.branchline("run", flow)
    assert failed.code == 1 and "check fails until the run is resumed" in failed.err, failed.text
    origin = run_id_of(failed.out)
    assert f"resume {origin}" in failed.err, failed.text

    done = batch_bed.branchline("resume", flow)
    assert done.code == 0, done.text
    assert "cloned start/0" in done.out and "cloned heavy/0" in done.out, done.text
    assert done.out.count("submitted as job") == 1 and "batch check/0 submitted" in done.out, done.text
    before, after = batch_bed.run_client("ResumeFlow", origin), batch_bed.run_client("ResumeFlow", run_id_of(done.out))
    assert after.successful and after["check"].task.data.checked == 21
    assert batch_bed.jobs_of(after)["heavy"] == batch_bed.jobs_of(before)["heavy"]  # the Batch task, reused
    assert batch_bed.jobs_of(after)["start"] == [None]  # the local one, reused
    assert batch_bed.jobs_of(after)["check"] != batch_bed.jobs_of(before)["check"]


SLEEPER = '''
import time

from branchline import FlowSpec, batch, step


class SleepFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.nap, foreach="items")

    @batch
    @step
    def nap(self):
        print("napping", flush=True)
        time.sleep(300)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_ctrl_c_terminates_the_jobs_it_started(batch_bed: BatchBed) -> None:
    import docker

    flow = batch_bed.write_flow("sleep_flow.py", SLEEPER)
    proc = batch_bed.start("run", flow)
    try:
        deadline = time.monotonic() + 240
        while len([j for j in batch_bed.jobs_in_namespace() if j["status"] == "RUNNING"]) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the two jobs never ran"
            time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole foreground group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, f"{proc.returncode}\n{out}\n{err}"
    deadline = time.monotonic() + 30
    while True:
        jobs = batch_bed.jobs_in_namespace()
        if (len(jobs) == 2 and all(j["status"] == "FAILED" for j in jobs)) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sorted(j["status"] for j in jobs) == ["FAILED", "FAILED"], jobs
    engine = docker.DockerClient(base_url=batch_bed.info["docker_host"])
    running = [c.name for c in engine.containers.list() if batch_bed.namespace in c.name]
    assert running == [], running


HUGE = '''
from branchline import FlowSpec, batch, step


class HugeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.huge)

    @batch(cpu=8, memory=2048, queue="__QUEUE__")
    @step
    def huge(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def _small_managed_queue(prefix: str) -> tuple[str, str]:
    """A MANAGED compute environment of at most 2 vCPUs (m5.large) and a queue on it, in moto."""
    import json

    ec2, iam, batch = client("ec2"), client("iam"), client("batch")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=prefix, Description="batch", VpcId=vpc)["GroupId"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "batch.amazonaws.com"}}]}  # fmt: skip
    role = iam.create_role(RoleName=prefix, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=prefix)["InstanceProfile"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"{prefix}-small", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 2, "desiredvCpus": 0,
                          "instanceTypes": ["m5.large"], "subnets": [subnet], "securityGroupIds": [group],
                          "instanceRole": profile},
    )["computeEnvironmentArn"]  # fmt: skip
    queue = f"{prefix}-small"
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])  # fmt: skip
    return queue, f"{prefix}-small"


def test_a_job_that_can_never_be_placed_gets_the_runnable_message(batch_bed: BatchBed) -> None:
    queue, environment = _small_managed_queue(batch_bed.namespace)
    flow = batch_bed.write_flow("huge_flow.py", HUGE.replace("__QUEUE__", queue))
    done = batch_bed.branchline("run", flow, BRANCHLINE_BATCH_RUNNABLE_PATIENCE="3")
    assert done.code == 1, done.text
    message = " ".join(done.err.split())
    for part in (f"in queue {queue}", "it asks for 8 vCPU, 2048 MiB memory",
                 "no compute environment of the queue can ever run", f"{environment} has maxvCpus 2",
                 "@batch(queue=...)"):  # fmt: skip
        assert part in message, done.text
    assert "Traceback" not in done.err, done.text
    jobs = batch_bed.jobs_in_namespace(queue)
    assert [j["status"] for j in jobs] == ["FAILED"], jobs  # terminated, not left RUNNABLE


PYPI = '''
from branchline import FlowSpec, batch, pypi, step


def jokes_version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyjokes")
    except PackageNotFoundError:
        return None


class PypiFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = jokes_version()
        self.next(self.remote_jokes)

    @batch
    @pypi(packages={"pyjokes": "0.8.3"})
    @step
    def remote_jokes(self):
        import pyjokes

        self.remote_joke = bool(pyjokes.get_joke())
        self.remote_version = jokes_version()
        self.next(self.local_jokes)

    @pypi(packages={"pyjokes": "0.8.3"})
    @step
    def local_jokes(self):
        import sys

        self.local_version = jokes_version()
        self.local_python = sys.executable
        self.next(self.plain)

    @batch
    @step
    def plain(self):
        self.plain_has = jokes_version()
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_pypi_step_gets_its_own_image_and_the_other_steps_do_not_rebuild(batch_bed: BatchBed) -> None:
    flow = batch_bed.write_flow("pypi_flow.py", PYPI)
    done = batch_bed.branchline("run", flow)
    assert done.code == 0, done.text
    repository = batch_bed.info["repository"]
    assert f"{batch_bed.info['image'].split('@')[0]}:deps-" in done.out and "no build" in done.out, done.text
    assert "building" not in done.out.replace(f"building {repository}:pypi-", ""), f"only the @pypi image: {done.out}"
    run = batch_bed.run_client("PypiFlow", run_id_of(done.out))
    data = {step: run[step].task.data for step in ("start", "remote_jokes", "local_jokes", "plain")}
    assert data["remote_jokes"].remote_version == "0.8.3" and data["remote_jokes"].remote_joke
    assert data["local_jokes"].local_version == "0.8.3"
    assert "/.branchline/envs/" in data["local_jokes"].local_python
    assert data["start"].start_has is None and data["plain"].plain_has is None

    batch = client("batch")
    images = {}
    for step in ("remote_jokes", "plain"):
        job = batch.describe_jobs(jobs=batch_bed.jobs_of(run)[step])["jobs"][0]
        definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
        images[step] = definition["containerProperties"]["image"]
    assert images["plain"] == batch_bed.info["image"]
    assert images["remote_jokes"].startswith(f"{repository}@sha256:") and images["remote_jokes"] != images["plain"]

    again = batch_bed.branchline("run", flow)  # same packages: the image and the virtualenv are reused
    assert again.code == 0, again.text
    assert "building" not in again.out and again.out.count("no build") == 2, again.text

    # a deployment builds the same per-step image (found, not rebuilt) for every @pypi step, and compiles with it
    from branchline.aws.deploy.desired import desired_flow
    from branchline.aws.deploy.settings import aws_settings
    from branchline.config import load_config
    from branchline.images.pypi import publish_step_images
    from branchline.namespaces import Names
    from branchline.runtime.loader import graph_from_file

    graph = graph_from_file(batch_bed.project / flow)
    step_images = publish_step_images(graph, batch_bed.info["image"])
    assert step_images == {"remote_jokes": images["remote_jokes"], "local_jokes": images["remote_jokes"]}
    config = load_config(batch_bed.project)
    desired = desired_flow(graph, Names(config.project, "br-pypi"), aws_settings(config, "br-pypi"), flow_file=flow,
                           image=batch_bed.info["image"], code_package="s3://bucket/code.tar.gz", git_sha="0" * 40,
                           step_images=step_images)  # fmt: skip
    deployed = {jd.step: jd.request["containerProperties"]["image"] for jd in desired.job_definitions}
    assert deployed == {"start": images["plain"], "remote_jokes": images["remote_jokes"],
                        "local_jokes": images["remote_jokes"], "plain": images["plain"], "end": images["plain"]}
