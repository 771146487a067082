"""What `make test` does around the tests: the virtualenv's stamp, the test bed's set-up, the order of the tests.

The set-up scripts run for real here (the `nobody` user plays a contributor without root); the Makefile's stamp
logic is checked with `make -n` in a copy of the files it hashes, so no virtualenv is installed by these tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testbed import ordering

REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534
SETPRIV = shutil.which("setpriv")


def as_nobody(*argv: str, path: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the unprivileged user ``nobody`` with ``PATH=path``."""
    assert SETPRIV, "setpriv (util-linux) is needed to drop root"
    return subprocess.run(
        [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "env", "-i", f"PATH={path}", *argv],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A scratch directory ``nobody`` can read (pytest's tmp_path and a fresh clone may be private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="branchline-make-test-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def scripts_copy(directory: Path) -> Path:
    """The set-up scripts, copied into ``directory`` as ``repo/scripts/testbed``."""
    target = directory / "repo" / "scripts" / "testbed"
    shutil.copytree(REPO / "scripts" / "testbed", target)
    return target


def bare_path(directory: Path, *tools: str) -> str:
    """A PATH directory in ``directory`` holding only ``tools`` (links to this machine's), e.g. to hide node."""
    path = directory / "bin"
    path.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found, f"{tool} not found"
        (path / tool).symlink_to(found)
    return str(path)


# --- the test bed's set-up (scripts/testbed/setup.sh, install.sh) ----------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="plays a user without root by dropping root")
def test_without_root_setup_says_what_it_cannot_do_in_one_line_and_lets_the_tests_run(public_dir: Path) -> None:
    path = bare_path(public_dir, "bash", "id", "dpkg-query")  # no node, no npm on this PATH
    done = as_nobody("bash", str(scripts_copy(public_dir) / "setup.sh"), path=path)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("testbed: not root, so the Docker engine cannot start and ")
    assert "nodejs, npm, chromium cannot be installed" in lines[0]  # chromium: tests/review
    assert "sudo make test" in lines[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="plays a user without root by dropping root")
def test_install_refuses_without_root_naming_the_packages(public_dir: Path) -> None:
    path = bare_path(public_dir, "bash", "id", "dpkg-query")
    done = as_nobody("bash", str(scripts_copy(public_dir) / "install.sh"), path=path)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line: what is missing, how to get it
    assert "nodejs npm chromium" in done.stderr and "sudo make testbed" in done.stderr


def test_install_check_lists_node_and_npm_only_when_they_are_absent(tmp_path: Path) -> None:
    hidden = bare_path(tmp_path, "bash", "id", "dpkg-query")
    without = subprocess.run(
        ["bash", str(REPO / "scripts/testbed/install.sh"), "--check"],
        env={"PATH": hidden},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert {"nodejs", "npm"} <= set(without)
    assert set(without) <= {"docker.io", "docker-registry", "debootstrap", "nodejs", "npm", "chromium"}
    if shutil.which("node") and shutil.which("npm"):
        visible = subprocess.run(
            ["bash", str(REPO / "scripts/testbed/install.sh"), "--check"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert "nodejs" not in visible and "npm" not in visible


@pytest.mark.skipif(os.geteuid() != 0, reason="the set-up installs packages only as root")
def test_setup_is_silent_when_everything_is_there() -> None:
    """What `make test` runs before every session: once the test bed is in place, it prints nothing."""
    setup = ["bash", str(REPO / "scripts/testbed/setup.sh")]
    first = subprocess.run(setup, capture_output=True, text=True, timeout=900, check=False)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(setup, capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout == again.stderr == ""


# --- the virtualenv's stamp (Makefile) --------------------------------------------------------------------------


@pytest.fixture
def make_copy(tmp_path: Path) -> Path:
    """The Makefile and the files its stamp hashes, in a scratch directory with a venv stamp that is up to date."""
    for name in ("Makefile", "requirements-dev.txt", "platform/pyproject.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tmp_path / name)
    print_stamp = "print-stamp:\n\t@echo $(STAMP)\n"
    stamp = tmp_path / make(tmp_path, "-f", "Makefile", "-f", "-", "print-stamp", stdin=print_stamp)
    stamp.parent.mkdir(parents=True)
    stamp.touch()
    return tmp_path


def make(directory: Path, *args: str, stdin: str | None = None) -> str:
    """The output of ``make ARGS`` in ``directory``."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(directory), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def make_dry_run(directory: Path, target: str) -> str:
    """What ``make TARGET`` would run in ``directory`` (``make -n``)."""
    return make(directory, "-n", target)


def test_venv_is_not_reinstalled_when_nothing_changed_or_only_mtimes(make_copy: Path) -> None:
    assert "venv.sh" not in make_dry_run(make_copy, "venv")
    future = (make_copy / ".venv").stat().st_mtime + 3600
    for name in ("requirements-dev.txt", "platform/pyproject.toml"):
        os.utime(make_copy / name, (future, future))  # as a checkout or a rebase leaves them
    assert "venv.sh" not in make_dry_run(make_copy, "venv")


@pytest.mark.parametrize("changed", ["requirements-dev.txt", "platform/pyproject.toml"])
def test_venv_is_updated_when_what_it_installs_changes(make_copy: Path, changed: str) -> None:
    with (make_copy / changed).open("a") as f:
        f.write("\n# a change\n")
    assert "scripts/testbed/venv.sh" in make_dry_run(make_copy, "venv")


# --- the order the tests are handed to the workers (tests/testbed/ordering.py) -----------------------------------


def test_weight_ranks_slow_then_docker_then_servers_then_the_rest() -> None:
    assert ordering.weight(["slow", "mlflow"], []) == 3
    assert ordering.weight(["docker"], []) == 2
    assert ordering.weight([], ["tmp_path", "base_image"]) == 2
    assert ordering.weight(["moto"], []) == ordering.weight([], ["mlflow_server"]) == 1
    assert ordering.weight(["parametrize"], ["tmp_path", "monkeypatch"]) == 0


def test_heaviest_files_come_first_and_stay_whole() -> None:
    items = [("a.py", 0), ("b.py", 1), ("a.py", 0), ("c.py", 3), ("b.py", 0), ("d.py", 1), ("c.py", 0)]
    ordered = ordering.heaviest_files_first(items, file_of=lambda i: i[0], weight_of=lambda i: i[1])
    assert ordered == [("c.py", 3), ("c.py", 0), ("b.py", 1), ("b.py", 0), ("d.py", 1), ("a.py", 0), ("a.py", 0)]
    assert sorted(ordered) == sorted(items)  # a permutation: nothing lost, nothing twice
