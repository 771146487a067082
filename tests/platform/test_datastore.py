"""Content-addressed artifacts behave the same on a local directory and on S3 (a moto server)."""

from __future__ import annotations

import uuid

import boto3
import pytest

from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import path_for, task_id_for
from branchline.datastore.storage import LocalStorage, S3Storage
from branchline.errors import ArtifactError


def _roundtrip(ds: FlowDatastore) -> None:
    big = bytes(range(256)) * 40_000  # ~10 MB: streamed through a temp file, hashed on the way
    ref = ds.save_value(big)
    again = ds.save_value(bytes(range(256)) * 40_000)
    assert ref.sha == again.sha and ref.size > len(big)
    assert ds.load_value(ref.sha) == big
    small = ds.save_value({"a": [1, 2, 3]})
    ds.write_task_artifacts("F", "r1", "start", "0", {"big": ref, "small": small})
    refs = ds.read_task_artifacts("F", "r1", "start", "0")
    assert refs["small"].type == "dict" and ds.load_value(refs["small"].sha) == {"a": [1, 2, 3]}
    objects = [k for k in ds.storage.list(f"{ds.namespace}/objects")]
    assert len(objects) == 2  # stored once per content
    assert ds.list_runs("F") == ["r1"] and ds.list_tasks("F", "r1", "start") == ["0"]
    with pytest.raises(ArtifactError, match="has no committed artifacts"):
        ds.read_task_artifacts("F", "r1", "start", "9")


def test_local_backend(tmp_path):
    _roundtrip(FlowDatastore(LocalStorage(tmp_path), "user-test"))


@pytest.mark.moto
def test_s3_backend(moto_server):
    bucket = f"ds-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=moto_server)
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    storage = S3Storage(bucket, "branchline/proj", client=client)
    ds = FlowDatastore(storage, "br-x-1234abcd")
    _roundtrip(ds)
    storage.put_bytes("br-x-1234abcdef/keep", b"a namespace whose name extends this one")
    assert storage.delete_prefix("br-x-1234abcd") == 3  # two objects and one artifacts.json
    assert list(storage.list("br-x-1234abcd")) == []
    assert list(storage.list("br-x-1234abcdef")) == ["br-x-1234abcdef/keep"]


def test_unpicklable_value_is_a_clear_error(tmp_path):
    ds = FlowDatastore(LocalStorage(tmp_path), "user-test")
    with pytest.raises(ArtifactError, match="cannot store a value of type generator"):
        ds.save_value(x for x in range(3))


def test_local_keys_cannot_escape_the_root(tmp_path):
    with pytest.raises(ArtifactError, match="outside"):
        LocalStorage(tmp_path / "root").put_bytes("../escape", b"x")


@pytest.mark.parametrize("path", [(), (0,), (3, 1), (10, 0, 7)])
def test_task_ids_roundtrip(path):
    assert path_for(task_id_for(path)) == path
