"""Per-task overhead of a Batch task on the local test bed, split into its parts; Metaflow's bootstrap beside it.

Run:  .venv/bin/python benchmarks/bench_batch_task.py [--tasks 5] [--skip-metaflow]

branchline: a laptop run (`branchline run`) of a flow whose `@batch` step fans out over `--tasks` items, one job
at a time (`--max-workers 1`, so the tasks do not compete for the 2 cores), each a real container started by
moto's Batch from the published step image. Per task, from the job's `createdAt` (moto), the container's
process start (`/proc`, read by the step), the bootstrap line the entry point prints in the job's log, the
step's first line (`time.time()`) and the task record's `finished`:

  submit → container start | python + imports | code package | flow loaded | task view → user code | artifacts saved

"bootstrap" is everything between the container's process starting and the user's first line.

Metaflow 2.19.39 (installed from the package index into its own virtualenv by this script): its `--with batch`
cannot run here (its container bootstrap `pip install`s boto3 and requests from the index in every task, and the
test bed's containers have no index), so the parts of its real task bootstrap are run on this machine against the
same moto S3, in the order its Batch command runs them (metaflow_environment.get_package_commands + the step
command): `pip install boto3 requests` into a fresh virtualenv (Metaflow's default image has neither), the
code package download with its own `python -c 'import boto3 ...'` line, the package's extract command, and
`python flow.py ... step start` (interpreter, Metaflow's import, the flow, the task's datastore set-up) up to
the step's first line. What this does not measure for Metaflow: container start and image pull (the same for
both), its log plumbing (mflog), and the time its scheduler waits on Batch.
Exits non-zero unless branchline's median bootstrap is under 1 s and at least 5x below Metaflow's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.batch.bed import BatchBed, environment, new_namespace, run_id_of, setup_project  # noqa: E402
from tests.testbed.bed import Testbed  # noqa: E402
from tests.testbed.runs import Run, reap_stale_runs  # noqa: E402

METAFLOW = "metaflow==2.19.39"
METAFLOW_VENV = Path(os.environ.get("BRANCHLINE_BENCH_CACHE", "/var/tmp/branchline-bench")) / "metaflow-2.19.39"
MAX_BOOTSTRAP_S = 1.0
MIN_RATIO = 5.0
PARTS = ("submit → container start", "python + imports", "code package", "flow loaded", "task view → user code",
         "bootstrap (container start → user code)", "user code → artifacts saved")  # fmt: skip
_LINE = re.compile(r"python\+imports ([\d.]+) s, code package ([\d.]+) s, flow ([\d.]+) s")

FLOW = '''
import time

from branchline import FlowSpec, batch, step


class BenchFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(__TASKS__))
        self.next(self.task, foreach="items")

    @batch(cpu=1, memory=512)
    @step
    def task(self):
        self.first_line = time.time()
        from branchline.runtime.entrypoint import process_age

        self.process_start = self.first_line - process_age()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

MF_FLOW = '''
import time

from metaflow import FlowSpec, step


class BenchFlow(FlowSpec):
    @step
    def start(self):
        print("first line at %r" % time.time(), flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BenchFlow()
'''


DOWNLOAD = ('import boto3, os; ep=os.getenv("METAFLOW_S3_ENDPOINT_URL"); boto3.client("s3", '
            '**({"endpoint_url":ep} if ep else {})).download_file("BUCKET", "metaflow/bench/job.tar", "job.tar")')
"""Metaflow's own code-package download line (metaflow_environment._get_download_code_package_cmd)."""


