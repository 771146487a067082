"""Production never runs an image a pull request wrote, tried as an attacker would.

The attack (issue 8): anyone can compute the `deps-<hash>` tag production will look for, and the
pull-request role may push to the branch repository. So a "pull request" builds an image with its own
contents, pushes it under exactly that tag into the branch repository, and waits for the release. The
release must build its own image in the production repository and deploy that one by digest; a production
deploy handed the planted image must refuse it. Real Docker engine and registry (the test bed), AWS on moto,
`branchline ci release` and `branchline deploy` run as processes, as a workflow runs them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from branchline.aws.deploy.observe import job_definitions
from branchline.aws.session import client
from branchline.namespaces import Names, namespace_for_branch
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.standins import new_project
from tests.aws_deploy.test_project_moto import make_project
from tests.ci.conftest import GitHubServer, Project, git, infra, pr_env, protected_github, push_env, run_ci
from tests.images.tiny import build

__all__ = ["infra", "protected_github"]  # the fixtures: roles, queues and bucket on the moto server

pytestmark = pytest.mark.moto


def _project(root: Path, infra: Infra, registry: str, base: str) -> tuple[Project, str, str]:
    """A committed one-flow project whose step image is a tiny Dockerfile on the test bed's base image."""
    name = new_project()
    branch_repo, prod_repo = f"{registry}/{name}-branch", f"{registry}/{name}-prod"
    make_project(root, name, infra, production_image_repository=prod_repo)
    with (root / "pyproject.toml").open("a") as handle:
        handle.write(f'image_repository = "{branch_repo}"\n')
    (root / "Dockerfile").write_text(f"ARG BASE_IMAGE={base}\nFROM ${{BASE_IMAGE}}\nCOPY requirements.txt /opt/\n")
    (root / ".dockerignore").write_text("*\n!requirements.txt\n")
    (root / "requirements.txt").write_text("# what the release image holds\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return Project(root, name, git(root, "rev-parse", "HEAD"), infra), branch_repo, prod_repo


def _plant(docker_host: str, base: str, repository: str, tag: str) -> str:
    """What a pull request can do: build any image and push it to the branch repository under `tag`."""
    import docker

    engine = docker.DockerClient(base_url=docker_host)
    build(engine, f"FROM {base}\nRUN echo 'planted by a pull request' > /planted\n", tag=f"{repository}:{tag}")
    digest = None
    for event in engine.images.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in event, event
        digest = (event.get("aux") or {}).get("Digest") or digest
    assert digest
    return str(digest)


def _registry_digest(registry: str, repository: str, tag: str) -> str | None:
    """What the registry itself says `tag` is (v2 API); None when the tag does not exist."""
    import urllib.error
    import urllib.request

    name = repository.split("/", 1)[1]
    request = urllib.request.Request(f"http://{registry}/v2/{name}/manifests/{tag}", method="HEAD",
                                     headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.headers["Docker-Content-Digest"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _images_in(names: Names) -> set[str]:
    batch = client("batch")
    images = set()
    for found in job_definitions(client, names):
        described = batch.describe_job_definitions(jobDefinitions=[found.arn])["jobDefinitions"][0]
        images.add(described["containerProperties"]["image"])
    return images


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_a_planted_dependency_tag_never_reaches_production(
    tmp_path: Path, infra: Infra, docker_engine: str, local_registry: str, base_image: str,
    protected_github: GitHubServer,
) -> None:
    from branchline.images.publish import current_tag

    project, branch_repo, prod_repo = _project(tmp_path / "checkout", infra, local_registry, base_image)
    tag = current_tag(project.root)  # the tag production computes: anyone can
    planted = _plant(docker_engine, base_image, branch_repo, tag)

    # a branch deploy trusts its own repository: it reuses the planted image (that is the branch's business)
    pr = run_ci(project.root, pr_env(tmp_path / "pr", project, "feature/x"), "pr", "--no-comment")
    assert pr.returncode == 0, pr.stderr
    assert f"image: {branch_repo}@{planted} (reused: dependencies unchanged)" in pr.stderr
    assert _images_in(Names(project.name, namespace_for_branch("feature/x"))) == {f"{branch_repo}@{planted}"}

    # the release never looks at the branch repository: it builds its own image in the production one
    release = run_ci(project.root, push_env(tmp_path / "release", project, "main", api_url=protected_github.url),
                     "release")
    assert release.returncode == 0, release.stderr
    built = _registry_digest(local_registry, prod_repo, tag)
    assert built and built != planted
    assert f"building {prod_repo}:{tag}" in release.stderr
    assert f"image: {prod_repo}@{built} (built and pushed)" in release.stderr
    assert _images_in(Names(project.name, "prod")) == {f"{prod_repo}@{built}"}
    assert _registry_digest(local_registry, prod_repo, f"prod-{project.sha}") == built, "prod-<sha> kept for rollback"
    assert _registry_digest(local_registry, branch_repo, tag) == planted, "the branch repository is untouched"

    # a second release of a new commit reuses production's own image and tags it again
    git(project.root, "commit", "-q", "--allow-empty", "-m", "next")
    newer = Project(project.root, project.name, git(project.root, "rev-parse", "HEAD"), infra)
    again = run_ci(project.root, push_env(tmp_path / "again", newer, "main", api_url=protected_github.url),
                   "release")
    assert again.returncode == 0, again.stderr
    assert f"image: {prod_repo}@{built} (reused: dependencies unchanged)" in again.stderr
    assert _registry_digest(local_registry, prod_repo, f"prod-{newer.sha}") == built

    # by hand: a production deploy given the planted image is refused in one line, before any change
    before = _images_in(Names(project.name, "prod"))
    code = f"s3://{infra.bucket}/code.tgz"
    for image in (f"{branch_repo}@{planted}", f"{prod_repo}:{tag}"):
        refused = subprocess.run([sys.executable, "-m", "branchline.cli.main", "deploy", "--namespace", "prod",
                                  "--image", image, "--code-package", code], cwd=project.root, capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode == 1
        first = refused.stderr.splitlines()[0]
        assert first == f"error: production runs only images of {prod_repo} pinned by digest, not {image!r}", first
        assert "Traceback" not in refused.stderr
    assert _images_in(Names(project.name, "prod")) == before


def test_release_given_a_branch_image_is_refused(tmp_path: Path, infra: Infra, protected_github: GitHubServer) -> None:
    """`--image` does not bypass the rule: `ci release` checks it before tagging or deploying anything."""
    project, branch_repo, prod_repo = _project(tmp_path / "checkout", infra, "127.0.0.1:9", "scratch")
    image = f"{branch_repo}@sha256:{'a' * 64}"
    done = run_ci(project.root, push_env(tmp_path / "release", project, "main", api_url=protected_github.url),
                  "release", "--image", image)
    assert done.returncode == 1
    assert f"production runs only images of {prod_repo} pinned by digest, not {image!r}" in done.stderr
    assert not job_definitions(client, Names(project.name, "prod"))
