"""Gate tests run against the session's real `mlflow server` (tests/conftest.py: `mlflow_server`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gate.mlstate import Project, make_project, restore_mlflow_env

__all__ = ["restore_mlflow_env"]  # autouse in every gate test


@pytest.fixture
def tracking(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URI as this test's MLFLOW_TRACKING_URI; no namespace from the environment."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.delenv("BRANCHLINE_NAMESPACE", raising=False)
    return mlflow_server


@pytest.fixture
def project(tmp_path: Path, tracking: str) -> Project:
    return make_project(tmp_path, tracking)
