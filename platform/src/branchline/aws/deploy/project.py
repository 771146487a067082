"""Which flows a project deploys, and the git sha it deploys them at (reads files and git)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from branchline.authoring.project import ProjectSpec, agreed_project
from branchline.config import Config
from branchline.errors import ConfigError, FlowError
from branchline.graph.model import FlowGraph
from branchline.runtime.loader import graph_from_file


def flow_files(config: Config) -> list[Path]:
    """`[tool.branchline] flows` (paths, relative to the project root), else `flows/*.py`."""
    listed = config.get("flows")
    if listed is None:
        return sorted(p for p in (config.root / "flows").glob("*.py") if not p.name.startswith("_"))
    if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
        raise ConfigError("tool.branchline.flows must be a list of paths", hint='e.g. flows = ["flows/train.py"]')
    files = [config.root / p for p in listed]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise ConfigError(f"flow files listed in tool.branchline.flows do not exist: {', '.join(missing)}")
    return files


def load_flows(config: Config, only: Sequence[str] | None = None) -> list[tuple[str, FlowGraph]]:
    """(flow file relative to the root, graph) of every flow, or of the flow classes named in `only`."""
    graphs = []
    where = str(config.source or config.root / "pyproject.toml")
    for path in flow_files(config):
        graph = graph_from_file(path)
        if graph.project is not None:  # the deployed names use the project's name: @project must agree with it
            agreed_project(ProjectSpec(graph.project), config.project, where)
        graphs.append((path.relative_to(config.root).as_posix(), graph))
    if only:
        known = {g.name for _, g in graphs}
        unknown = sorted(set(only) - known)
        if unknown:
            raise FlowError(
                f"no flow named {', '.join(unknown)} in this project",
                hint=f"known flows: {', '.join(sorted(known)) or '(none: add flows/*.py)'}",
            )
        graphs = [(f, g) for f, g in graphs if g.name in only]
    if not graphs:
        raise FlowError(f"no flows to deploy under {config.root}", hint="add flows/*.py or set tool.branchline.flows")
    return graphs


def current_git_sha(root: Path) -> str:
    """`GITHUB_SHA` in CI, else `git rev-parse HEAD`, else `unknown` (a directory that is not a repo)."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
