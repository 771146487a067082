"""A reused task's evidence travels with it: the data check `start` ran in the original run passes the gate of
the resumed run (before, a resumed run failed its own gate: "check raw_data: no result recorded for this run").
Real local runtime, real recorder, real `mlflow server`; the check is recorded by branchline.checks' own code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, Status, TaskRecord
from branchline.datastore.storage import LocalStorage
from branchline.gate.decision import decide
from branchline.gate.evidence import find_flow_run, flow_tree
from branchline.gate.provenance import checks_from_runs
from branchline.tracking.connect import connect
from branchline.tracking.runs import create_task_run, open_parent, record_resume, set_tags

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

FLOW = '''
import os

import mlflow
from branchline import FlowSpec, step
from branchline.checks.record import record
from branchline.checks.result import CheckResult, ExpectationOutcome


class EvidenceFlow(FlowSpec):
    @step
    def start(self):
        result = CheckResult("raw_data", True, (ExpectationOutcome("expect_table_row_count_to_be_between", True),))
        record(result, "<html>raw_data</html>", mlflow.active_run())
        mlflow.log_metric("rows", 90)
        self.next(self.train)

    @step
    def train(self):
        if os.path.exists(os.environ["FAIL_MARKER"]):
            raise RuntimeError("train fails while the marker exists")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EvidenceFlow()
'''


def _flow(root: Path, uri: str, marker: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BRANCHLINE_"))}
    env.update(MLFLOW_TRACKING_URI=uri, BRANCHLINE_NAMESPACE="user-evidence", FAIL_MARKER=str(marker))
    return subprocess.run([sys.executable, "flows/evidence.py", *args, "--wait-tracking"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _gate_checks(uri: str, project: str, run_id: str) -> tuple[Any, dict[str, Any]]:
    session = connect(uri)
    parent = find_flow_run(session, project=project, flow="EvidenceFlow", run_id=run_id,
                           namespace="user-evidence")
    checks = checks_from_runs((r.info.run_name or r.info.run_id, dict(r.data.tags))
                              for r in flow_tree(session, parent, project=project, flow="EvidenceFlow").runs)
    return parent, checks


def test_a_locally_resumed_run_passes_the_check_its_reused_start_ran(mlflow_server: str, tmp_path: Path) -> None:
    project = f"evidence-{uuid.uuid4().hex[:6]}"
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "pyproject.toml").write_text(f'[tool.branchline]\nproject = "{project}"\n')
    (root / "flows" / "evidence.py").write_text(FLOW)
    marker = tmp_path / "fail"
    marker.touch()
    failed = _flow(root, mlflow_server, marker, "run", "--run-id", "origin")
    assert failed.returncode == 1 and "train fails" in failed.stderr, failed.stdout + failed.stderr
    marker.unlink()
    resumed = _flow(root, mlflow_server, marker, "resume", "origin")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run_id = re.search(r"resuming EvidenceFlow/(\S+)", resumed.stdout).group(1)  # type: ignore[union-attr]

    parent, checks = _gate_checks(mlflow_server, project, run_id)
    verdict = decide(metrics={}, checks=checks, required_checks=["raw_data"], thresholds={})
    assert verdict.passed, verdict.summary
    assert parent.data.tags["branchline.origin_run_id"] == "origin"
    start = next(r for r in flow_tree(connect(mlflow_server), parent, project=project,
                                      flow="EvidenceFlow").runs
                 if r.data.tags.get("branchline.step") == "start")
    assert start.data.tags["branchline.cloned_from"] == "origin/start/0"
    assert start.data.metrics["rows"] == 90  # the reused task's metrics came along
    assert start.data.tags["branchline.evidence_from"]  # and say where from


def test_a_resumed_run_on_aws_is_opened_in_mlflow_with_its_reused_evidence(mlflow_server: str, tmp_path: Path) -> None:
    """What `branchline resume --execution` does before the execution starts (record_resume), on the records a
    Step Functions run leaves: the original's task ran in its container and opened its own MLflow run."""
    project = f"evidence-aws-{uuid.uuid4().hex[:6]}"
    uri = mlflow_server
    session = connect(uri)
    ds = FlowDatastore(LocalStorage(tmp_path / "datastore"), "prod")
    origin = RunRecord.starting("EvidenceFlow", "origin", "prod", runtime="batch", project=project,
                                steps=("start", "train", "end"), tracking_uri=uri)
    ds.write_run_record(origin)
    link = open_parent(session, ds, origin.to_json(), project)
    task_run = create_task_run(session, link, {"branchline.step": "start"}, step="start", task_id="0")
    set_tags(session, task_run, {"branchline.checks.raw_data.success": "true",
                                     "branchline.checks.raw_data.failed": "0", "team": "ml"})
    record = TaskRecord("EvidenceFlow", "origin", "start", "0", Status.SUCCEEDED, mlflow_run_id=task_run)
    ds.write_task_record(record)
    ds.write_task_artifacts("EvidenceFlow", "origin", "start", "0", {})

    clone = ds.clone_record(record, "again")
    resumed = RunRecord.starting("EvidenceFlow", "again", "prod", runtime="batch", project=project,
                                 steps=origin.steps, tracking_uri=uri, origin_run_id="origin")
    ds.write_run_record(resumed)
    new_link = record_resume(ds, resumed.to_json(), project, [clone.to_json()])

    parent = session.client.get_run(new_link["run_id"])
    runs = flow_tree(session, parent, project=project, flow="EvidenceFlow").runs
    checks = checks_from_runs((r.info.run_name or r.info.run_id, dict(r.data.tags)) for r in runs)
    assert checks["raw_data"].success
    assert parent.data.tags["branchline.origin_run_id"] == "origin"
    assert parent.data.tags["branchline.origin_mlflow_run_id"] == link["run_id"]
    (start,) = [r for r in runs if r.data.tags.get("branchline.step") == "start"]
    assert start.data.tags["team"] == "ml" and start.data.tags["branchline.evidence_from"] == task_run
    assert start.data.tags["branchline.run_id"] == "again"  # its own identity, not the original's
