"""Session fixtures of the local test bed (see docs/testbed.md).

Servers start lazily, the first time a test asks for them, and stop when the session ends. With pytest-xdist
the controller owns the run; workers share its services through files in the run directory (``tests/testbed/
runs.py``), so a service starts once per session whatever the number of workers.

Parts that need the Docker engine (root + Debian packages) are skipped with the precise reason on a machine
without them, but fail when ``CI`` is true: in CI they must never be skipped. ``.ci/run`` also checks, through
``$BRANCHLINE_SKIPPED_DOCKER_REPORT``, that no test marked ``docker`` was skipped for any other reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.testbed import ordering
from tests.testbed.bed import Testbed
from tests.testbed.policy import require as _require  # the name the fixtures below (and others) use
from tests.testbed.runs import Run, reap_stale_runs

_RUN_KEY = pytest.StashKey[Run]()
_WORKER_INPUT = "branchline_testbed_run"
_SKIPPED: list[str] = []  # controller: "nodeid: reason" of skipped tests marked docker


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """Controller: reap runs of killed sessions, make this session's run. Worker: join the controller's run."""
    if _is_worker(config):
        directory, owner = config.workerinput[_WORKER_INPUT]  # type: ignore[attr-defined]
        config.stash[_RUN_KEY] = Run(Path(directory), int(owner))
        return
    reap_stale_runs()
    config.stash[_RUN_KEY] = Run.new()
    if getattr(config.option, "maxschedchunk", 0) is None:
        config.option.maxschedchunk = 1  # xdist hands tests out one at a time: see pytest_collection_modifyitems


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist (controller side): tell each worker which run directory to share."""
    run = node.config.stash[_RUN_KEY]  # type: ignore[attr-defined]
    node.workerinput[_WORKER_INPUT] = (str(run.directory), run.owner)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heaviest files first, so that xdist's two workers both start on the long tests (tests/testbed/ordering.py)."""
    items[:] = ordering.heaviest_files_first(
        items,
        file_of=lambda item: item.nodeid.split("::", 1)[0],
        weight_of=lambda item: ordering.weight(
            (mark.name for mark in item.iter_markers()), getattr(item, "fixturenames", ())
        ),
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Controller: remember skipped tests marked ``docker`` (xdist forwards workers' reports here)."""
    if report.skipped and "docker" in report.keywords:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append(f"{report.nodeid}: {reason}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Controller: write the skipped-docker report for .ci/run, then stop every service of the run."""
    if _is_worker(config):
        return
    report = os.environ.get("BRANCHLINE_SKIPPED_DOCKER_REPORT")
    if report:
        Path(report).write_text("".join(f"{line}\n" for line in _SKIPPED))
    config.stash[_RUN_KEY].shutdown()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line with the start-up times of the test bed services this session used."""
    timings = Testbed(config.stash[_RUN_KEY]).timings() if config.stash[_RUN_KEY].directory.exists() else {}
    if timings:
        terminalreporter.write_line(
            "test bed start-up (s): " + ", ".join(f"{name}={secs:.1f}" for name, secs in timings.items())
        )


@pytest.fixture(scope="session")
def testbed(pytestconfig: pytest.Config) -> Testbed:
    """The session's test bed (lazily started parts); for module/session fixtures that need a server."""
    return Testbed(pytestconfig.stash[_RUN_KEY])


def _aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point boto3 in this test's process at ``endpoint`` with moto's dummy credentials."""
    from tests.testbed.servers import TEST_CREDENTIALS

    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


@pytest.fixture
def moto_server(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> str:
    """Endpoint URL of moto (Batch without Docker: jobs succeed at once); sets AWS_* env for this test."""
    endpoint = _require(lambda: testbed.moto(docker=False))
    _aws_env(monkeypatch, endpoint)
    return endpoint


@pytest.fixture
def moto_server_docker(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> str:
    """Endpoint URL of moto whose Batch runs real containers on the test bed engine; sets AWS_* env."""
    endpoint = _require(lambda: testbed.moto(docker=True))
    _aws_env(monkeypatch, endpoint)
    return endpoint


@pytest.fixture
def docker_engine(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> str:
    """``DOCKER_HOST`` of the test bed engine (also set in this test's environment)."""
    docker_host = _require(lambda: testbed.docker_host)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    return docker_host


@pytest.fixture(scope="session")
def local_registry(testbed: Testbed) -> str:
    """``127.0.0.1:PORT`` of the local registry (no auth; the engine pushes to it without TLS)."""
    return _require(testbed.registry)


@pytest.fixture(scope="session")
def base_image(testbed: Testbed) -> str:
    """Tag of the base image (Debian bookworm minbase + python3 3.11, venv, pip) in the test bed engine."""
    return _require(testbed.base_image)


@pytest.fixture(scope="session")
def wheelhouse(testbed: Testbed) -> Path:
    """Directory of CPython 3.11 manylinux wheels for a step image's third-party requirements."""
    return testbed.wheelhouse()


@pytest.fixture(scope="session")
def mlflow_server(testbed: Testbed) -> str:
    """Tracking URI of a real ``mlflow server`` (sqlite backend, served local artifacts)."""
    return testbed.mlflow()


@pytest.fixture(scope="session")
def mlflow_auth_server(testbed: Testbed) -> dict[str, object]:
    """A real ``mlflow server --app-name basic-auth``: ``{"url", "users": {admin, production, branch: password}}``."""
    return _require(testbed.mlflow_auth)
