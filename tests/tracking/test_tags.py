"""The run/task → MLflow mapping (pure: no MLflow, no I/O)."""

from __future__ import annotations

from pathlib import Path

from branchline.config import Config
from branchline.namespaces.names import experiment_name, registered_model_name
from branchline.tracking.connect import artifact_location, is_http, sqlite_path
from branchline.tracking.models import default_model_name, version_tags
from branchline.tracking.tags import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    iso_to_ms,
    params_of,
    run_tags,
    task_tags,
)
from tests.tracking.conftest import NAMESPACE, make_meta, make_run_doc


def test_run_tags_carry_every_context_present() -> None:
    tags = run_tags(make_run_doc("proj"))
    assert tags["branchline.namespace"] == NAMESPACE
    assert tags["branchline.run_id"] == "r1"
    assert tags["branchline.flow"] == "TrainFlow"
    assert tags["branchline.project"] == "proj"
    assert tags["branchline.git_sha"] == tags["mlflow.source.git.commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert tags["branchline.branch"] == "feature/x"
    assert tags["branchline.pr_number"] == "42"
    assert tags["branchline.image"] == "sha256:feedface"
    assert tags["branchline.execution_arn"].startswith("arn:aws:states:")
    assert tags["mlflow.source.name"] == "flows/train.py"


def test_run_tags_leave_out_absent_context() -> None:
    tags = run_tags(make_run_doc("proj", git=None, ci=None, image=None, execution_arn=None))
    for key in ("branchline.git_sha", "branchline.branch", "branchline.pr_number", "branchline.image",
                "branchline.execution_arn", "mlflow.source.git.commit"):  # fmt: skip
        assert key not in tags
    assert tags["branchline.run_id"] == "r1"


def test_task_tags_inherit_identity_and_add_the_task() -> None:
    meta = make_meta("train", "0-3", attempt=2, batch_job_id="job-123", artifacts=["b", "a"])
    tags = task_tags(run_tags_=run_tags(make_run_doc("proj")), step="train", task_id="0-3", meta=meta)
    assert tags["branchline.step"] == "train"
    assert tags["branchline.task_id"] == "0-3"
    assert tags["branchline.attempt"] == "2"
    assert tags["branchline.batch_job_id"] == "job-123"
    assert tags["branchline.artifacts"] == "a,b"
    assert tags["branchline.namespace"] == NAMESPACE
    assert "mlflow.source.name" not in tags  # only identity tags are inherited


def test_failed_task_tag_names_the_error() -> None:
    meta = make_meta("train", status="failed", error={"type": "ValueError", "message": "bad", "traceback": ""})
    tags = task_tags(run_tags_={}, step="train", task_id="0", meta=meta)
    assert tags["branchline.error"] == "ValueError: bad"


def test_long_values_are_truncated_to_mlflow_limits() -> None:
    doc = make_run_doc("proj", params={"big": "x" * 10_000, "obj": {"k": [1, 2]}}, image="i" * 9000)
    assert len(params_of(doc)["big"]) == MAX_PARAM_VALUE
    assert params_of(doc)["obj"] == '{"k": [1, 2]}'
    assert len(run_tags(doc)["branchline.image"]) == MAX_TAG_VALUE


def test_names_and_times() -> None:
    assert experiment_name("proj", "TrainFlow", "prod") == "proj/TrainFlow"
    for namespace in ("br-feature-x-1a2b3c", "user-alice", None):  # everyone else writes beside production
        assert experiment_name("proj", "TrainFlow", namespace) == "proj/TrainFlow/dev"
    assert registered_model_name("iris", "prod") == "iris" and registered_model_name("iris", "br-x-1") == "iris-dev"
    assert iso_to_ms("1970-01-01T00:00:01+00:00") == 1000
    assert iso_to_ms(None) is None
    assert iso_to_ms("not a date") is None


def test_local_store_keeps_artifacts_beside_the_database(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/.branchline/mlflow.db"
    assert sqlite_path(uri) == tmp_path / ".branchline" / "mlflow.db"
    location = artifact_location(uri, "proj/TrainFlow")
    assert location == (tmp_path / ".branchline" / "mlartifacts" / "proj_TrainFlow").as_uri()
    assert artifact_location("http://127.0.0.1:5000", "proj/TrainFlow") is None
    assert is_http("https://mlflow.example.org") and not is_http(uri)


def test_model_name_default_and_configured(tmp_path: Path) -> None:
    assert default_model_name("proj", "TrainFlow", Config(root=tmp_path)) == "proj-trainflow"
    configured = Config(root=tmp_path, data={"gates": {"TrainFlow": {"model": "iris-classifier"}}})
    assert default_model_name("proj", "TrainFlow", configured) == "iris-classifier"


def test_version_tags_use_short_names() -> None:
    tags = version_tags({"branchline.namespace": "prod", "branchline.git_sha": "abc", "other": "x"}, {"k": 1})
    assert tags == {"namespace": "prod", "git_sha": "abc", "k": "1"}
