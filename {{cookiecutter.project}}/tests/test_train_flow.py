"""Run TrainFlow on this machine on small data, as `python flows/train_flow.py run` does, and read its results.

Each test gets its own datastore and MLflow store (a sqlite file) under pytest's tmp_path, so runs never
touch the project's .branchline/ nor each other. MLFLOW_TRACKING_URI, if set, is deliberately overridden.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
FLOW = PROJECT / "flows" / "train_flow.py"
SMALL = ["--fast", "true", "--max_rows", "90", "--max-workers", "2"]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """This test's datastore and MLflow store, in this process (for reading) and for the flow's processes."""
    env = {
        "BRANCHLINE_DATASTORE": str(tmp_path / "datastore"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(PROJECT)
    return env


def flow_env(namespace, **extra):
    """This process's environment minus an MLflow run/experiment a caller may have exported (and an ask to
    register: each test says whether it asks)."""
    dropped = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "BRANCHLINE_REGISTER_MODELS")
    inherited = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**inherited, "BRANCHLINE_NAMESPACE": namespace, **extra}


def run_flow(namespace, run_id, *args, **env):
    done = subprocess.run(
        [sys.executable, str(FLOW), "run", "--run-id", run_id, *SMALL, *args],
        cwd=PROJECT,
        env=flow_env(namespace, **env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    from branchline.client import Run

    return Run(f"TrainFlow/{run_id}", namespace=namespace)


def test_train_flow_in_a_personal_namespace_registers_nothing_unless_asked(isolated):
    run = run_flow("user-tests", "quiet-1")
    assert run.successful
    end = run["end"].task.data
    assert end.metrics["accuracy"] >= 0.90 and end.model_version is None and end.model_name is None
    assert end.gate["passed"] is None and end.gate["action"].startswith("gate: nothing to judge")

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=isolated["MLFLOW_TRACKING_URI"])
    assert client.search_registered_models() == []  # no model logged, no version


def test_train_flow_in_a_personal_namespace_asked_to_register_only_dry_runs_the_gate(isolated):
    run = run_flow("user-tests", "local-1", BRANCHLINE_REGISTER_MODELS="1")
    assert run.successful
    end = run["end"].task.data
    assert end.raw_data_check["success"] and end.predictions_check["success"]
    assert end.best_c in end.tried and len(end.tried) == 2  # --fast: two values of C, one branch each
    assert end.metrics["accuracy"] >= 0.90 and end.metrics["f1_macro"] >= 0.85
    assert end.model_version == "1"
    assert end.gate["dry_run"] is True and end.gate["passed"] is True
    assert end.model_name.endswith("-dev")  # outside prod the flow registers under its own name
    assert end.gate["action"] == f"dry run: would promote {end.model_name} v1 to champion (now none)"
    assert end.model.predict(end.split_sets.test.drop(columns=["target"])).shape == (len(end.split_sets.test),)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=isolated["MLFLOW_TRACKING_URI"])
    assert "champion" not in client.get_registered_model(end.model_name).aliases  # not promoted outside prod


def test_train_flow_in_prod_promotes_its_model(isolated):
    run = run_flow("prod", "prod-1")
    gate = run["end"].task.data.gate
    assert gate["passed"] and not gate["dry_run"] and gate["action"] == "promoted v1 to champion (was none)"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=isolated["MLFLOW_TRACKING_URI"])
    version = client.get_model_version_by_alias(gate["model"], "champion")
    assert str(version.version) == "1" and version.tags["branchline.gate"] == "passed"


def test_bad_data_stops_the_flow_at_its_first_step(isolated, tmp_path):
    """A raw_data failure ends the run in `start`, naming the broken expectation; nothing is registered."""
    done = subprocess.run(
        [sys.executable, str(FLOW), "run", "--run-id", "bad-1", *SMALL, "--max_rows", "5"],
        cwd=PROJECT,
        env=flow_env("user-tests"),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode != 0
    assert "expect_table_row_count_to_be_between" in done.stdout + done.stderr
