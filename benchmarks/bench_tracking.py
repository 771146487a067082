"""What MLflow tracking costs a local run, and what the background recorder costs itself.

    python benchmarks/bench_tracking.py [--repeat 5] [--server-uri http://127.0.0.1:5000]

Rows:
- runtime side: the `start_recorder` call (a Popen) the runtime pays at run start;
- recorder: Popen -> parent run ready (mlflow.json, what a step that uses mlflow waits for at most)
  and Popen -> exit, for a finished 2-step run, on a fresh sqlite store, an existing one, and a remote
  server when `--server-uri` is given;
- a 2-step trivial flow run end to end (`python flow.py run`, a fresh interpreter) with tracking on
  (default: not waiting for the recorder) and off (BRANCHLINE_TRACKING=0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_local_runtime import TWO_STEP, write_flow  # the same trivial flow as the runtime benchmark

from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage
from branchline.tracking.recorder import start_recorder, wait_for_recorder
from branchline.tracking.runs import read_link

NAMESPACE = "bench"



def finished_run(ds: FlowDatastore, run_id: str) -> None:
    """The documents of a finished 2-step run, as the runtime leaves them."""
    ds.write_run(
        "TwoStep",
        run_id,
        {"flow": "TwoStep", "run_id": run_id, "namespace": NAMESPACE, "project": "bench", "status": "succeeded",
         "params": {"alpha": 1}, "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:00:01+00:00",
         "git": None, "ci": None, "image": None, "execution_arn": None, "steps": ["start", "end"]},
    )  # fmt: skip
    for step in ("start", "end"):
        meta = {"status": "succeeded", "attempt": 0, "step": step, "task_id": "0", "artifacts": ["x"]}
        ds.write_task_meta("TwoStep", run_id, step, "0", meta)


def record_once(ds: FlowDatastore, uri: str, run_id: str) -> tuple[float, float, float]:
    """(Popen seconds, seconds until mlflow.json has the parent run, seconds until the recorder exits)."""
    finished_run(ds, run_id)
    t0 = time.perf_counter()
    proc = start_recorder(
        datastore_url=ds.storage.url, namespace=NAMESPACE, flow="TwoStep", run_id=run_id, project="bench",
        tracking_uri=uri, poll_interval=0.02,
    )  # fmt: skip
    popen = time.perf_counter() - t0
    ready = None
    while proc.poll() is None:
        if ready is None and (read_link(ds, "TwoStep", run_id) or {}).get("run_id"):
            ready = time.perf_counter() - t0
        time.sleep(0.02)
    total = time.perf_counter() - t0
    wait_for_recorder(proc, timeout=120)
    return popen, ready if ready is not None else total, total


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench_recorder(label: str, make_uri: Callable[[Path, int], str], repeat: int, work: Path) -> list[tuple]:
    popens, readies, totals = [], [], []
    for i in range(repeat):
        ds = FlowDatastore(LocalStorage(work / f"{label}-{i}" / "ds"), NAMESPACE)
        popen, ready, total = record_once(ds, make_uri(work, i), f"run-{i}")
        popens.append(popen)
        readies.append(ready)
        totals.append(total)
    return [
        (f"runtime side: start_recorder() Popen [{label}]", median(popens)),
        (f"recorder: parent run ready [{label}]", median(readies)),
        (f"recorder: total, 2-step run [{label}]", median(totals)),
    ]


def wait_recorders(project: Path, timeout: float = 120) -> None:
    """Wait until every run's recorder is done, so the next timed run does not share the CPU with it."""
    import json

    deadline = time.monotonic() + timeout
    for run_dir in (project / ".branchline" / "datastore").glob("*/runs/*/*"):
        link = run_dir / "mlflow.json"
        while time.monotonic() < deadline:
            data = json.loads(link.read_text()) if link.exists() else {}
            if data.get("recorded") or data.get("error"):
                break
            time.sleep(0.1)


def bench_flow(repeat: int, work: Path) -> list[tuple]:
    rows = []
    for label, extra in (("tracking off", {"BRANCHLINE_TRACKING": "0"}), ("tracking on", {})):
        project = work / label.replace(" ", "-")
        project.mkdir()
        (project / "pyproject.toml").write_text('[tool.branchline]\nproject = "bench"\n')
        write_flow(project, "two_step", TWO_STEP, "branchline")
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | extra
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "two_step.py", "run", "--quiet"], cwd=project, env=env, check=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            times.append(time.perf_counter() - t0)
            if not extra:
                wait_recorders(project)  # not timed: the recorder goes on after the command returned
        rows.append((f"2-step flow, `python flow.py run` [{label}]", median(times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--server-uri", default=None, help="also measure against this running mlflow server")
    parser.add_argument("--flow-only", action="store_true", help="only the end-to-end 2-step flow rows")
    args = parser.parse_args()
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        work = Path(tmp)
        shared = work / "shared-store"
        shared.mkdir()
        if not args.flow_only:
            rows += bench_recorder("fresh sqlite", lambda w, i: f"sqlite:///{w}/fresh-{i}/mlflow.db", args.repeat, work)
            rows += bench_recorder(
                "existing sqlite", lambda w, i: f"sqlite:///{shared}/mlflow.db", args.repeat + 1, work
            )
            if args.server_uri:
                rows += bench_recorder("server", lambda w, i: args.server_uri, args.repeat, work)
        rows += bench_flow(args.repeat, work)
    width = max(len(name) for name, _ in rows)
    print(f"{'measure (median of ' + str(args.repeat) + ')':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:8.4f}")


if __name__ == "__main__":
    main()
