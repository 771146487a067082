"""Helpers for tracking tests: a real FlowDatastore with the runtime's documents (the contract).

The MLflow server is the session fixture `mlflow_server` of tests/conftest.py. Each test uses its own
project name, so experiments of different tests never mix on the shared server.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage

NAMESPACE = "br-feature-x-1a2b3c"


@pytest.fixture
def ds(tmp_path: Path) -> FlowDatastore:
    return FlowDatastore(LocalStorage(tmp_path / "datastore"), NAMESPACE)


@pytest.fixture
def project() -> str:
    return f"proj-{uuid.uuid4().hex[:8]}"


def make_run_doc(project: str, flow: str = "TrainFlow", run_id: str = "r1", **over: Any) -> dict[str, Any]:
    """run.json as the runtime writes it (see the runtime/tracking contract)."""
    doc: dict[str, Any] = {
        "flow": flow,
        "run_id": run_id,
        "namespace": NAMESPACE,
        "project": project,
        "status": "running",
        "params": {"alpha": 0.5, "n_estimators": 10, "features": ["a", "b"]},
        "started": "2026-01-02T10:00:00+00:00",
        "finished": None,
        "git": {"sha": "0123456789abcdef0123456789abcdef01234567", "branch": "feature/x", "dirty": False},
        "ci": {"pr_number": 42, "event": "pull_request"},
        "image": "sha256:feedface",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:exec-1",
        "origin_run_id": None,
        "flow_file": "flows/train.py",
        "tracking_uri": None,
        "steps": ["start", "train", "end"],
    }
    doc.update(over)
    return doc


def make_meta(step: str, task_id: str = "0", status: str = "succeeded", **over: Any) -> dict[str, Any]:
    """meta.json of a finished task as the task entrypoint writes it."""
    meta: dict[str, Any] = {
        "step": step,
        "task_id": task_id,
        "status": status,
        "attempt": 0,
        "started": "2026-01-02T10:00:01+00:00",
        "finished": "2026-01-02T10:00:02+00:00",
        "foreach_num_splits": None,
        "error": None,
        "batch_job_id": None,
        "artifacts": ["model", "score"],
        "log_paths": [],
    }
    meta.update(over)
    return meta
