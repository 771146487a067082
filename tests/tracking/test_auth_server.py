"""Production's registry and runs on a real `mlflow server --app-name basic-auth`, tried with the wrong identity.

The test bed provisions an admin, a production user and a branch user (tests/testbed/servers.py). Production
claims its experiment and model with `branchline tracking bootstrap`; then every write a branch could use to
subvert the gate is tried with the branch credential and must be refused BY THE SERVER (403), while the
production credential's gate promotes and the branch's dry run (READ) still reads production's champion.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from branchline.config import load_config
from branchline.gate import dry_run_verdict, run_gate
from branchline.tracking.bootstrap import bootstrap
from branchline.tracking.connect import TrackingDenied, TrackingError
from tests.gate.mlstate import (
    FLOW,
    FlowRun,
    Project,
    champion,
    client,
    make_project,
    record_flow_run,
    restore_mlflow_env,
)

pytestmark = pytest.mark.mlflow
__all__ = ["restore_mlflow_env"]  # autouse: mlflow.set_* calls must not leak between tests
BRANCHLINE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "branchline"
BRANCH_NS = "br-feature-x-1a2b3c"


@pytest.fixture
def server(mlflow_auth_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(mlflow_auth_server["url"]))
    monkeypatch.delenv("BRANCHLINE_NAMESPACE", raising=False)
    return mlflow_auth_server


@pytest.fixture
def login(server: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, str]]:
    """`login("branch")`: this process now talks to MLflow as that user; returns the variables it set."""

    def as_user(name: str) -> dict[str, str]:
        env = {"MLFLOW_TRACKING_USERNAME": name, "MLFLOW_TRACKING_PASSWORD": server["users"][name]}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return as_user


@pytest.fixture
def claimed(tmp_path: Path, server: dict[str, Any], login: Callable[[str], dict[str, str]]) -> Iterator[Project]:
    """A project whose production experiment and model the production user claimed (branch user: READ)."""
    project = make_project(tmp_path, str(server["url"]))
    login("production")
    lines = bootstrap(project.uri, project.name, flows=[FLOW], models={FLOW: project.model}, branch_users=["branch"])
    assert f"created registered model {project.model} as production" in lines
    yield project


@pytest.fixture
def promoted(claimed: Project, login: Callable[[str], dict[str, str]]) -> FlowRun:
    """Production's first flow run, promoted by production's own gate: `champion` is v1."""
    login("production")
    run = record_flow_run(claimed)
    assert run_gate(config=load_config(claimed.root), run_id=run.run_id).promoted
    assert champion(claimed) == run.version == "1"
    return run


def denied(action: Callable[[], Any]) -> str:
    """Run `action`, which the server must refuse with 403; returns the error text."""
    from mlflow.exceptions import MlflowException
    from requests import HTTPError

    with pytest.raises((MlflowException, HTTPError)) as info:
        action()
    error = info.value
    status = error.get_http_status_code() if isinstance(error, MlflowException) else error.response.status_code
    assert status == 403, str(error)
    return str(error)


def test_anonymous_requests_are_refused(server: dict[str, Any]) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server['url']}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10)
    assert info.value.code == 401


def test_a_branch_credential_cannot_touch_productions_model_or_runs(
    claimed: Project, promoted: FlowRun, login: Callable[[str], dict[str, str]]
) -> None:
    prod = promoted
    login("branch")
    c = client(claimed.uri)
    run_id = prod.tasks["evaluate"]
    experiment = c.get_run(run_id).info.experiment_id  # READ: a branch may look at production
    denied(lambda: c.create_model_version(claimed.model, f"runs:/{run_id}/model", run_id=run_id))
    denied(lambda: c.set_registered_model_alias(claimed.model, "champion", "1"))
    denied(lambda: c.set_model_version_tag(claimed.model, "1", "branchline.gate", "passed"))
    denied(lambda: c.set_tag(run_id, "branchline.checks.predictions.success", "true"))
    denied(lambda: c.log_metric(run_id, "accuracy", 0.999))
    denied(lambda: c.create_run(experiment, tags={"mlflow.parentRunId": prod.parent}))
    denied(lambda: c.log_text(prod.parent, "forged", "gate/report.md"))
    denied(lambda: c.delete_registered_model_alias(claimed.model, "champion"))
    assert champion(claimed) == "1" and c.get_run(run_id).data.metrics["accuracy"] == 0.95


def test_promote_with_a_branch_credential_is_refused_by_the_server_in_one_line(
    claimed: Project, promoted: FlowRun, server: dict[str, Any], login: Callable[[str], dict[str, str]]
) -> None:
    better = record_flow_run(claimed, metrics={"accuracy": 0.99, "f1_macro": 0.99})
    branch_env = login("branch")
    done = subprocess.run(
        [str(BRANCHLINE), "promote", "--project-dir", str(claimed.root), "--run-id", better.run_id],
        env={**os.environ, **branch_env, "BRANCHLINE_NAMESPACE": "prod", "COLUMNS": "200"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "permission denied (403) for user branch" in done.stderr
    assert champion(claimed) == "1"
    assert server["users"]["branch"] not in done.stdout + done.stderr


def test_a_branch_writes_its_own_runs_and_its_dry_run_reads_productions_champion(
    claimed: Project, promoted: FlowRun, login: Callable[[str], dict[str, str]]
) -> None:
    login("branch")
    branch = record_flow_run(claimed, namespace=BRANCH_NS, metrics={"accuracy": 0.8, "f1_macro": 0.94})
    assert branch.version == "1"  # in the dev model, which the branch user may EDIT
    verdict = dry_run_verdict(load_config(claimed.root), FLOW, namespace=BRANCH_NS, run_id=branch.run_id)
    assert not verdict.passed and verdict.reasons[0].startswith("accuracy >= 0.9: accuracy = 0.8 fails")
    assert verdict.report["champion"]["version"] == "1"
    with pytest.raises(TrackingDenied, match="permission denied"):  # and it still cannot promote itself
        run_gate(config=load_config(claimed.root), version=1)
    assert champion(claimed) == "1"


def test_bootstrap_refuses_a_production_name_a_branch_claimed_first(
    tmp_path: Path, server: dict[str, Any], login: Callable[[str], dict[str, str]]
) -> None:
    project = make_project(tmp_path, str(server["url"]))
    branch_env = login("branch")
    client(project.uri).create_registered_model(project.model)  # squatting production's model name
    production_env = login("production")
    with pytest.raises(TrackingError, match=rf"registered model {project.model} already exists .* does not manage"):
        bootstrap(project.uri, project.name, flows=[FLOW], models={FLOW: project.model})
    done = subprocess.run(
        [str(BRANCHLINE), "tracking", "bootstrap", "--project-dir", str(project.root), "--branch-user", "branch"],
        env={**os.environ, **production_env}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "someone else created it first" in done.stderr and "an admin must delete it" in done.stderr
    # the squatter really does own it: production cannot register into it
    assert "branch" in branch_env["MLFLOW_TRACKING_USERNAME"]
    denied(lambda: client(project.uri).set_registered_model_alias(project.model, "champion", "1"))


def test_an_admin_can_bootstrap_on_behalf_of_production_and_a_rerun_keeps_everything(
    tmp_path: Path, server: dict[str, Any], login: Callable[[str], dict[str, str]]
) -> None:
    project = make_project(tmp_path, str(server["url"]))
    login("admin")
    lines = bootstrap(project.uri, project.name, flows=[FLOW], models={FLOW: project.model},
                      production_user="production", branch_users=["branch"])  # fmt: skip
    assert "  granted MANAGE to production user production" in lines
    login("production")
    again = bootstrap(project.uri, project.name, flows=[FLOW], models={FLOW: project.model}, branch_users=["branch"])
    assert f"kept registered model {project.model}: managed by production user production" in again
    assert not any(line.startswith("created") for line in again)
    prod = record_flow_run(project)
    assert run_gate(config=load_config(project.root), run_id=prod.run_id).promoted


def test_bootstrap_needs_a_server_with_credentials(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match="needs an MLflow server with authentication"):
        bootstrap(f"sqlite:///{tmp_path}/m.db", "p", flows=[FLOW], models={})


STEP_FLOW = """
import mlflow
from branchline import FlowSpec, step


