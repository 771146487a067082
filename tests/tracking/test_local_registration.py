"""A laptop run registers a model version only when asked; branches and production always do.

The rule is pure (`registers`); the flows run for real (`python flow.py run`, the real local runtime) into
the project's own sqlite MLflow store, with the gate in their `end` step, and the store is read back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from branchline.config import Config
from branchline.errors import ConfigError
from branchline.tracking.models import how_to_ask, registers

FLOW = """
from branchline import FlowSpec, Parameter, step


class TrainFlow(FlowSpec):
    register = Parameter("register", default=True, help="call register_model in join")

    @step
    def start(self):
        self.next(self.join)

    @step
    def join(self):
        import mlflow
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        from branchline.tracking.models import register_model

        x, y = load_iris(return_X_y=True)
        model = LogisticRegression(max_iter=300).fit(x, y)
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        version = register_model(model) if self.register else None
        self.model_version = str(version.version) if version else None
        self.next(self.end)

    @step
    def end(self):
        from branchline.gate import evaluate_in_flow

        self.gate = evaluate_in_flow().as_dict()


if __name__ == "__main__":
    TrainFlow()
"""

ASK = "BRANCHLINE_REGISTER_MODELS=1 python flows/train.py run, or set [tool.branchline] register_local_models = true"


# ----- the rule (pure)
@pytest.mark.parametrize(
    ("namespace", "asked", "expected"),
    [
        ("user-alice", False, False),  # a laptop's default: only when asked
        ("user-alice", True, True),
        ("br-feature-x-1a2b3c", False, True),  # CI, deployed and --branch runs: the gate needs the candidate
        ("prod", False, True),
        (None, False, True),  # no namespace recorded: as before, register
    ],
)
def test_only_a_persons_own_namespace_waits_to_be_asked(namespace: str | None, asked: bool, expected: bool) -> None:
    assert registers(namespace, asked=asked) is expected


def test_the_ask_comes_from_the_environment_before_the_project_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRANCHLINE_REGISTER_MODELS", raising=False)
    assert Config(tmp_path).register_local_models is False
    assert Config(tmp_path, {"register_local_models": True}).register_local_models is True
    monkeypatch.setenv("BRANCHLINE_REGISTER_MODELS", "0")
    assert Config(tmp_path, {"register_local_models": True}).register_local_models is False
    monkeypatch.setenv("BRANCHLINE_REGISTER_MODELS", "1")
    assert Config(tmp_path).register_local_models is True


def test_a_register_setting_that_is_not_a_boolean_is_one_clear_error(tmp_path: Path) -> None:
    bad = Config(tmp_path, {"register_local_models": "yes"}, source=tmp_path / "pyproject.toml")
    with pytest.raises(ConfigError, match="register_local_models must be true or false, not 'yes'") as err:
        _ = bad.register_local_models
    assert err.value.hint == "register_local_models = true"


def test_the_hint_names_the_projects_only_flow_file(tmp_path: Path) -> None:
    assert how_to_ask(Config(tmp_path, {"flows": ["flows/train.py"]})) == ASK
    assert "python <flow file> run" in how_to_ask(Config(tmp_path, {"flows": ["a.py", "b.py"]}))


# ----- real runs into the project's sqlite store
@pytest.fixture
def flow_project(tmp_path: Path, project: str) -> Path:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "train.py").write_text(textwrap.dedent(FLOW))
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{project}"\n\n[tool.branchline]\nproject = "{project}"\nflows = ["flows/train.py"]\n\n'
        '[tool.branchline.gates.TrainFlow]\nthresholds = { accuracy = ">= 0.5" }\n'
    )
    return root


def run(root: Path, run_id: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python flows/train.py run` in the project, as a person types it (no server, no ask unless given)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_"))}
    return subprocess.run(
        [sys.executable, "flows/train.py", "run", "--run-id", run_id, *args],
        cwd=root, env={**base, "COLUMNS": "200", "NO_COLOR": "1", **env},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def end_data(root: Path, run_id: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from branchline.client import Run

    monkeypatch.chdir(root)  # the client reads the project's own .branchline/datastore
    return Run(f"TrainFlow/{run_id}", namespace=namespace)["end"].task.data


def registered(root: Path) -> dict[str, list[str]]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root / '.branchline' / 'mlflow.db'}")
    return {
        m.name: sorted(str(v.version) for v in client.search_model_versions(f"name = '{m.name}'"))
        for m in client.search_registered_models()
    }


@pytest.mark.mlflow
def test_a_laptop_run_registers_nothing_unless_asked_and_then_registers_its_dev_model(
    flow_project: Path, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = "user-alice"
    done = run(flow_project, "quiet-1", BRANCHLINE_NAMESPACE=user)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    out = done.stdout + done.stderr
    assert f"model not registered (a local run in {user} registers only when asked): {ASK}" in out
    assert f"gate: nothing to judge: this run registered no model (a local run registers only when asked: {ASK})" in out
    assert "Traceback" not in out
    assert registered(flow_project) == {}  # no registered model created, no version
    end = end_data(flow_project, "quiet-1", user, monkeypatch)
    assert end.model_version is None and end.gate["passed"] is None and end.gate["namespace"] == user

    done = run(flow_project, "asked-1", BRANCHLINE_NAMESPACE=user, BRANCHLINE_REGISTER_MODELS="1")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert registered(flow_project) == {f"{project}-trainflow-dev": ["1"]}
    end = end_data(flow_project, "asked-1", user, monkeypatch)
    assert end.model_version == "1"
    assert end.gate["action"] == f"dry run: would promote {project}-trainflow-dev v1 to champion (now none)"


@pytest.mark.mlflow
def test_the_project_setting_asks_too(flow_project: Path, project: str) -> None:
    pyproject = flow_project / "pyproject.toml"
    asked = pyproject.read_text().replace("[tool.branchline]\n", "[tool.branchline]\nregister_local_models = true\n")
    pyproject.write_text(asked)
    done = run(flow_project, "setting-1", BRANCHLINE_NAMESPACE="user-alice")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert registered(flow_project) == {f"{project}-trainflow-dev": ["1"]}


@pytest.mark.mlflow
def test_a_branch_run_registers_unasked_and_its_gate_still_fails_without_a_candidate(
    flow_project: Path, project: str
) -> None:
    branch = "br-feature-x-1a2b3c"
    done = run(flow_project, "branch-1", BRANCHLINE_NAMESPACE=branch)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "model not registered" not in done.stdout + done.stderr
    assert registered(flow_project) == {f"{project}-trainflow-dev": ["1"]}

    done = run(flow_project, "branch-2", "--register", "false", BRANCHLINE_NAMESPACE=branch)
    assert done.returncode != 0  # not weakened: a branch's gate with no candidate fails
    assert f"flow run TrainFlow/branch-2 ({branch}) registered no version of model {project}-trainflow-dev" in (
        done.stdout + done.stderr
    )
    assert "nothing to judge" not in done.stdout + done.stderr
