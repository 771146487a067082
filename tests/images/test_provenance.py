"""The dependency hash covers the platform's exact revision and the base image's digest.

Pins are parsed and compared without I/O; the base image is resolved by the test bed's real Docker engine,
where moving a tag to another image must give another `deps-` tag.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from branchline.images.base import BaseImageError, base_image, pinned_digest
from branchline.images.platform import (
    PlatformError,
    check_pin,
    installed_revision,
    pinned_requirement,
    requirement_revision,
    tree_digest,
    url_revision,
)
from branchline.images.publish import current_tag, dependency_hash, hash_inputs
from tests.images.tiny import build
from tests.template.rendering import REPO_ROOT

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "f" * 64


def _project(root: Path, dockerfile: str = f"ARG BASE_IMAGE=python:3.11-slim@{DIGEST}\nFROM ${{BASE_IMAGE}}\n",
             pin: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    if pin is not None:
        (root / "requirements.in").write_text(f"# inputs of the lock\n{pin}\nscikit-learn>=1.4\n")
    return root


# ---------------------------------------------------------------- what a pin names (pure)
@pytest.mark.parametrize(("url", "expected"), [
    (f"git+https://github.com/o/branchline@{COMMIT}#subdirectory=platform", f"git:{COMMIT}"),
    (f"git+ssh://git@github.com/o/branchline@{COMMIT}", f"git:{COMMIT}"),
    ("git+https://github.com/o/branchline@main#subdirectory=platform", None),
    ("git+https://github.com/o/branchline@v1.2.0#subdirectory=platform", None),  # tags move
    ("git+https://github.com/o/branchline#subdirectory=platform", None),
    (f"https://example.invalid/branchline-0.1.0-py3-none-any.whl#sha256={'a' * 64}", f"sha256:{'a' * 64}"),
    ("https://example.invalid/branchline-0.1.0-py3-none-any.whl", None),
])
def test_only_exact_revisions_count_as_pinned(url: str, expected: str | None) -> None:
    assert url_revision(url) == expected


def test_versions_are_pinned_only_when_exact(tmp_path: Path) -> None:
    assert requirement_revision(pinned_requirement(_project(tmp_path / "a", pin="branchline==0.3.1"))) == (
        "version:0.3.1")
    for loose in ("branchline>=0.3", "branchline==0.*", "branchline"):
        assert requirement_revision(pinned_requirement(_project(tmp_path / "b", pin=loose))) is None


def test_a_local_tree_is_pinned_by_its_content(tmp_path: Path) -> None:
    tree = tmp_path / "platform"
    (tree / "src" / "__pycache__").mkdir(parents=True)
    (tree / "src" / "m.py").write_text("x = 1\n")
    before = url_revision(tree.as_uri())
    assert before == tree_digest(tree) and before.startswith("tree:")
    (tree / "src" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"cache")
    assert url_revision(tree.as_uri()) == before, "caches are not source"
    (tree / "src" / "m.py").write_text("x = 2\n")
    assert url_revision(tree.as_uri()) != before


def test_the_installed_platform_is_this_checkout() -> None:
    """The test venv installs platform/ in editable mode (PEP 610 dir_info): its revision is the tree's."""
    assert installed_revision() == tree_digest(REPO_ROOT / "platform")


def test_an_unpinned_platform_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, pin="branchline @ git+https://github.com/o/branchline@main#subdirectory=platform")
    with pytest.raises(PlatformError, match="is not pinned to an exact revision") as caught:
        hash_inputs(project)
    assert "40-hex commit" in str(caught.value)


def test_an_installed_platform_other_than_the_pin_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other-platform"
    other.mkdir()
    (other / "pyproject.toml").write_text("[project]\nname = 'branchline'\n")
    project = _project(tmp_path / "p", pin=f"branchline[aws] @ {other.as_uri()}")
    with pytest.raises(PlatformError, match=r"installed branchline \(tree:.*\) is not the one requirements.in pins"):
        check_pin(project, installed_revision())
    # the same kind of pin naming what is installed passes, and is part of the hash inputs
    same = _project(tmp_path / "q", pin=f"branchline[aws] @ {(REPO_ROOT / 'platform').as_uri()}")
    assert hash_inputs(same)["@platform-pin"] == installed_revision()
    # kinds that cannot be compared (a commit pin, an editable checkout) are not refused
    assert check_pin(_project(tmp_path / "r", pin=f"branchline @ git+https://x.invalid/b@{COMMIT}"),
                     installed_revision()) == f"git:{COMMIT}"


def test_platform_revision_and_base_digest_change_the_tag(tmp_path: Path) -> None:
    project = _project(tmp_path)
    inputs = hash_inputs(project)
    assert inputs["@platform"] == installed_revision() and inputs["@base-image"] == DIGEST
    baseline = dependency_hash(project, extra=inputs)
    assert dependency_hash(project, extra={**inputs, "@platform": f"git:{COMMIT}"}) != baseline
    assert dependency_hash(project, extra={**inputs, "@base-image": "sha256:" + "0" * 64}) != baseline
    # a build argument cannot pose as one of them: theirs start with '@'
    assert dependency_hash(project, extra={**inputs, "platform": "x"}) != baseline


# ---------------------------------------------------------------- the base image
def test_base_image_is_the_build_arg_else_the_arg_default_else_the_first_from(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert base_image(project) == f"python:3.11-slim@{DIGEST}"
    assert base_image(project, {"BASE_IMAGE": "mirror.invalid/python:3.11"}) == "mirror.invalid/python:3.11"
    (project / "Dockerfile").write_text("FROM debian:bookworm AS a\nFROM a\n")
    assert base_image(project) == "debian:bookworm"
    (project / "Dockerfile").write_text("FROM scratch\n")
    assert base_image(project) is None
    assert pinned_digest(f"python:3.11-slim@{DIGEST}") == DIGEST and pinned_digest("python:3.11-slim") is None


def _image(engine: object, base: str, marker: str) -> str:
    """A tiny local image on `base` (content differs by `marker`); its id."""
    return str(build(engine, f"FROM {base}\nLABEL marker={marker}\n").id)


@pytest.mark.docker
def test_a_moved_base_tag_changes_the_tag(tmp_path: Path, docker_engine: str, base_image: str) -> None:
    import docker

    engine = docker.DockerClient(base_url=docker_engine)
    name = f"moving-base-{uuid.uuid4().hex[:10]}"
    first, second = _image(engine, base_image, "one"), _image(engine, base_image, "two")
    project = _project(tmp_path, dockerfile=f"ARG BASE_IMAGE={name}:latest\nFROM ${{BASE_IMAGE}}\n")
    try:
        engine.images.get(first).tag(name, "latest")
        before = current_tag(project, docker_client=engine)
        assert hash_inputs(project, docker_client=engine)["@base-image"] == first
        engine.images.get(second).tag(name, "latest")  # the tag moved: same Dockerfile, another base
        assert current_tag(project, docker_client=engine) != before
    finally:
        engine.images.remove(f"{name}:latest", force=True)
    with pytest.raises(BaseImageError, match=f"the base image {name}:latest is not on the Docker engine"):
        current_tag(project, docker_client=engine)
