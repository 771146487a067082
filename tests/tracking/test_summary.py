"""The flow run's summary on its parent MLflow run: pure rules, a real flow run, and who may write it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from branchline.ci.verdict import judged_line
from branchline.config import load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage
from branchline.gate import dry_run_verdict
from branchline.tracking.connect import TrackingDenied, TrackingSession
from branchline.tracking.summary import fold_checks, headline_metrics, summarize, summary_tags, write_summary
from tests.tracking.conftest import make_run_doc
from tests.tracking.test_flow_runs import make_project, run_flow

TEMPLATE_GX = Path(__file__).resolve().parents[2] / "{{cookiecutter.project}}" / "gx"


def record(step: str, runs: dict[str, dict[str, Any]], recorded: str, versions: list[dict[str, str]] | None = None):
    return {"step": step, "task_id": "0", "mlflow_run_id": next(iter(runs)), "runs": runs,
            "model_versions": versions or [], "recorded": recorded}


RECORDS = [
    record("start", {"a": {"metrics": {"accuracy": 0.5, "rows": 150.0},
                           "checks": {"branchline.checks.raw_data.success": "true",
                                      "branchline.checks.raw_data.failed": "0"}}}, "2026-01-02T10:00:01+00:00"),
    record("train", {"b": {"metrics": {"accuracy": 0.7}, "checks": {}}}, "2026-01-02T10:00:02+00:00",
           [{"name": "m-dev", "version": "3", "run_id": "b"}]),
    record("evaluate", {"c": {"metrics": {"accuracy": 0.3, "f1": 0.6},
                              "checks": {"branchline.checks.predictions.success": "false",
                                         "branchline.checks.predictions.failed": "2"}}}, "2026-01-02T10:00:03+00:00"),
]


def test_the_model_run_wins_then_the_latest_task() -> None:
    values, sources = headline_metrics(RECORDS, None)
    assert values == {"accuracy": 0.7, "f1": 0.6, "rows": 150.0}
    assert sources == {"accuracy": "train/0", "f1": "evaluate/0", "rows": "start/0"}
    assert headline_metrics(RECORDS, ["accuracy", "missing"]) == ({"accuracy": 0.7}, {"accuracy": "train/0"})
    without_model = [{**r, "model_versions": []} for r in RECORDS]
    assert headline_metrics(without_model, ["accuracy"])[0] == {"accuracy": 0.3}  # the last task's value


def test_checks_fold_and_tags_and_links() -> None:
    assert [(c.suite, c.success, c.failed) for c in fold_checks(RECORDS)] == [("predictions", False, 2),
                                                                              ("raw_data", True, 0)]
    doc = make_run_doc("p", branch_evil := "x`|<b>@team", git={"sha": "a" * 40, "branch": "x`|<b>@team"},
                       ci={"pr_number": 7, "event": "pull_request", "run_id": "99", "repository": "o/r",
                           "server_url": "https://github.example"})
    report = {"passed": False, "dry_run": True, "summary": "1 of 2 criteria failed"}
    summary = summarize(doc, RECORDS, headline=["accuracy"], gate_report=report, tracking_uri="http://mlflow:5000")
    tags = summary_tags(summary)
    assert tags["branchline.summary.model"] == "m-dev v3"
    assert tags["branchline.summary.model_url"] == "http://mlflow:5000/#/models/m-dev/versions/3"
    assert tags["branchline.summary.checks"] == "failed: predictions"
    assert tags["branchline.summary.check.predictions"] == "failed (2 failed)"
    assert tags["branchline.summary.gate"] == "failed (dry run)"
    assert tags["branchline.summary.pull_request_url"] == "https://github.example/o/r/pull/7"
    assert tags["branchline.summary.commit_url"] == "https://github.example/o/r/commit/" + "a" * 40
    assert tags["branchline.summary.execution_url"].startswith("https://us-east-1.console.aws.amazon.com/states/")
    note = tags["mlflow.note.content"]
    assert "``x`|<b>@team``" in note and branch_evil  # the hostile branch stays inside one code span
    assert "| `accuracy` | 0.7 | `train/0` |" in note
    local = summarize(doc, RECORDS, headline=None, gate_report=None, tracking_uri="sqlite:///x.db")
    assert "model" not in local.links  # no browser opens a sqlite file
    assert "branchline.summary.gate" not in summary_tags(local)


SUMMARY_FLOW = """
from branchline import FlowSpec, step


def iris():
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    frame["target"] = frame["target"].astype("int64")
    return frame


class ReviewFlow(FlowSpec):
    @step
    def start(self):
        import mlflow

        from branchline.checks import validate

        validate(iris(), suite="raw_data")
        mlflow.log_metric("accuracy", 0.5)
        self.next(self.train)

    @step
    def train(self):
        import mlflow
        from sklearn.linear_model import LogisticRegression

        from branchline.tracking.models import register_model

        frame = iris()
        model = LogisticRegression(max_iter=300).fit(frame.drop(columns="target"), frame["target"])
        mlflow.log_metric("accuracy", 0.7)
        register_model(model)
        self.next(self.evaluate)

    @step
    def evaluate(self):
        import mlflow

        mlflow.log_metric("accuracy", 0.3)
        mlflow.log_metric("f1_macro", 0.6)
        self.next(self.end)

    @step
    def end(self):
        from branchline.gate import evaluate_in_flow

        evaluate_in_flow()
