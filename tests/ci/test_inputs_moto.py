"""The step image a CI deploy uses when it builds nothing (`--skip-image`), looked up in ECR on moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from branchline.aws.session import client, reset_clients
from branchline.ci.context import CIError
from branchline.ci.inputs import choose_image
from branchline.config import Config
from branchline.images.publish import dependency_hash, image_tag

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
                                     imageTag=image_tag(dependency_hash(tmp_path)))["image"]["imageId"]["imageDigest"]
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
