"""``Testbed``: the lazily started parts of one session's test bed, in dependency order.

Each method starts its part the first time any process of the session asks (see ``runs.Run.service``) and
returns how to reach it. The fixtures in ``tests/conftest.py`` are thin wrappers over this class; a module- or
session-scoped fixture elsewhere can use the ``testbed`` fixture directly.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.testbed import containers, servers
from tests.testbed.runs import Run, ServiceInfo

REPO = Path(__file__).resolve().parents[2]


def step_requirements() -> list[str]:
    """Third-party requirements of a step image: the platform's dependencies plus its ``aws`` extra.

    Read from ``platform/pyproject.toml`` at run time, so the wheelhouse key follows the platform's pins.
    """
    project = tomllib.loads((REPO / "platform/pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project.get("optional-dependencies", {}).get("aws", [])]


class Testbed:
    """One session's engine, registry, base image, moto servers, mlflow server and wheelhouse."""

    __test__ = False

    def __init__(self, run: Run) -> None:
        self.run = run

    def engine(self) -> ServiceInfo:
        """The Docker engine: ``{"docker_host": "unix://...", ...}``."""
        return self.run.service("engine", containers.start_engine)

    @property
    def docker_host(self) -> str:
        """``DOCKER_HOST`` of the session's engine."""
        return str(self.engine()["docker_host"])

    def registry(self) -> str:
        """``127.0.0.1:PORT`` of the session's registry (an insecure registry the engine pushes to as is)."""
        return str(self.run.service("registry", containers.start_registry)["address"])

    def base_image(self) -> str:
        """Tag of the debootstrapped base image, imported into the session's engine."""
        docker_host = self.docker_host
        info = self.run.service("base_image", lambda _dir: containers.import_base_image(docker_host))
        return str(info["tag"])

    def moto(self, *, docker: bool = False) -> str:
        """URL of a moto server (shim applied, state machines executed); ``docker``: Batch runs containers."""
        if docker:
            docker_host = self.docker_host
            info = self.run.service("moto_docker", lambda d: servers.start_moto(d, docker_host))
        else:
            info = self.run.service("moto", servers.start_moto)
        return str(info["url"])

    def mlflow(self) -> str:
        """Tracking URI of the session's ``mlflow server``."""
        return str(self.run.service("mlflow", servers.start_mlflow)["url"])

    def mlflow_auth(self) -> dict[str, object]:
        """``{"url": ..., "users": {"admin"|"production"|"branch": password}}`` of the basic-auth ``mlflow server``."""
        info = self.run.service("mlflow_auth", servers.start_mlflow_auth)
        return {"url": str(info["url"]), "users": dict(info["users"])}

    def wheelhouse(self, requirements: list[str] | None = None) -> Path:
        """Directory of wheels for ``requirements`` (default: ``step_requirements()``), for offline installs."""
        return containers.build_wheelhouse(requirements if requirements is not None else step_requirements())

    def timings(self) -> dict[str, float]:
        """Start-up seconds of the services started so far (for the session summary)."""
        found = {}
        for record in sorted(self.run.directory.glob("*.json")):
            info = json.loads(record.read_text())
            for key in ("startup_s", "seconds"):
                if key in info:
                    found[record.stem] = float(info[key])
        return found
