"""The template's sample flow end to end: rendered by cookiecutter, run locally, gated on a real mlflow server.

`evaluate_in_flow()` in the flow's `end` step is the only caller of the gate from inside a flow, so it is
tested here for real: in `prod` the run promotes its model; a branch's run of the same flow only dry-runs.
The generated project's own tests run in `tests/template/test_generated_tox.py` (its tox, in fresh
virtualenvs); running them a second time here, in this checkout's environment, added ~200 s and no coverage.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gate.mlstate import Project, artifact_text, champion, client
from tests.template.rendering import render

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered project, under a unique name so its model is its own on the shared server."""
    return render(tmp_path_factory.mktemp("sample"), project_name=f"Gate Sample {secrets.token_hex(3)}")


def env_for(project: Path, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")}
    return {**inherited, "PYTHONPATH": str(project / "src"), **extra}


def run_flow(project: Path, namespace: str, run_id: str, uri: str, **env: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "flows/train_flow.py", "run", "--run-id", run_id, "--fast", "true", "--max_rows", "90"]
    return subprocess.run(
        [*argv, "--max-workers", "2"],
        cwd=project,
        env=env_for(project, BRANCHLINE_NAMESPACE=namespace, MLFLOW_TRACKING_URI=uri, **env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def flow_runs(uri: str, slug: str, run_id: str, experiment: str = "TrainFlow") -> tuple[str, dict[str, str]]:
    """(parent run id, {step: task run id}) of a flow run, found by its tags as the gate finds them."""
    c = client(uri)
    experiment = c.get_experiment_by_name(f"{slug}/{experiment}").experiment_id
    query = f"tags.`branchline.run_id` = '{run_id}' and tags.`branchline.role` = 'flow'"
    parent = c.search_runs([experiment], query)[0].info.run_id
    tasks = c.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")
    return parent, {t.data.tags["branchline.step"]: t.info.run_id for t in tasks}


def test_sample_flow_promotes_in_prod_and_only_dry_runs_on_a_branch(sample: Path, mlflow_auth_server: dict) -> None:
    """On the server as docs/tracking.md deploys it (basic auth): production's identity promotes through the
    flow's own gate, with both data checks recorded; a branch's identity only dry-runs, under the branch's own
    model name; a branch that runs the flow claiming to be `prod` is refused by the server.

    (One test on the authenticated server, not one per server: the flow runs were the cost, ~40 s each run
    pair, and the plain server adds no path the gate takes; tests/gate/test_promote_mlflow.py covers it.)"""
    uri, users = str(mlflow_auth_server["url"]), mlflow_auth_server["users"]
    slug = sample.name
    project = Project(sample, slug, f"{slug}-trainflow", uri)
    as_production = {"MLFLOW_TRACKING_USERNAME": "production", "MLFLOW_TRACKING_PASSWORD": users["production"]}
    as_branch = {"MLFLOW_TRACKING_USERNAME": "branch", "MLFLOW_TRACKING_PASSWORD": users["branch"]}
    claim = subprocess.run(
        [sys.executable, "-m", "branchline.cli.main", "tracking", "bootstrap", "--branch-user", "branch"],
        cwd=sample, env=env_for(sample, MLFLOW_TRACKING_URI=uri, **as_production),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert claim.returncode == 0, claim.stderr

    done = run_flow(sample, "prod", "prod-auth-1", uri, **as_production)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    os.environ.update(as_production)  # this process reads as production (restored below)
    try:
        assert champion(project) == "1"
        parent, tasks = flow_runs(uri, slug, "prod-auth-1")
        report = json.loads(artifact_text(project, parent, "gate/report.json"))
        assert report["action"] == "promoted v1 to champion (was none)" and report["namespace"] == "prod"
        assert any(c["name"] == "evidence matches the datastore" and c["passed"] for c in report["criteria"])
        assert "Promotion gate of `TrainFlow`: ✅ passed" in artifact_text(project, parent, "gate/report.md")
        for step, suite in (("start", "raw_data"), ("evaluate", "predictions")):
            paths = {a.path for a in client(uri).list_artifacts(tasks[step], "checks")}
            assert paths == {f"checks/{suite}.json", f"checks/{suite}.html"}

        done = run_flow(sample, "br-feature-abc123", "br-auth-1", uri, **as_branch)
        assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
        assert champion(project) == "1"
        dev = f"{project.model}-dev"  # the branch registered under its own name
        assert "branchline.gate" not in client(uri).get_model_version(dev, "1").tags
        parent, _ = flow_runs(uri, slug, "br-auth-1", "TrainFlow/dev")
        report = json.loads(artifact_text(project, parent, "gate/report.json"))
        assert report["dry_run"] and report["champion"]["version"] == "1"
        assert report["action"] == f"dry run: would promote {dev} v1 to champion (now v1)"

        forged = run_flow(sample, "prod", "prod-forged-1", uri, **as_branch)  # a branch claiming to be prod
        assert forged.returncode != 0
        assert "permission denied (403) for user branch" in forged.stdout + forged.stderr
        assert champion(project) == "1"
    finally:
        for key in as_production:
            os.environ.pop(key, None)