"""

GATE = '\n[tool.branchline.gates.ReviewFlow]\nthresholds = { accuracy = ">= 0.6" }\nrequired_checks = ["raw_data"]\n'


@pytest.mark.mlflow
def test_a_flow_run_summarises_itself_and_the_gate_still_agrees(tmp_path: Path, project: str, mlflow_server: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    flow = make_project(tmp_path / "proj", project, SUMMARY_FLOW, "review.py")
    root = flow.parent.parent
    with (root / "pyproject.toml").open("a") as fh:
        fh.write(GATE)
    shutil.copytree(TEMPLATE_GX, root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    out = run_flow(flow, env={"MLFLOW_TRACKING_URI": mlflow_server, "BRANCHLINE_REGISTER_MODELS": "1"})
    assert out["status"] == "succeeded"
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(f"{project}/ReviewFlow/dev")
    (parent,) = client.search_runs([experiment.experiment_id], filter_string="tags.`branchline.role` = 'flow'")
    tags = parent.data.tags
    assert parent.data.metrics == {"accuracy": pytest.approx(0.7)}  # the gate's metric, from the model's run
    assert tags["branchline.summary.metric_sources"] == "accuracy=train/0"
    assert tags["branchline.summary.model"] == f"{project}-reviewflow-dev v1"
    assert tags["branchline.summary.model_url"] == f"{mlflow_server}/#/models/{project}-reviewflow-dev/versions/1"
    assert tags["branchline.summary.check.raw_data"] == "passed"
    assert tags["branchline.summary.gate"] == "passed (dry run)"
    assert "0.7" in tags["mlflow.note.content"] and "gate passed (dry run)" in tags["mlflow.note.content"]
    # the flow run now carries metrics the gate reads: its datastore record says the same, so a re-judged
    # run still passes the evidence cross-check
    namespace = tags["branchline.namespace"]
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    verdict = dry_run_verdict(load_config(root), "ReviewFlow", namespace=namespace, run_id=out["run_id"])
    assert verdict.passed, verdict.reasons
    # the PR comment's account of the same run: the gate's metric next to production's (absent) champion
    line = judged_line("ReviewFlow", "pass", (), verdict.report, mlflow_server)
    assert [(m.name, m.candidate, m.champion) for m in line.metrics] == [("accuracy", pytest.approx(0.7), None)]
    assert (line.model, line.version, line.checks) == (f"{project}-reviewflow-dev", "1", (("raw_data", True, 0),))


@pytest.mark.mlflow
def test_only_the_runs_own_identity_may_write_its_summary(tmp_path: Path, mlflow_auth_server: dict[str, Any]) -> None:
    """Production's flow run lives where branches only READ: a branch identity's summary is refused by the server."""
    from mlflow import MlflowClient

    url, users = str(mlflow_auth_server["url"]), dict(mlflow_auth_server["users"])  # type: ignore[arg-type]
    ds = FlowDatastore(LocalStorage(tmp_path / "ds"), "prod")
    run_doc = make_run_doc("authproj", namespace="prod", run_id="r-auth")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_USERNAME", "production")
        mp.setenv("MLFLOW_TRACKING_PASSWORD", str(users["production"]))
        production = TrackingSession(MlflowClient(url), url)
        name = f"authproj-{tmp_path.name}/ReviewFlow"
        experiment = production.client.create_experiment(name)
        parent = production.client.create_run(experiment, tags={"branchline.role": "flow"}).info.run_id
        link = {"run_id": parent, "experiment_id": experiment, "tracking_uri": url}
        ds.put_json(f"{ds.task_key('TrainFlow', 'r-auth', 'train', '0')}/evidence/x.json",
                    record("train", {"x": {"metrics": {"accuracy": 0.9}, "checks": {}}}, "2026-01-02T10:00:00"))
        mp.setenv("MLFLOW_TRACKING_USERNAME", "branch")
        mp.setenv("MLFLOW_TRACKING_PASSWORD", str(users["branch"]))
        branch = TrackingSession(MlflowClient(url), url)
        with pytest.raises(TrackingDenied, match=r"permission denied .* for user branch"):
            write_summary(branch, ds, link, run_doc, headline=["accuracy"])
        assert production.client.get_run(parent).data.metrics == {}  # nothing half-written by the refused writer
        mp.setenv("MLFLOW_TRACKING_USERNAME", "production")
        mp.setenv("MLFLOW_TRACKING_PASSWORD", str(users["production"]))
        write_summary(production, ds, link, run_doc, headline=["accuracy"])
        assert production.client.get_run(parent).data.metrics == {"accuracy": 0.9}