class {flow}(FlowSpec):
    @step
    def start(self):
        mlflow.log_metric("accuracy", 0.9)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.moto
def test_a_step_container_reads_its_credentials_from_secrets_manager_and_never_records_them(
    tmp_path: Path, server: dict[str, Any], moto_server: str, login: Callable[[str], dict[str, str]]
) -> None:
    """The entrypoint resolves BRANCHLINE_TRACKING_SECRET with the job's AWS credentials (moto over HTTP)."""
    import boto3

    project = make_project(tmp_path, str(server["url"]))
    login("production")
    bootstrap(project.uri, project.name, flows=["StepFlow"], models={}, branch_users=["branch"])
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server)
    for user in ("production", "branch"):
        value = f'{{"username": "{user}", "password": "{server["users"][user]}"}}'
        secrets.create_secret(Name=f"{project.name}/mlflow-{user}", SecretString=value)
    (project.root / "flow.py").write_text(STEP_FLOW.format(flow="StepFlow"))

    def task(step: str, secret: str, namespace: str = "prod") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
        env.update(
            BRANCHLINE_FLOW_FILE="flow.py", BRANCHLINE_STEP=step, BRANCHLINE_RUN_ID=f"r-{secret[-6:]}",
            BRANCHLINE_NAMESPACE=namespace, BRANCHLINE_DATASTORE=str(project.root / "ds"),
            BRANCHLINE_PROJECT=project.name, BRANCHLINE_TRACKING_URI=project.uri,
            BRANCHLINE_TRACKING_SECRET=secret,
        )  # fmt: skip
        return subprocess.run([sys.executable, "-m", "branchline.cli.main", "task"], cwd=project.root, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    for step in ("start", "end"):
        done = task(step, f"{project.name}/mlflow-production")
        assert done.returncode == 0, done.stdout + done.stderr
        for password in server["users"].values():
            assert password not in done.stdout + done.stderr
    c = client(project.uri)
    experiment = c.get_experiment_by_name(f"{project.name}/StepFlow")  # production's own experiment
    runs = c.search_runs([experiment.experiment_id])
    assert len(runs) == 3 and {r.data.tags.get("branchline.namespace") for r in runs} == {"prod"}
    recorded = " ".join(f"{k}={v}" for r in runs for k, v in {**r.data.tags, **r.data.params}.items())
    for password in server["users"].values():
        assert password not in recorded
    assert "MLFLOW_TRACKING_PASSWORD" not in recorded

    wrong = task("start", f"{project.name}/mlflow-branch")  # a prod job given the branch's secret
    assert wrong.returncode != 0 and "permission denied (403) for user branch" in wrong.stdout + wrong.stderr
    missing = task("start", f"{project.name}/no-such-secret")
    assert missing.returncode != 0 and f"cannot read the MLflow credentials secret {project.name}/no-such-secret" in (
        missing.stdout + missing.stderr
    )
