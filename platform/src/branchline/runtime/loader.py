"""Load a live flow: import its module from a file (once, without running its `__main__` block), and read
its graph with the values only the live class knows (computed decorator arguments, parameters, schedule)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from branchline.authoring.decorators import DECORATORS_ATTR, SCHEDULE_ATTR, STEP_MARK
from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import declared_parameters
from branchline.authoring.project import project_of
from branchline.authoring.unsupported import check_supported
from branchline.config import find_project_root
from branchline.errors import FlowError
from branchline.graph.model import FlowGraph, ParameterSpec
from branchline.graph.parse import build_graph


def _project_paths(flow_file: Path) -> list[Path]:
    """The project root and its src/ directory, so flows can import the project's package."""
    root = find_project_root(flow_file.parent)
    return [p for p in (root / "src", root) if p.is_dir()]


def load_flow_class(path: Path, class_name: str | None = None) -> type[FlowSpec]:
    path = Path(path)
    if not path.is_file():
        raise FlowError(f"flow file not found: {path}", hint="pass the path of a .py file that defines a FlowSpec")
    resolved = path.resolve()
    for extra in _project_paths(resolved):
        if str(extra) not in sys.path:
            sys.path.insert(0, str(extra))
    if str(resolved.parent) not in sys.path:
        sys.path.insert(0, str(resolved.parent))
    module_name = f"branchline_flow_{resolved.stem}_{abs(hash(str(resolved))) % 10**8}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, resolved)
        if spec is None or spec.loader is None:
            raise FlowError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            del sys.modules[module_name]
            raise FlowError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
        except ImportError as exc:
            del sys.modules[module_name]
            raise FlowError(
                f"{path}: import failed: {exc}", hint="install the project's dependencies (pip install -e .)"
            ) from None
    flows = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, FlowSpec)
        and obj is not FlowSpec
        and obj.__module__ == module.__name__
    ]
    if class_name:
        flows = [f for f in flows if f.__name__ == class_name]
    if not flows:
        what = f"class {class_name}" if class_name else "a FlowSpec subclass"
        raise FlowError(f"{path} defines no {what}")
    if len(flows) > 1:
        names = ", ".join(sorted(f.__name__ for f in flows))
        raise FlowError(f"{path} defines several flows ({names})", hint="pass --flow NAME")
    return flows[0]


def graph_from_class(cls: type[FlowSpec]) -> FlowGraph:
    """The graph of a loaded flow class, read from its source file with its live decorator values.

    A flow that uses a Metaflow feature branchline does not have is refused here, before anything runs.
    """
    check_supported(cls)
    file = inspect.getsourcefile(cls) or "<unknown>"
    live: dict[str, dict[str, dict[str, Any]]] = {
        name: dict(getattr(value, DECORATORS_ATTR, {}))
        for name, value in vars(cls).items()
        if callable(value) and getattr(value, STEP_MARK, False)
    }
    params = tuple(
        ParameterSpec(
            name=p.name,
            type=p.type_name,
            default=None if callable(p.default) else p.default,
            required=p.required,
            help=p.help,
        )
        for p in declared_parameters(cls)
    )
    return build_graph(
        Path(file).read_text(),
        _display_path(file),
        cls.__name__,
        live_decorators=live,
        parameters=params,
        schedule=getattr(cls, SCHEDULE_ATTR, None),
        project=spec.name if (spec := project_of(cls)) else None,
    )


def _display_path(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def graph_from_file(path: str | Path, class_name: str | None = None) -> FlowGraph:
    """Import the flow module from `path` and build its graph (used by the deployer and tools)."""
    return graph_from_class(load_flow_class(Path(path), class_name))