def _seconds(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def branchline_parts(bed: BatchBed, tasks: int) -> list[dict[str, float]]:
    """One laptop run, `tasks` Batch tasks one after the other; the parts of each."""
    from branchline.aws.ops.logs import log_lines, log_streams
    from branchline.aws.session import client

    flow = bed.write_flow("bench_flow.py", FLOW.replace("__TASKS__", str(tasks)))
    done = bed.branchline("run", flow, "--max-workers", "1")
    if done.code != 0:
        raise SystemExit(done.text)
    run = bed.run_client("BenchFlow", run_id_of(done.out))
    rows = []
    for task in run["task"].tasks():
        job_id = task.metadata["batch_job_id"]
        job = client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
        lines = [line for _, stream in log_streams(client, [job_id]) for line in log_lines(client, stream)]
        found = next(m for line in lines if (m := _LINE.search(line)))
        imports, code, flow_loaded = (float(v) for v in found.groups())
        start, first = task.data.process_start, task.data.first_line
        rows.append({
            "submit → container start": start - job["createdAt"] / 1000,
            "python + imports": imports, "code package": code, "flow loaded": flow_loaded,
            "task view → user code": first - start - imports - code - flow_loaded,
            "bootstrap (container start → user code)": first - start,
            "user code → artifacts saved": _seconds(task.metadata["finished"]) - first,
        })  # fmt: skip
    return rows


def _metaflow_python() -> Path:
    python = METAFLOW_VENV / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(METAFLOW_VENV)
        subprocess.run([str(python), "-m", "pip", "install", "-q", METAFLOW], check=True)
    return python


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start, done.stdout + done.stderr


def metaflow_parts(endpoint: str, bucket: str, repeat: int) -> list[dict[str, float]]:
    """Metaflow's task bootstrap, part by part, as its Batch command runs them (see the module doc)."""
    from branchline.aws.session import client

    python = _metaflow_python()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-mf-") as tmp:
        work = Path(tmp)
        (work / "flow.py").write_text(MF_FLOW)
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
        env.update(METAFLOW_DEFAULT_DATASTORE="s3", METAFLOW_DATASTORE_SYSROOT_S3=f"s3://{bucket}/metaflow",
                   METAFLOW_S3_ENDPOINT_URL=endpoint, METAFLOW_DEFAULT_METADATA="local", USERNAME="bench",
                   METAFLOW_HOME=str(work / ".mfhome"))  # fmt: skip
        _timed([str(python), "flow.py", "package", "save", str(work / "job.tar")], work, env)
        client("s3").upload_file(str(work / "job.tar"), bucket, "metaflow/bench/job.tar")
        for index in range(repeat):
            task = work / f"task{index}"
            task.mkdir()
            fresh = task / "venv"  # Metaflow's default image: python, no boto3, no requests
            venv.EnvBuilder(with_pip=True).create(fresh)
            pip, _ = _timed([str(fresh / "bin" / "python"), "-m", "pip", "install", "-qqq", "--no-compile",
                             "--no-cache-dir", "--disable-pip-version-check", "boto3", "requests"],
                            task, env)  # fmt: skip
            script = DOWNLOAD.replace("BUCKET", bucket)
            download, _ = _timed([str(fresh / "bin" / "python"), "-c", script], task, env)
            extract, _ = _timed(["tar", "xf", "job.tar"], task, {**env, "TAR_OPTIONS": "--warning=no-timestamp"})
            shutil.copy(work / "flow.py", task / "flow.py")
            common = [str(python), "flow.py", "--quiet", "--metadata=local", "--environment=local",
                      "--datastore=s3", "--datastore-root", f"s3://{bucket}/metaflow", "--no-pylint"]  # fmt: skip
            _timed([*common, "init", "--run-id", str(index + 1), "--task-id", "0"], task, env)
            started = time.time()
            _, out = _timed([*common, "step", "start", "--run-id", str(index + 1), "--task-id", "1",
                             "--input-paths", f"{index + 1}/_parameters/0", "--retry-count", "0",
                             "--max-user-code-retries", "0"], task, env)  # fmt: skip
            first = float(re.search(r"first line at ([\d.]+)", out).group(1))  # type: ignore[union-attr]
            step = first - started
            rows.append({"pip install boto3 requests": pip, "code package download": download,
                         "code package extract": extract, "python + metaflow + flow → user code": step,
                         "bootstrap (container start → user code)": pip + download + extract + step})  # fmt: skip
    return rows


def table(rows: list[dict[str, float]]) -> str:
    out = ["| part | median (s) | min (s) | max (s) |", "| --- | ---: | ---: | ---: |"]
    for part in rows[0]:
        values = [r[part] for r in rows]
        out.append(f"| {part} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5, help="Batch tasks (and Metaflow bootstraps) measured")
    parser.add_argument("--skip-metaflow", action="store_true")
    args = parser.parse_args(argv)
    reap_stale_runs()
    run = Run.new()
    try:
        bed = Testbed(run)
        info: dict[str, Any] = run.service("batch_project", lambda data: setup_project(
            data, bed.moto(docker=True), bed.docker_host, bed.registry(), bed.base_image(), bed.wheelhouse))
        batch_bed = BatchBed(info, new_namespace())
        from tests.batch.bed import aws_env

        with environment({**aws_env(info["endpoint"]), "DOCKER_HOST": info["docker_host"]}):
            ours = branchline_parts(batch_bed, args.tasks)
            print(f"branchline, {len(ours)} Batch tasks:\n{table(ours)}\n")
            if args.skip_metaflow:
                return 0
            theirs = metaflow_parts(info["endpoint"], info["bucket"], args.tasks)
            print(f"Metaflow 2.19.39 task bootstrap, {len(theirs)} times:\n{table(theirs)}\n")
    finally:
        run.shutdown()
    key = "bootstrap (container start → user code)"
    mine, other = statistics.median(r[key] for r in ours), statistics.median(r[key] for r in theirs)
    print(json.dumps({"branchline_bootstrap_s": round(mine, 3), "metaflow_bootstrap_s": round(other, 3),
                      "ratio": round(other / mine, 1)}))  # fmt: skip
    return 0 if mine < MAX_BOOTSTRAP_S and other / mine >= MIN_RATIO else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
