"""End to end: flows run by the real local runtime, tracked by the real recorder.

The embedded default (sqlite under .branchline/) and a remote `mlflow server` (MLFLOW_TRACKING_URI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

RUNNER = Path(__file__).with_name("run_flow.py")

PLAIN_FLOW = """
from branchline import FlowSpec, step


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""

TRAIN_FLOW = """
from branchline import FlowSpec, Parameter, step


class TrainFlow(FlowSpec):
    c = Parameter("c", default=1.0)

    @step
    def start(self):
        self.folds = [0, 1, 2]
        self.next(self.train, foreach="folds")

    @step
    def train(self):
        import mlflow  # inside the body: the task run opens on this import

        mlflow.log_metric("fold_score", 0.8 + self.input / 100)
        self.score = 0.8 + self.input / 100
        self.next(self.join)

    @step
    def join(self, inputs):
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        from branchline.tracking.models import register_model

        self.best = max(inp.score for inp in inputs)
        x, y = load_iris(return_X_y=True)
        model = LogisticRegression(C=float(self.c), max_iter=300).fit(x, y)
        self.version = register_model(model).version
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def make_project(root: Path, name: str, flow_source: str, filename: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n\n[tool.branchline]\nproject = "{name}"\n')
    flow = root / "flows" / filename
    flow.parent.mkdir()
    flow.write_text(textwrap.dedent(flow_source))
    return flow


def run_flow(flow: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "BRANCHLINE_DATASTORE")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(flow), *args],
        capture_output=True, text=True, timeout=300, cwd=flow.parent.parent, env=full_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def children_of(client: Any, experiment_id: str, parent: str) -> dict[str, Any]:
    runs = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    return {r.info.run_name: r for r in runs}


def test_embedded_store_and_no_mlflow_import_in_the_runtime(tmp_path: Path, project: str) -> None:
    from mlflow import MlflowClient

    flow = make_project(tmp_path / "proj", project, PLAIN_FLOW, "plain.py")
    out = run_flow(flow)
    assert out["status"] == "succeeded"
    assert out["mlflow_imported"] is False  # the recorder paid for MLflow, not the runtime
    db = tmp_path / "proj" / ".branchline" / "mlflow.db"
    assert db.is_file()
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.get_experiment_by_name(f"{project}/PlainFlow/dev")  # a user's runs: not production's experiment
    assert experiment is not None
    assert experiment.artifact_location.startswith((tmp_path / "proj" / ".branchline" / "mlartifacts").as_uri())
    (parent,) = client.search_runs([experiment.experiment_id], filter_string="tags.`branchline.role` = 'flow'")
    assert parent.info.run_name == out["run_id"] and parent.info.status == "FINISHED"
    children = children_of(client, experiment.experiment_id, parent.info.run_id)
    assert sorted(children) == ["end/0", "start/0"]
    assert children["start/0"].data.tags["branchline.artifacts"] == "x"


@pytest.mark.mlflow
@pytest.mark.slow
def test_remote_server_foreach_lazy_metrics_and_model(tmp_path: Path, project: str, mlflow_server: str) -> None:
    from mlflow import MlflowClient

    flow = make_project(tmp_path / "proj", project, TRAIN_FLOW, "train.py")
    # a person's own namespace registers only when asked (tests/tracking/test_local_registration.py)
    # and no pre-fork warm-up (runtime/warmup.py imports the flow's deferred `import mlflow` on purpose)
    env = {"MLFLOW_TRACKING_URI": mlflow_server, "BRANCHLINE_REGISTER_MODELS": "1", "BRANCHLINE_WARM_IMPORTS": "0"}
    out = run_flow(flow, "c=0.5", env=env)
    assert out["status"] == "succeeded"
    assert out["mlflow_imported"] is False
    assert not (tmp_path / "proj" / ".branchline" / "mlflow.db").exists()
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(f"{project}/TrainFlow/dev")
    assert experiment is not None
    (parent,) = client.search_runs([experiment.experiment_id], filter_string="tags.`branchline.role` = 'flow'")
    assert parent.data.params == {"c": "0.5"}
    assert parent.info.status == "FINISHED"
    children = children_of(client, experiment.experiment_id, parent.info.run_id)
    assert sorted(children) == ["end/0", "join/0", "start/0", "train/0-0", "train/0-1", "train/0-2"]
    assert children["train/0-2"].data.metrics == {"fold_score": pytest.approx(0.82)}
    assert children["start/0"].data.metrics == {}  # recorded afterwards by the recorder
    versions = client.search_model_versions(f"name = '{project}-trainflow-dev'")
    assert [v.run_id for v in versions] == [children["join/0"].info.run_id]
    assert versions[0].tags["run_id"] == out["run_id"]
