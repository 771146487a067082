"""A project with the template's own GX context (gx/ copied from the cookiecutter template) and iris data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.gate.mlstate import restore_mlflow_env

__all__ = ["restore_mlflow_env"]  # autouse: undo what mlflow exports into os.environ

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_GX = REPO / "{{cookiecutter.project}}" / "gx"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris() -> Any:
    """The iris frame as the template's `load_data()` returns it (the columns raw_data.json expects)."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = [*FEATURES, "target"]
    frame["target"] = frame["target"].astype("int64")
    return frame


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` except GX's ignored scratch space, with its content."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "uncommitted" not in p.relative_to(directory).parts
    }


@pytest.fixture
def gx_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory (pyproject.toml with [tool.branchline] + the template's gx/), as the CWD."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.branchline]\nproject = "proj"\n')
    shutil.copytree(TEMPLATE_GX, root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.chdir(root)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    return root
