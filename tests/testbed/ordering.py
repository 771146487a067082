"""The order in which the suite's tests are handed to the xdist workers: heaviest files first.

With two workers, the suite's wall time is set by its few long tests (image builds, the generated project's
tox run, the end-to-end path). Handed out last, two of them can end up back to back on one worker while the
other idles; handed out first (one test at a time: xdist's ``--maxschedchunk=1``, set by tests/conftest.py),
both workers start on them and the hundreds of sub-second tests fill in around them. Files stay whole, so a
module-scoped fixture is not torn down and set up again in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

# Fixtures that start a server of the test bed (tests/conftest.py).
DOCKER_FIXTURES = frozenset({"docker_engine", "base_image", "local_registry", "moto_server_docker"})
SERVER_FIXTURES = frozenset({"moto_server", "mlflow_server", "testbed"})


def weight(markers: Iterable[str], fixtures: Iterable[str]) -> int:
    """How heavy a test is likely to be: 3 ``slow``, 2 needs Docker, 1 needs a server, 0 the rest."""
    markers, fixtures = set(markers), set(fixtures)
    if "slow" in markers:
        return 3
    if "docker" in markers or fixtures & DOCKER_FIXTURES:
        return 2
    if markers & {"moto", "mlflow"} or fixtures & SERVER_FIXTURES:
        return 1
    return 0


def heaviest_files_first(items: Sequence[T], file_of: Callable[[T], str], weight_of: Callable[[T], int]) -> list[T]:
    """``items`` regrouped by file, files by their heaviest test (descending), otherwise in the given order."""
    files: dict[str, list[T]] = {}
    for item in items:
        files.setdefault(file_of(item), []).append(item)
    heaviest = {name: max(weight_of(item) for item in group) for name, group in files.items()}
    ordered = sorted(files, key=lambda name: -heaviest[name])  # stable: ties keep the collection order
    return [item for name in ordered for item in files[name]]
