"""The step image a CI deploy uses when it builds nothing (`--skip-image`), looked up in ECR on moto.

Branches look in `image_repository`; production only ever in `production_image_repository`, so a tag a
pull request planted in the branch repository is never found by a release.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from branchline.aws.session import client, reset_clients
from branchline.ci.context import CIError
from branchline.ci.inputs import choose_image
from branchline.config import Config
from branchline.images.publish import current_tag

pytestmark = pytest.mark.moto

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                  "digest": "sha256:" + "c" * 64}, "layers": []})


def test_skip_image_finds_the_current_dependency_tag_or_says_what_to_do(moto_server: str, tmp_path: Path) -> None:
    reset_clients()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    name = f"steps-{tmp_path.name[-12:].lower().replace('_', '-')}"
    repo = client("ecr").create_repository(repositoryName=name)["repository"]["repositoryUri"]
    config = Config(tmp_path, {"aws": {"image_repository": repo}})
    log: list[str] = []

    with pytest.raises(CIError, match=r"--skip-image: .*:deps-[0-9a-f]{16} does not exist"):
        choose_image(config, image=None, skip_image=True, log=log.append)
    pushed = client("ecr").put_image(repositoryName=name, imageManifest=MANIFEST,
                                     imageTag=current_tag(tmp_path))["image"]["imageId"]["imageDigest"]
    found = choose_image(config, image=None, skip_image=True, log=log.append)
    assert found.reference == f"{repo}@{pushed}"
    assert found.source.startswith("existing deps-")

    (tmp_path / "Dockerfile").write_text("FROM scratch\nRUN true\n")  # new dependencies: that image is stale
    with pytest.raises(CIError, match="does not exist"):
        choose_image(config, image=None, skip_image=True, log=log.append)
    with pytest.raises(CIError, match="exclude each other"):
        choose_image(config, image=found.reference, skip_image=True, log=log.append)
    assert choose_image(config, image=found.reference, skip_image=False, log=log.append).source == "given"
    assert log == []


def _repository(name: str) -> str:
    return str(client("ecr").create_repository(repositoryName=name)["repository"]["repositoryUri"])


def test_production_looks_only_in_the_production_repository(moto_server: str, tmp_path: Path) -> None:
    reset_clients()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    suffix = tmp_path.name[-12:].lower().replace("_", "-")
    branch, prod = _repository(f"branch-{suffix}"), _repository(f"prod-{suffix}")
    config = Config(tmp_path, {"aws": {"image_repository": branch, "production_image_repository": prod}})
    tag = current_tag(tmp_path)
    # a pull request pushes an image under the very tag production computes, into the branch repository
    planted = client("ecr").put_image(repositoryName=f"branch-{suffix}", imageManifest=MANIFEST,
                                      imageTag=tag)["image"]["imageId"]["imageDigest"]
    assert choose_image(config, image=None, skip_image=True, log=print).reference == f"{branch}@{planted}"
    with pytest.raises(CIError, match=rf"--skip-image: {prod}:{tag} does not exist"):
        choose_image(config, image=None, skip_image=True, log=print, production=True)

    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
             "digest": "sha256:" + "d" * 64}
    released = json.dumps({**json.loads(MANIFEST), "layers": [layer]})  # moto digests a manifest by its layers
    own = client("ecr").put_image(repositoryName=f"prod-{suffix}", imageManifest=released,
                                  imageTag=tag)["image"]["imageId"]["imageDigest"]
    found = choose_image(config, image=None, skip_image=True, log=print, production=True)
    assert found.reference == f"{prod}@{own}" and own != planted


def test_production_needs_its_own_repository(moto_server: str, tmp_path: Path) -> None:
    from branchline.aws.deploy.settings import aws_settings
    from branchline.errors import ConfigError

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    roles = {"states_role_arn": "arn:aws:iam::123456789012:role/s", "job_role_arn": "arn:aws:iam::123456789012:role/j",
             "job_queue": "q", "bucket": "b"}
    missing = Config(tmp_path, {"aws": {**roles, "image_repository": "r.example/branch"}})
    with pytest.raises(ConfigError, match=r"missing setting tool\.branchline\.aws\.production_image_repository"):
        choose_image(missing, image=None, skip_image=True, log=print, production=True)
    shared = Config(tmp_path, {"aws": {**roles, "image_repository": "r.example/x", "production_image_repository":
                                       "r.example/x/"}})
    with pytest.raises(ConfigError, match="production_image_repository is the branch repository"):
        aws_settings(shared)
