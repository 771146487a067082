"""Fixtures of the Metaflow compatibility tests: Metaflow's own interpreter, and a project per framework."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import _require
from tests.metaflow_compat.harness import Side, branchline_python, make_side
from tests.metaflow_compat.reference import metaflow_python


@pytest.fixture(scope="session")
def metaflow_interpreter() -> Path:
    """Metaflow 2.19's interpreter (installed once into the test bed's cache; in CI, failing to install fails)."""
    return _require(metaflow_python)


def sides_in(root: Path, metaflow: Path) -> dict[str, Side]:
    return {"metaflow": make_side("metaflow", metaflow, root / "metaflow"),
            "branchline": make_side("branchline", branchline_python(), root / "branchline")}


@pytest.fixture
def branchline_side(tmp_path: Path) -> Side:
    """A branchline project directory (for the tests that need no Metaflow)."""
    return make_side("branchline", branchline_python(), tmp_path / "branchline")
