"""The generated GitHub workflows: thin, pinned, least privilege; and actionlint, zizmor and the
workflow JSON schema agree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.template.conftest import Lint, venv_tool

WORKFLOWS = {"ci": "pr", "release": "release", "cleanup": "cleanup", "prune": "prune"}
PINNED_USES = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
AWS_AUTH = "aws-actions/configure-aws-credentials@"


def workflow_path(project: Path, name: str) -> Path:
    return project / ".github" / "workflows" / f"{name}.yml"


def load(project: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load(workflow_path(project, name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_the_four_workflows_exist(default_project: Path) -> None:
    assert sorted(p.stem for p in (default_project / ".github" / "workflows").iterdir()) == sorted(WORKFLOWS)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_action_is_pinned_to_a_commit_sha(default_project: Path, name: str) -> None:
    lines = [line for line in workflow_path(default_project, name).read_text().splitlines() if "uses:" in line]
    assert lines, "each workflow uses actions"
    for line in lines:
        assert PINNED_USES.match(line), f"not pinned to a 40-hex SHA with a `# vX` comment: {line.strip()}"


@pytest.mark.parametrize("name", WORKFLOWS)
def test_permissions_are_minimal_per_job(default_project: Path, name: str) -> None:
    data = load(default_project, name)
    assert data["permissions"] == {}, "nothing granted at workflow level"
    for job_name, job in data["jobs"].items():
        steps = job["steps"]
        uses_aws = any(step.get("uses", "").startswith(AWS_AUTH) for step in steps)
        expected = {"contents": "read"}
        if uses_aws:
            expected["id-token"] = "write"
        if (name, job_name) == ("ci", "pr"):
            expected["pull-requests"] = "write"  # the job that writes the PR comment
        if name == "cleanup":
            expected["pull-requests"] = "read"  # another open pull request of the branch keeps its namespace
        if name == "release":
            expected["actions"] = "read"  # reads the production environment's protection before deploying
        assert job["permissions"] == expected, job_name


@pytest.mark.parametrize("name", WORKFLOWS)
def test_each_job_is_one_branchline_ci_command(default_project: Path, name: str) -> None:
    data = load(default_project, name)
    assert "concurrency" in data and data["concurrency"]["group"]
    for job_name, job in data["jobs"].items():
        runs = [step["run"] for step in job["steps"] if "run" in step]
        ci = [run for run in runs if run.startswith("branchline ")]
        if (name, job_name) == ("ci", "test"):  # the project's own lint + tests, before anything deploys
            assert runs[-1] == "python -m tox" and ci == []
            continue
        assert [run.split(" --")[0] for run in ci] == [f"branchline ci {WORKFLOWS[name]}"]
        assert all(run.startswith("python -m pip install ") for run in runs if run not in ci)
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), "expressions reach scripts through env:, never inline"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_release_runs_only_on_push_to_main_in_the_production_environment(default_project: Path) -> None:
    data = load(default_project, "release")
    assert data["on"] == {"push": {"branches": ["main"]}}
    (job,) = data["jobs"].values()
    assert job["environment"] == "production"
    assert "github.event_name == 'push'" in job["if"] and "github.ref == 'refs/heads/main'" in job["if"]
    role = next(s["with"]["role-to-assume"] for s in job["steps"] if s.get("uses", "").startswith(AWS_AUTH))
    assert role.endswith("-release")


def test_only_release_can_reach_the_release_role(default_project: Path) -> None:
    for name in WORKFLOWS:
        for job in load(default_project, name)["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith(AWS_AUTH):
                    is_release = step["with"]["role-to-assume"].endswith("-release")
                    assert is_release == (name == "release"), name


SECRET = re.compile(r"\$\{\{\s*secrets\.(\w+)\s*\}\}")


def test_secrets_reach_only_the_step_that_needs_them(default_project: Path) -> None:
    """The branch MLflow credential goes to the one `branchline ci pr` step, as `env:` (GitHub masks secrets in
    logs; never in `run:` or an action's `with:`); the test job, which runs the pull request's own code under
    tox, gets none; and no workflow reads production's MLflow credential: the release needs none, so it is not
    stored in GitHub (production's jobs read it from Secrets Manager)."""
    used: dict[tuple[str, str, str], dict[str, str]] = {}
    for name in WORKFLOWS:
        data = load(default_project, name)
        assert not SECRET.search(yaml.safe_dump({k: v for k, v in data.items() if k != "jobs"})), name
        for job_name, job in data["jobs"].items():
            assert not SECRET.search(yaml.safe_dump({k: v for k, v in job.items() if k != "steps"})), job_name
            for step in job["steps"]:
                outside_env = {k: v for k, v in step.items() if k != "env"}
                assert not SECRET.search(yaml.safe_dump(outside_env)), (name, job_name, step)
                env = {k: SECRET.findall(str(v)) for k, v in (step.get("env") or {}).items()}
                if any(env.values()):
                    used[(name, job_name, step.get("run", ""))] = {k: v[0] for k, v in env.items() if v}
    assert used == {("ci", "pr", "branchline ci pr --smoke"): {"MLFLOW_TRACKING_USERNAME": "MLFLOW_BRANCH_USERNAME",
                                                               "MLFLOW_TRACKING_PASSWORD": "MLFLOW_BRANCH_PASSWORD"}}


def test_no_workflow_shares_a_cache_with_the_release(default_project: Path) -> None:
    """A pull request's job could write a cache entry that main's release job restores (cache poisoning):
    no generated workflow restores or saves a cache, nor lets setup-python do it."""
    for name in WORKFLOWS:
        for job in load(default_project, name)["jobs"].values():
            for step in job["steps"]:
                uses = step.get("uses", "")
                assert not uses.startswith(("actions/cache@", "actions/cache/")), (name, uses)
                assert "cache" not in (step.get("with") or {}), (name, uses)


def test_pull_request_jobs_that_assume_a_role_skip_forks(default_project: Path) -> None:
    """Fork pull requests get no OIDC token anyway; the jobs also say so, and nothing runs on
    `pull_request_target` (a fork's code with the base repository's secrets)."""
    for name in WORKFLOWS:
        data = load(default_project, name)
        assert "pull_request_target" not in data["on"] and "workflow_run" not in data["on"], name
        if "pull_request" not in data["on"]:
            continue
        for job_name, job in data["jobs"].items():
            if job["permissions"].get("id-token") == "write":
                assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository", job_name


def test_triggers(default_project: Path) -> None:
    assert load(default_project, "ci")["on"] == {"pull_request": {"types": ["opened", "synchronize", "reopened"]}}
    assert load(default_project, "cleanup")["on"] == {"pull_request": {"types": ["closed"]}}
    prune = load(default_project, "prune")["on"]
    assert set(prune) == {"schedule", "workflow_dispatch"}
    # A teardown must cancel a deploy of the same pull request: both share a concurrency group.
    ci_group = load(default_project, "ci")["concurrency"]["group"]
    assert ci_group == load(default_project, "cleanup")["concurrency"]["group"]
    assert "github.event.pull_request.number" in ci_group
    # Deploys and teardowns of one namespace queue behind each other: a job-level group keyed by the head
    # repository and branch (two pull requests of one branch share a namespace; a fork's never deploys).
    deploy = load(default_project, "ci")["jobs"]["pr"]["concurrency"]
    teardown = load(default_project, "cleanup")["jobs"]["cleanup"]["concurrency"]
    assert deploy == teardown
    assert deploy["cancel-in-progress"] is False
    assert "github.head_ref" in deploy["group"] and "pull_request.head.repo.full_name" in deploy["group"]


def test_dependabot_updates_actions_the_lock_and_the_base_image(default_project: Path) -> None:
    data = yaml.safe_load((default_project / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {update["package-ecosystem"]: update for update in data["updates"]}
    assert set(updates) == {"github-actions", "pip", "docker"}
    assert all(update["cooldown"]["default-days"] >= 7 for update in updates.values())
    assert (default_project / "requirements.in").is_file() and updates["pip"]["directory"] == "/"
    watched = default_project / updates["docker"]["directory"].lstrip("/") / "Dockerfile"
    assert watched.read_text(encoding="utf-8").splitlines()[-1].startswith("FROM python:3.11-slim@sha256:")


def test_actionlint(default_project: Path, actionlint: Lint) -> None:
    files = sorted((default_project / ".github" / "workflows").glob("*.yml"))
    assert actionlint(files) == []


def test_actionlint_catches_an_injection(tmp_path: Path, actionlint: Lint) -> None:
    """The linter is live: a workflow with an untrusted expression inlined in a script is reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    assert [finding["kind"] for finding in actionlint([bad])] == ["expression"]


def test_zizmor_offline_finds_nothing(default_project: Path) -> None:
    zizmor = venv_tool("zizmor", "zizmor")
    done = subprocess.run(
        [str(zizmor), "--offline", "--no-progress", "--persona", "pedantic", str(default_project / ".github")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("schema", "glob"),
    [("vendor.github-workflows", "workflows/*.yml"), ("vendor.dependabot", "dependabot.yml")],
)
def test_files_match_their_json_schema(default_project: Path, schema: str, glob: str) -> None:
    checker = venv_tool("check-jsonschema", "check-jsonschema")
    files = sorted(str(p) for p in (default_project / ".github").glob(glob))
    done = subprocess.run(
        [str(checker), "--builtin-schema", schema, *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
