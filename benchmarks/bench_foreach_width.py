"""A foreach at widths 10, 1,000 and 10,000 on the test bed's moto (docker-less Batch: a light body).

Run:  .venv/bin/python benchmarks/bench_foreach_width.py [--widths 10,1000,10000] [--join-max 1000]

For each width: the compiled state machine of tests/flows/width_flow.py runs on moto's Step Functions (every
item a child execution of the Distributed Map, its Batch job succeeding at once) after the foreach task itself
ran for real in this process against moto's S3 (it writes the items list the Map reads and the values the
children read by index). Measured: the parent execution's history events, the definition's size, the wall time
of the execution, and the S3 bytes a task reads (GetObject bodies, through botocore's events): three children
(first, middle, last item) run for real in this process, and the join when the width is at most `--join-max`
(it needs every child's outputs: all of them are run first, in parallel).

The alternative shape for a one-step foreach body, a Batch array job (one SubmitJob for every child), is run
too: a Task submitting an array job of the width's size (2 to 10,000), for its history, wall time and calls.
Prints Markdown tables; nothing is asserted (tests/scale/test_foreach_width.py asserts the shapes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402

from branchline.aws.compile import (  # noqa: E402
    CompileContext,
    compile_job_definitions,
    compile_state_machine,
    definition_json,
)
from branchline.datastore.artifacts import FlowDatastore  # noqa: E402
from branchline.datastore.records import RunRecord, task_id_for  # noqa: E402
from branchline.datastore.storage import S3Storage  # noqa: E402
from branchline.runtime.entrypoint import TaskSpec, execute_task  # noqa: E402
from branchline.runtime.loader import graph_from_class, load_flow_class  # noqa: E402
from tests.flows import flow_path  # noqa: E402
from tests.scale.meter import S3Meter  # noqa: E402
from tests.testbed.bed import Testbed  # noqa: E402
from tests.testbed.runs import Run, reap_stale_runs  # noqa: E402

NAMESPACE = "br-width"
FLOW_CLS = load_flow_class(flow_path("width_flow"), "WidthFlow")
GRAPH = graph_from_class(FLOW_CLS)


class Bench:
    def __init__(self, endpoint: str, concurrency: int) -> None:
        self.make = lambda service: boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                                                 aws_access_key_id="testing", aws_secret_access_key="testing")
        suffix = uuid.uuid4().hex[:6]
        iam, batch = self.make("iam"), self.make("batch")
        self.role = iam.create_role(RoleName=f"w-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        env = batch.create_compute_environment(computeEnvironmentName=f"w-{suffix}", type="UNMANAGED",
                                               serviceRole=self.role)
        self.queue = batch.create_job_queue(jobQueueName=f"w-{suffix}", state="ENABLED", priority=1,
                                            computeEnvironmentOrder=[{"order": 1, "computeEnvironment":
                                                                      env["computeEnvironmentArn"]}])["jobQueueArn"]
        self.bucket = f"w-{suffix}"
        self.make("s3").create_bucket(Bucket=self.bucket)
        self.ctx = CompileContext(project="demo", namespace=NAMESPACE, flow_file="flows/width_flow.py",
                                  image="bench@sha256:" + "a" * 64, job_queue=self.queue, job_role_arn=None,
                                  datastore_root=f"s3://{self.bucket}/branchline/demo", code_package="s3://x/c.tgz",
                                  max_concurrency=concurrency)
        self.arns = {step: batch.register_job_definition(**spec.request)["jobDefinitionArn"]
                     for step, spec in compile_job_definitions(GRAPH, self.ctx).items()}

    def datastore(self, meter: S3Meter | None = None) -> FlowDatastore:
        s3 = self.make("s3")
        if meter is not None:
            meter.attach(s3)
        return FlowDatastore(S3Storage(self.bucket, "branchline/demo", s3), NAMESPACE)

    def task(self, ds: FlowDatastore, run_id: str, step: str, task_id: str, width: int) -> None:
        spec = TaskSpec(flow="WidthFlow", step=step, run_id=run_id, task_id=task_id, namespace=NAMESPACE)
        record = execute_task(FLOW_CLS, GRAPH, ds, spec, {"width": width})
        assert record.succeeded, record.error

    def execution(self, definition: dict[str, Any], name: str, payload: dict[str, Any]) -> dict[str, Any]:
        sfn = self.make("stepfunctions")
        machine = sfn.create_state_machine(name=name, definition=definition_json(definition),
                                           roleArn=self.role)["stateMachineArn"]
        started = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))["executionArn"]
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            time.sleep(0.2)
        wall = time.perf_counter() - started
        events = [e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
                  for e in page["events"]]
        assert described["status"] == "SUCCEEDED", [e for e in events if "Failed" in e["type"]]
        return {"wall": wall, "events": len(events)}

    def submitted(self) -> int:
        batch = self.make("batch")
        return sum(len(page["jobSummaryList"]) for status in ("SUCCEEDED", "FAILED")
                   for page in batch.get_paginator("list_jobs").paginate(jobQueue=self.queue, jobStatus=status))


def distributed_map(bench: Bench, width: int, join_max: int) -> dict[str, Any]:
    run_id = f"map-{width}-{uuid.uuid4().hex[:4]}"  # the execution's name is the run id its tasks use
    ds = bench.datastore()
    ds.write_run_record(RunRecord.starting("WidthFlow", run_id, NAMESPACE, runtime="batch", params={"width": width}))
    started = time.perf_counter()
    bench.task(ds, run_id, "start", "0", width)
    foreach_write = time.perf_counter() - started
    definition = compile_state_machine(GRAPH, bench.ctx, bench.arns)
    before = bench.submitted()
    result = bench.execution(definition, run_id, {"params": {"width": width}})
    result.update(definition=len(definition_json(definition).encode()), foreach_write=foreach_write,
                  submits=bench.submitted() - before)
    child_reads = []
    for index in sorted({0, width // 2, width - 1}):
        meter = S3Meter()
        bench.task(bench.datastore(meter), run_id, "body", task_id_for((index,)), width)
        child_reads.append(meter.bytes_read)
    result["child_bytes"] = statistics.median(child_reads)
    if width <= join_max:
        rest = [i for i in range(width) if i not in {0, width // 2, width - 1}]
        shared = bench.datastore()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda i: bench.task(shared, run_id, "body", task_id_for((i,)), width), rest))
        meter = S3Meter()
        bench.task(bench.datastore(meter), run_id, "join", "0", width)
        result["join_bytes_per_input"] = meter.bytes_read / width
    return result


def array_job(bench: Bench, width: int) -> dict[str, Any]:
    """One Task submitting a Batch array job of `width` children (Batch allows 2 to 10,000)."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True,
            "Parameters": {"JobName": "body", "JobQueue": bench.queue, "JobDefinition": bench.arns["body"],
                           "ArrayProperties": {"Size": width}}}
    before = bench.submitted()
    result = bench.execution({"StartAt": "body", "States": {"body": task}}, f"array-{width}-{uuid.uuid4().hex[:4]}",
                             {})
    result["jobs"] = bench.submitted() - before
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="10,1000,10000")
    parser.add_argument("--join-max", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16, help="the Map's MaxConcurrency (the default)")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    reap_stale_runs()
    run = Run.new()
    try:
        bench = Bench(Testbed(run).moto(docker=False), args.concurrency)
        maps, arrays = {}, {}
        for width in widths:
            maps[width] = distributed_map(bench, width, args.join_max)
            arrays[width] = array_job(bench, width) if width >= 2 else None
            print(f"width {width}: map {maps[width]} array {arrays[width]}", file=sys.stderr)
        print(f"Foreach on moto, docker-less Batch, MaxConcurrency {args.concurrency} ({os.cpu_count()} cores, load "
              f"average {os.getloadavg()[0]:.1f})\n")
        print("| width | parent history events | definition (bytes) | execution wall (s) | SubmitJob calls | "
              "foreach task write (s) | S3 bytes read per child | join S3 bytes per input |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for width, m in maps.items():
            join = f"{m['join_bytes_per_input']:.0f}" if "join_bytes_per_input" in m else "not run"
            print(f"| {width:,} | {m['events']} | {m['definition']:,} | {m['wall']:.1f} | {m['submits']:,} | "
                  f"{m['foreach_write']:.2f} | {m['child_bytes']:.0f} | {join} |")
        print("\nBatch array job of the same width (one Task):\n")
        print("| width | parent history events | execution wall (s) | SubmitJob calls | Batch jobs |\n"
              "|---:|---:|---:|---:|---:|")
        for width, a in arrays.items():
            if a is not None:
                print(f"| {width:,} | {a['events']} | {a['wall']:.1f} | 1 | {a['jobs']:,} |")
        return 0
    finally:
        run.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
