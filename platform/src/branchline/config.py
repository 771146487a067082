"""`[tool.branchline]` from the project's pyproject.toml, with embedded defaults.

With no configuration at all everything runs on this machine: artifacts under
`.branchline/datastore`, MLflow in `.branchline/mlflow.db`. AWS and a remote MLflow are opt-in.
Environment variables win over the file: `MLFLOW_TRACKING_URI`, `BRANCHLINE_DATASTORE`,
`BRANCHLINE_NAMESPACE`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchline.errors import ConfigError
from branchline.namespaces.names import validate_project

STATE_DIR = ".branchline"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` whose pyproject.toml has [tool.branchline]; else `start`."""
    here = (start or Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text())
            except (tomllib.TOMLDecodeError, OSError):
                continue
            if "branchline" in data.get("tool", {}):
                return candidate
    return here


@dataclass
class Config:
    root: Path
    data: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    # ----- generic access with clear errors
    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def require(self, dotted: str, hint: str | None = None) -> Any:
        value = self.get(dotted)
        if value in (None, ""):
            where = self.source or self.root / "pyproject.toml"
            raise ConfigError(
                f"missing setting tool.branchline.{dotted} in {where}",
                hint=hint or f"add it under [tool.branchline{'.' + dotted.rsplit('.', 1)[0] if '.' in dotted else ''}]",
            )
        return value

    def section(self, name: str) -> dict[str, Any]:
        value = self.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"tool.branchline.{name} must be a table in {self.source}")
        return value

    # ----- well-known settings
    @property
    def project(self) -> str:
        return str(self.get("project") or self.root.name)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def datastore_url(self) -> str:
        url = os.environ.get("BRANCHLINE_DATASTORE") or self.get("datastore")
        return str(url) if url else str(self.state_dir / "datastore")

    @property
    def tracking_uri(self) -> str:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or self.get("tracking_uri")
        if uri:
            return str(uri)
        return f"sqlite:///{self.state_dir / 'mlflow.db'}"

    @property
    def tracking_enabled(self) -> bool:
        env = env_flag("BRANCHLINE_TRACKING")
        return env if env is not None else bool(self.get("tracking", True))

    @property
    def register_local_models(self) -> bool:
        """Does a run in a person's own namespace register its models? `BRANCHLINE_REGISTER_MODELS`, else
        `register_local_models` (default false: a laptop run logs no model, and is faster for it)."""
        env = env_flag("BRANCHLINE_REGISTER_MODELS")
        if env is not None:
            return env
        value = self.get("register_local_models", False)
        if not isinstance(value, bool):
            raise ConfigError(
                f"tool.branchline.register_local_models must be true or false, not {value!r} in {self.source}",
                hint="register_local_models = true",
            )
        return value

    @property
    def production_branch(self) -> str:
        return str(self.get("production_branch", "main"))


def env_flag(name: str) -> bool | None:
    """An on/off environment variable: None when unset or empty; `0`/`false`/`off`/`no` are off."""
    value = os.environ.get(name, "").strip().lower()
    return None if not value else value not in ("0", "false", "off", "no")


def load_config(start: Path | None = None) -> Config:
    root = find_project_root(start)
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config(root=root)
    try:
        data = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject} is not valid TOML: {exc}") from None
    section = data.get("tool", {}).get("branchline", {})
    if not isinstance(section, dict):
        raise ConfigError(f"[tool.branchline] in {pyproject} must be a table")
    if "project" in section:  # every AWS and MLflow name starts with it: refuse a bad one before anything runs
        validate_project(str(section["project"]))
    return Config(root=root, data=section, source=pyproject)
