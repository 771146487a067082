"""Fixtures of the `branchline ci` tests: a project in a real git repo, the AWS infra on moto, a fake GitHub.

What a runner would set is built by `runner_env` (the `GITHUB_*` variables and the event file), and the
commands run as a real process (`python -m branchline.cli.main ci ...`) in the project's checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.aws_deploy.conftest import Infra, _create_infra
from tests.aws_deploy.standins import new_project
from tests.aws_deploy.test_project_moto import make_project
from tests.ci.fake_github import FakeGitHub, GitHubServer

IMAGE = "127.0.0.1:5000/steps@sha256:" + "b" * 64
HOSTILE = 'zzz";echo${IFS}"hi";#'
REPOSITORY = "acme/churn"
TOKEN = "ghs_test_token"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    sha: str
    infra: Infra
    prod_image: str = ""
    """An image in the project's production repository (moto ECR), by digest: what a release may deploy."""


@pytest.fixture
def infra(moto_server: str) -> Iterator[Infra]:
    """Roles, queues and bucket on the shared moto server (the deployer tests' helper)."""
    from branchline.aws.session import reset_clients

    reset_clients()
    yield _create_infra(moto_server)
    reset_clients()


@pytest.fixture
def project(tmp_path: Path, infra: Infra) -> Project:
    """A one-flow project with smoke settings and a gate table, committed on `main` in a git repo."""
    name = new_project()
    prod_image = production_image(f"{name}-prod")
    root = make_project(tmp_path / "checkout", name, infra, production_image_repository=prod_image.split("@")[0])
    with (root / "pyproject.toml").open("a") as handle:
        handle.write(textwrap.dedent("""
            [tool.branchline.ci]
            smoke_params = { alpha = 0.125, epochs = 1 }
            smoke_timeout = 120

            [tool.branchline.gates.TrainFlow]
            model = "trainflow"
            thresholds = { accuracy = ">= 0.5" }
        """))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return Project(root, name, git(root, "rev-parse", "HEAD"), infra, prod_image)


MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                       "digest": "sha256:" + "c" * 64}, "layers": []}


def production_image(repository: str, marker: str = "release") -> str:
    """An image manifest pushed to a new moto ECR repository; its digest reference."""
    from branchline.aws.session import client

    ecr = client("ecr")
    created = ecr.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")
    uri = created["repository"]["repositoryUri"]
    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
             "digest": "sha256:" + hashlib.sha256(marker.encode()).hexdigest()}
    manifest = json.dumps({**MANIFEST, "layers": [layer]})  # moto digests a manifest by its layers
    digest = ecr.put_image(repositoryName=repository, imageManifest=manifest,
                           imageTag="deps-0000000000000000")["image"]["imageId"]["imageDigest"]
    return f"{uri}@{digest}"


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    with GitHubServer(FakeGitHub(REPOSITORY, TOKEN)) as server:
        yield server


@pytest.fixture
def protected_github() -> Iterator[GitHubServer]:
    """The stand-in with every one-time GitHub setting of docs/infra.md in place (production on main only)."""
    fake = FakeGitHub(REPOSITORY, TOKEN)
    fake.production_as_documented("main")
    with GitHubServer(fake) as server:
        yield server


def runner_env(tmp: Path, event_name: str, event: dict[str, Any], **variables: str) -> dict[str, str]:
    """The environment a runner gives a step: ours (AWS from moto) minus any real GITHUB_*, plus these."""
    tmp.mkdir(parents=True, exist_ok=True)
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_RUN_ID": "4242", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_OUTPUT": str(tmp / "output"), "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
    })
    env.update(variables)
    return env


def pr_env(tmp: Path, project: Project, branch: str, *, number: int = 7, action: str = "synchronize",
           api_url: str = "", head: str = "main") -> dict[str, str]:
    """A `pull_request` job of PR `number` from `branch` (GITHUB_SHA is the merge commit that was checked out)."""
    event = {"action": action, "number": number,
             "pull_request": {"number": number, "head": {"ref": branch, "sha": "f" * 40},
                              "base": {"ref": head, "sha": project.sha}}}
    extra = {"GITHUB_API_URL": api_url, "GITHUB_TOKEN": TOKEN} if api_url else {}
    return runner_env(tmp, "pull_request", event, GITHUB_HEAD_REF=branch, GITHUB_BASE_REF=head,
                      GITHUB_REF=f"refs/pull/{number}/merge", GITHUB_SHA=project.sha, **extra)


def push_env(tmp: Path, project: Project, branch: str, *, api_url: str = "") -> dict[str, str]:
    """A `push` job on `branch`; with `api_url`, the job token and the (fake) GitHub API it reads settings from."""
    event = {"ref": f"refs/heads/{branch}", "after": project.sha}
    extra = {"GITHUB_API_URL": api_url, "GITHUB_TOKEN": TOKEN} if api_url else {}
    return runner_env(tmp, "push", event, GITHUB_REF=f"refs/heads/{branch}", GITHUB_REF_NAME=branch,
                      GITHUB_SHA=project.sha, **extra)


def run_ci(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`branchline ci ...` as a runner step would run it, in the checkout."""
    return subprocess.run([sys.executable, "-m", "branchline.cli.main", "ci", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
