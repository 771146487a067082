"""Import once, before the workers fork, what every task of the run would otherwise import again.

Why: a forked task inherits its parent's modules, so a library imported here is paid once per run instead
of once per task. Measured on the generated sample flow (docs/benchmarks.md): its nine tasks each
re-imported MLflow's SQL store (1.5-13 s under load), scikit-learn (2-11 s) and, in the two checking
tasks, Great Expectations (7-14 s); together most of a ~60 s run.

What is warmed, decided from what the flow module already imported (never a guess at a library it does not use):
- the imports the project's own code defers into functions (`from sklearn.linear_model import ...` inside
  `build_model`), read from the source of the flow file and of the modules under the project root;
- MLflow's store for the tracking URI's scheme, when the flow imports mlflow and tracking is on;
- Great Expectations, when the flow uses `branchline.checks`;
- `mlflow.sklearn` (and skops, its serialiser), when the flow registers models and scikit-learn is loaded.

This runs in the local scheduler only, after the flow file is loaded: `branchline run` at start-up and a
flow's `--help` import none of it. `BRANCHLINE_WARM_IMPORTS=0` turns it off (e.g. a library that must not be
imported before a fork). A module that fails to import is skipped: the task that needs it reports the error.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path

OFF_ENV = "BRANCHLINE_WARM_IMPORTS"
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def deferred_imports(source: str) -> list[str]:
    """Absolute module names imported inside functions of `source`, in order of appearance, once each."""
    names: dict[str, None] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names.update((alias.name, None) for alias in inner.names)
            elif isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                names[inner.module] = None
    return list(names)


def store_module(tracking_uri: str) -> str | None:
    """The MLflow module that serves `tracking_uri`'s scheme (what each task would import to log)."""
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0] if ":" in tracking_uri else "file"
    if scheme in SQL_SCHEMES:
        return "mlflow.store.tracking.sqlalchemy_store"
    if scheme in ("http", "https"):
        return "mlflow.store.tracking.rest_store"
    if scheme == "file":
        return "mlflow.store.tracking.file_store"
    return None


def platform_modules(loaded: Iterable[str], tracking_uri: str | None) -> list[str]:
    """What the platform's own deferred imports will need, given the modules the flow has loaded."""
    loaded = set(loaded)
    wanted: list[str] = []
    if tracking_uri and "mlflow" in loaded and (store := store_module(tracking_uri)):
        wanted.append(store)
    if any(name == "branchline.checks" or name.startswith("branchline.checks.") for name in loaded):
        wanted.append("great_expectations")
    if "branchline.tracking.models" in loaded and "sklearn" in loaded:
        wanted += ["mlflow.sklearn", "skops.io"]  # skops: how mlflow.sklearn saves a model (4.7 s in `evaluate`)
    return wanted


def project_sources(root: Path, flow_file: Path | None) -> list[Path]:
    """Source files of the flow and of the loaded modules that live under the project root (not a venv)."""
    root = root.resolve()
    files = [flow_file.resolve()] if flow_file else []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or "site-packages" in path:
            continue
        resolved = Path(path).resolve()
        if resolved.suffix == ".py" and resolved.is_relative_to(root) and resolved not in files:
            files.append(resolved)
    return files


def _import_all(names: Iterable[str]) -> list[str]:
    done = []
    for name in names:
        if name in sys.modules:
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(name)
            done.append(name)
    return done


def warm_up(root: Path, flow_file: Path | None, tracking_uri: str | None) -> list[str]:
    """Import, in this (the scheduler's) process, what the tasks will import; returns the modules imported."""
    if os.environ.get(OFF_ENV, "1") == "0":
        return []
    user: dict[str, None] = {}
    for path in project_sources(root, flow_file):
        with contextlib.suppress(OSError, SyntaxError, ValueError):
            user.update(dict.fromkeys(deferred_imports(path.read_text())))
    done = _import_all(user)
    return done + _import_all(platform_modules(sys.modules, tracking_uri))
