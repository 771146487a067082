"""Code packages are reproducible (same content, same bytes) and uploaded once."""

from __future__ import annotations

import subprocess
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest

from branchline.images.codepkg import CodePackageError, build_code_package, upload


def _git_project(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "f.py").write_text("print('flow')\n")
    (root / "pyproject.toml").write_text("[tool.branchline]\nproject = 'p'\n")
    (root / "notes.txt").write_text("untracked\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "flows", "pyproject.toml"], cwd=root, check=True)
    return root


def test_same_content_gives_same_bytes_whatever_the_times(tmp_path):
    first = build_code_package(_git_project(tmp_path / "a"))
    second_root = _git_project(tmp_path / "b")
    (second_root / "flows" / "f.py").touch()  # another mtime, same content
    second = build_code_package(second_root)
    assert first.data == second.data and first.sha == second.sha
    assert first.files == ("flows/f.py", "pyproject.toml")  # untracked notes.txt left out


def test_changed_code_changes_the_hash_and_includes_are_packed(tmp_path):
    root = _git_project(tmp_path / "a")
    before = build_code_package(root)
    (root / "flows" / "f.py").write_text("print('changed')\n")
    assert build_code_package(root).sha != before.sha
    with_notes = build_code_package(root, include=["notes.txt"])
    assert "notes.txt" in with_notes.files
    with pytest.raises(CodePackageError, match="no such file"):
        build_code_package(root, include=["missing.txt"])


def test_outside_git_is_a_clear_error(tmp_path):
    with pytest.raises(CodePackageError, match="cannot list the project's files with git"):
        build_code_package(tmp_path)


def test_unpacks_to_the_same_tree(tmp_path):
    package = build_code_package(_git_project(tmp_path / "a"))
    archive = tmp_path / "pkg.tar.gz"
    archive.write_bytes(package.data)
    from branchline.runtime.entrypoint import unpack_code_package

    dest = unpack_code_package(str(archive), tmp_path / "unpacked")
    assert (dest / "flows" / "f.py").read_text() == "print('flow')\n"
    with tarfile.open(archive) as tar:
        assert {m.mtime for m in tar.getmembers()} == {0}


@pytest.mark.moto
def test_upload_once(tmp_path, moto_server):
    client = boto3.client("s3", endpoint_url=moto_server)
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    package = build_code_package(_git_project(tmp_path / "a"))
    url, uploaded = upload(package, bucket, "branchline/p/br-x-1", client=client)
    assert uploaded and url == f"s3://{bucket}/branchline/p/br-x-1/code/{package.sha}.tar.gz"
    assert upload(package, bucket, "branchline/p/br-x-1", client=client) == (url, False)
