"""The pre-fork warm-up: what the project's code imports inside functions is already loaded when a task starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchline.runtime.warmup import deferred_imports, platform_modules, store_module

from .conftest import Project

HELPER = """
def encode(value):
    import wave  # deferred on purpose: the warm-up must find it
    return wave.Error(value)
"""

FLOW = """
import sys

from branchline import FlowSpec, step

import helper


class WarmFlow(FlowSpec):
    @step
    def start(self):
        print(f"warm before use: {'wave' in sys.modules}")
        helper.encode(0.5)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WarmFlow()
"""


def test_deferred_imports_reads_imports_inside_functions_only() -> None:
    source = "import os\nfrom . import sibling\ndef f():\n    import a.b, c\n    from d.e import g\n"
    source += "    from . import h\n"
    source += "class K:\n    def m(self):\n        import a.b\n"
    assert deferred_imports(source) == ["a.b", "c", "d.e"]


@pytest.mark.parametrize(
    ("uri", "module"),
    [("sqlite:////x/mlflow.db", "mlflow.store.tracking.sqlalchemy_store"),
     ("postgresql+psycopg2://h/db", "mlflow.store.tracking.sqlalchemy_store"),
     ("http://127.0.0.1:5000", "mlflow.store.tracking.rest_store"), ("/tmp/mlruns", "mlflow.store.tracking.file_store"),
     ("databricks", "mlflow.store.tracking.file_store"), ("unknown://x", None)],
)  # fmt: skip
def test_store_module_follows_the_uri_scheme(uri: str, module: str | None) -> None:
    assert store_module(uri) == module


def test_platform_modules_only_for_what_the_flow_loaded() -> None:
    assert platform_modules(["pandas"], "sqlite:///x.db") == []
    assert platform_modules(["mlflow"], None) == []  # tracking off: no store
    assert platform_modules(["mlflow", "branchline.checks"], "http://h") == [
        "mlflow.store.tracking.rest_store",
        "great_expectations",
    ]
    assert platform_modules(["branchline.tracking.models", "sklearn"], None) == ["mlflow.sklearn", "skops.io"]


@pytest.mark.parametrize(("setting", "warm"), [(None, True), ("0", False)])
def test_a_task_starts_with_the_projects_deferred_imports_loaded(
    project: Project, setting: str | None, warm: bool
) -> None:
    (project.root / "flows" / "helper.py").write_text(HELPER)
    Path(project.root / "flows" / "warm_flow.py").write_text(FLOW)
    env = {"BRANCHLINE_WARM_IMPORTS": setting} if setting else {}
    proc = project.run("warm_flow.py", "run", env=env)
    assert f"warm before use: {warm}" in proc.stdout
