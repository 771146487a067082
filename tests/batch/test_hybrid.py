"""The hybrid runtime on the test bed: a laptop run whose `@batch` steps (or every step, `--with batch`) run as
AWS Batch jobs, each a real container on the test bed's engine started by moto's Batch, reading and writing
moto's S3; the other steps run in local workers. Assertions are what a user sees: the terminal's lines, the run
read back with `Run(...)`, the jobs' states in Batch.
"""

from __future__ import annotations

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


def test_one_batch_step_among_local_steps(batch_bed: BatchBed) -> None:
    flow = batch_bed.write_flow("mixed_flow.py", ONE_BATCH_STEP)
    done = batch_bed.branchline("run", flow)
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
