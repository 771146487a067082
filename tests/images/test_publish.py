"""`branchline image publish`: tag by dependency hash, skip when the registry has it, reference by digest.

The hash tests are pure (files in a temporary directory). The publish tests use the test bed's real Docker
engine and registry with a tiny Dockerfile on the test bed's base image, so each build takes seconds: what is
under test is `publish()`'s decisions and what the registry ends up holding, not the template's Dockerfile
(the end-to-end test builds that one).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from branchline.errors import ServiceUnreachable
from branchline.images.publish import ImageError, current_tag, dependency_hash, image_tag, publish
from tests.testbed.procs import free_port

# Pinned by digest: the hash needs no registry to resolve it (builds pass the test bed's base instead).
DOCKERFILE = (
    "ARG BASE_IMAGE=python:3.11-slim@sha256:" + "e" * 64 + "\n"
    "FROM ${BASE_IMAGE}\nCOPY requirements.txt /opt/requirements.txt\n"
)


def make_project(root: Path) -> Path:
    """A project with a Dockerfile, its dependency file and some flow code (which must not matter)."""
    (root / "flows").mkdir(parents=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / ".dockerignore").write_text("*\n!requirements.txt\n")
    (root / "requirements.txt").write_text("branchline[aws]\n")
    (root / "flows" / "train.py").write_text("print('v1')\n")
    return root


# ---------------------------------------------------------------- the dependency hash (pure)
def test_flow_code_does_not_change_the_tag(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    before = dependency_hash(project)
    (project / "flows" / "train.py").write_text("print('v2')\n")
    (project / "flows" / "new.py").write_text("x = 1\n")
    assert dependency_hash(project) == before


@pytest.mark.parametrize("name", ["Dockerfile", "requirements.txt", ".dockerignore"])
def test_each_dependency_file_changes_the_tag(tmp_path: Path, name: str) -> None:
    project = make_project(tmp_path)
    before = dependency_hash(project)
    with (project / name).open("a") as handle:
        handle.write("\n# changed\n")
    assert dependency_hash(project) != before


def test_a_new_lock_file_and_build_args_change_the_tag(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    before = dependency_hash(project)
    assert dependency_hash(project, extra={"BASE_IMAGE": "a"}) != dependency_hash(project, extra={"BASE_IMAGE": "b"})
    (project / "requirements.lock").write_text("boto3==1.0\n")
    assert dependency_hash(project) != before


def test_the_platform_version_is_part_of_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import branchline

    project = make_project(tmp_path)
    before = dependency_hash(project)
    monkeypatch.setattr(branchline, "__version__", "999.0.0")
    assert dependency_hash(project) != before


def test_tag_is_deps_and_a_short_hash(tmp_path: Path) -> None:
    value = dependency_hash(make_project(tmp_path))
    assert image_tag(value) == f"deps-{value[:16]}"


def test_no_dockerfile_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no Dockerfile in"):
        dependency_hash(tmp_path)


# ---------------------------------------------------------------- publish against the real engine + registry
def _manifest_digest(registry: str, repository: str, tag: str) -> str:
    """What the registry itself says the tag's manifest digest is (registry v2 API)."""
    name = repository.split("/", 1)[1]
    request = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        method="HEAD",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def _tags(registry: str, repository: str) -> list[str]:
    name = repository.split("/", 1)[1]
    with urllib.request.urlopen(f"http://{registry}/v2/{name}/tags/list", timeout=10) as response:
        return sorted(json.load(response)["tags"])


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_publish_cold_then_warm_then_after_a_dependency_change(
    tmp_path: Path, docker_engine: str, local_registry: str, base_image: str
) -> None:
    project = make_project(tmp_path / "project")
    repository = f"{local_registry}/publish-{tmp_path.name.lower()[-12:]}"
    args = {"BASE_IMAGE": base_image}
    lines: list[str] = []

    cold = publish(project, repository, build_args=args, log=lines.append)
    assert cold.built
    assert cold.tag == current_tag(project, args)
    assert cold.reference == f"{repository}@{cold.digest}" and cold.digest.startswith("sha256:")
    assert _manifest_digest(local_registry, repository, cold.tag) == cold.digest, "pushed digest != registry's"
    assert any(line.startswith(f"pushed {repository}@sha256:") for line in lines), lines

    lines.clear()
    warm = publish(project, repository, build_args=args, log=lines.append)
    assert not warm.built and (warm.tag, warm.digest) == (cold.tag, cold.digest)
    assert lines == [f"{repository}:{cold.tag} already in the registry: no build"]

    (project / "flows" / "train.py").write_text("print('v2')\n")
    assert not publish(project, repository, build_args=args).built, "flow code alone must not rebuild"

    (project / "requirements.txt").write_text("branchline[aws]\npandas>=2\n")
    changed = publish(project, repository, build_args=args)
    assert changed.built and changed.tag != cold.tag
    assert _tags(local_registry, repository) == sorted([cold.tag, changed.tag])

    forced = publish(project, repository, build_args=args, force=True)
    assert forced.built and forced.tag == changed.tag


@pytest.mark.docker
def test_unreachable_registry_is_one_clear_error(tmp_path: Path, docker_engine: str) -> None:
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnreachable) as caught:
        publish(make_project(tmp_path), f"{host}/nothing-listens-here")
    text = str(caught.value)
    assert text.startswith(f"the image registry {host} did not answer for {host}/nothing-listens-here:deps-"), text
    assert f"hint: check that the registry at {host} is running" in text, text


def test_unreachable_docker_engine_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(ServiceUnreachable, match="cannot reach the Docker engine") as caught:
        publish(make_project(tmp_path / "project"), "127.0.0.1:5000/x")
    assert "DOCKER_HOST" in str(caught.value)


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_failing_build_names_the_image_and_shows_the_log_tail(
    tmp_path: Path, docker_engine: str, local_registry: str, base_image: str
) -> None:
    project = make_project(tmp_path)
    (project / "Dockerfile").write_text(DOCKERFILE + "RUN echo about-to-fail && false\n")
    with pytest.raises(ImageError) as caught:
        publish(project, f"{local_registry}/broken", build_args={"BASE_IMAGE": base_image})
    text = str(caught.value)
    assert text.startswith(f"docker build of {local_registry}/broken:deps-") and "about-to-fail" in text, text
