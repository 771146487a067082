"""The generated project's supply chain: nothing unpinned runs with credentials, the lock is complete and hashed.

Credentialed jobs (any job that may ask for an OIDC token) install only the hashed lock, then the project and
its platform at the pinned commit with `--no-index`. The lock shipped with the template must cover the
platform's requirements (with the extras the project installs) and requirements.in, every pin with hashes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

from tests.template.rendering import REPO_ROOT, TEMPLATE_DIR_NAME

EXTRAS = ("aws", "tracking", "checks", "images")
LOCK_INSTALL = "python -m pip install --require-hashes --no-deps --requirement requirements.txt"
PROJECT_INSTALL = "python -m pip install --no-index --no-build-isolation ."
ENVIRONMENT = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.0",
               "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}


def locked(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every pin in a pip-compile lock."""
    pins: dict[str, tuple[str, int]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text(encoding="utf-8")):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", entry)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1).lower())] = (match.group(2), entry.count("--hash=sha256:"))
    return pins


def test_credentialed_jobs_install_nothing_unpinned(default_project: Path) -> None:
    for workflow in sorted((default_project / ".github" / "workflows").glob("*.yml")):
        for name, job in yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"].items():
            if job.get("permissions", {}).get("id-token") != "write":
                continue
            commands = [line.strip() for step in job["steps"] for line in step.get("run", "").splitlines()]
            installs = [line for line in commands if " pip " in f" {line} " or line.startswith(("pip", "uv "))]
            assert installs == [LOCK_INSTALL, PROJECT_INSTALL], f"{workflow.name}:{name}"


def test_the_lock_pins_everything_with_hashes_and_leaves_the_platform_out() -> None:
    lock = REPO_ROOT / TEMPLATE_DIR_NAME / "requirements.txt"
    pins = locked(lock)
    assert len(pins) > 50 and all(hashes >= 1 for _, hashes in pins.values())
    assert "branchline" not in pins, "pip cannot hash the platform's git checkout: CI installs it after the lock"
    assert {"setuptools", "wheel", "hatchling"} <= set(pins), "build backends, for --no-build-isolation"
    header = lock.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "pip-compile --generate-hashes" in header and "--unsafe-package=branchline" in header
    assert not re.search(r"(?m)^-", lock.read_text(encoding="utf-8")), "no index or find-links of this machine"


def test_the_lock_covers_the_platform_and_the_project_inputs() -> None:
    """Every requirement (the platform's, with the project's extras, and requirements.in's) is locked to a
    version it allows: run scripts/lock_template.py when this fails."""
    pins = locked(REPO_ROOT / TEMPLATE_DIR_NAME / "requirements.txt")
    platform = tomllib.loads((REPO_ROOT / "platform" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = [*platform["dependencies"], *(req for extra in EXTRAS for req in platform["optional-dependencies"][extra])]
    inputs = (REPO_ROOT / TEMPLATE_DIR_NAME / "requirements.in").read_text(encoding="utf-8").splitlines()
    lines += [line for line in inputs if line and not line.startswith(("#", "{{"))]
    for line in lines:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate(ENVIRONMENT):
            continue
        name = re.sub(r"[-_.]+", "-", requirement.name.lower())
        assert name in pins, f"{line}: not in the lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), f"{line}: locked {pins[name][0]}"


def test_the_generated_projects_own_check_passes_and_can_fail(default_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(default_project, project, ignore=shutil.ignore_patterns(".git"))

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_supply_chain.py"], cwd=project, capture_output=True, text=True,
                              timeout=120, check=False)

    done = check()
    assert done.returncode == 0, done.stdout + done.stderr
    watched = project / ".github" / "base-image" / "Dockerfile"
    moved = re.sub(r"@sha256:[0-9a-f]{64}", "@sha256:" + "0" * 64, watched.read_text(encoding="utf-8"))
    watched.write_text(moved, encoding="utf-8")  # what a Dependabot pull request does
    done = check()
    assert done.returncode == 1 and "copy the base image Dependabot proposed into the Dockerfile" in done.stdout


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_every_python_version_gets_a_digest_pinned_base(version: str) -> None:
    import json

    images = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))["_base_images"]
    assert re.fullmatch(rf"python:{version}-slim@sha256:[0-9a-f]{{64}}", images[version])
