"""Fixtures of the Metaflow compatibility tests: Metaflow's own interpreter, and a project per framework."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.metaflow_compat.harness import Side, branchline_python, make_side
from tests.metaflow_compat.reference import metaflow_python
from tests.testbed.procs import TestbedUnavailable


@pytest.fixture(scope="session")
def metaflow_interpreter() -> Path:
    """Metaflow 2.19's interpreter (installed once into the test bed's cache)."""
    try:
        return metaflow_python()
    except TestbedUnavailable as exc:
        if in_ci():
            pytest.fail(f"Metaflow could not be installed in CI (must not be skipped): {exc}", pytrace=False)
        pytest.skip(f"Metaflow could not be installed: {exc}")


def sides_in(root: Path, metaflow: Path) -> dict[str, Side]:
    return {"metaflow": make_side("metaflow", metaflow, root / "metaflow"),
            "branchline": make_side("branchline", branchline_python(), root / "branchline")}


@pytest.fixture
def branchline_side(tmp_path: Path) -> Side:
    """A branchline project directory (for the tests that need no Metaflow)."""
    return make_side("branchline", branchline_python(), tmp_path / "branchline")
