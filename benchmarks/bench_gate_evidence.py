"""What the gate's provenance costs: a task's evidence record, and the gate's reads, on a real MLflow store.

    python benchmarks/bench_gate_evidence.py [--tasks 20] [--repeat 3] [--server-uri http://127.0.0.1:5000]

Rows:
- `record_task_evidence` per task (the task reads back its run and nested runs, searches its model versions,
  writes one JSON into the datastore) — paid once at the end of every tracked task;
- a dry run of the gate on a flow run with `--tasks` task runs (provenance walk + datastore cross-check).

On a sqlite store by default (a fresh temporary one), or on a running server with `--server-uri`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from branchline.config import load_config  # noqa: E402
from branchline.gate import run_gate  # noqa: E402
from branchline.tracking.connect import TrackingSession  # noqa: E402
from branchline.tracking.evidence import record_task_evidence  # noqa: E402
from tests.gate.mlstate import FLOW, client, datastore, make_project, record_flow_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server-uri", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.server_uri or f"sqlite:///{tmp}/mlflow.db"
        project = make_project(Path(tmp), uri)
        run = record_flow_run(project)
        c = client(uri)
        experiment = c.get_run(run.parent).info.experiment_id
        identity = {"branchline.namespace": "prod", "branchline.run_id": run.run_id, "mlflow.parentRunId": run.parent}
        extra = [c.create_run(experiment, tags=identity, run_name=f"train/0-{i}").info.run_id
                 for i in range(args.tasks)]  # fmt: skip
        ds, session = datastore(project, "prod"), TrackingSession(c, uri)
        per_task = []
        for _ in range(args.repeat):
            for i, task in enumerate(extra):
                start = time.perf_counter()
                record_task_evidence(session, ds, flow=FLOW, run_id=run.run_id, step="train", task_id=f"0-{i}",
                                     task_run_id=task)  # fmt: skip
                per_task.append(time.perf_counter() - start)
        gate_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            outcome = run_gate(config=load_config(project.root), run_id=run.run_id, dry_run=True)
            gate_times.append(time.perf_counter() - start)
        assert outcome.passed, outcome.verdict.summary
    store = "server" if args.server_uri else "sqlite"
    print(f"| store | record_task_evidence per task (median) | gate dry run, {args.tasks + 5} task runs (median) |")
    print("| --- | --- | --- |")
    print(f"| {store} | {statistics.median(per_task) * 1000:.0f} ms | {statistics.median(gate_times):.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
