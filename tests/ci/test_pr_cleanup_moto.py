"""`branchline ci pr` and `ci cleanup` as a runner runs them: real processes, moto server, a fake GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from branchline.aws.deploy.observe import job_definitions, state_machine, state_machine_arns
from branchline.aws.session import client
from branchline.ci.jobs import PrOptions, ci_pr
from branchline.config import load_config
from branchline.namespaces import Names, namespace_for_branch
from tests.ci.conftest import HOSTILE, IMAGE, Project, pr_env, run_ci
from tests.ci.fake_github import GitHubServer

pytestmark = pytest.mark.moto

FLOW = "TrainFlow"


def _s3_keys(bucket: str, prefix: str) -> list[str]:
    listed = client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def _outputs(path: Path) -> dict[str, str]:
    """Parse GitHub's `name<<DELIM` output file the way the runner does."""
    lines = path.read_text().split("\n")
    found, index = {}, 0
    while index < len(lines) and lines[index]:
        name, _, delim = lines[index].partition("<<")
        end = lines.index(delim, index + 1)
        found[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return found


def test_pr_from_a_hostile_branch_deploys_its_namespace_and_keeps_one_comment(
    project: Project, github: GitHubServer, tmp_path: Path
) -> None:
    namespace = namespace_for_branch(HOSTILE)
    names = Names(project.name, namespace)
    env = pr_env(tmp_path / "run1", project, HOSTILE, api_url=github.url)

    first = run_ci(project.root, env, "pr", "--image", IMAGE)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == namespace
    assert "hi" not in first.stdout.split() and "hi" not in first.stderr.split()  # nothing went through a shell

    # AWS: the namespace's machine with `live` on version 1, tagged; the code package under its prefix
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    machine = state_machine(client, arn)
    assert machine.aliases["live"] == (f"{arn}:1",)
    assert machine.tags["branchline:namespace"] == namespace
    assert machine.tags["branchline:git-sha"] == project.sha
    (code_key,) = _s3_keys(project.infra.bucket, f"{names.s3_prefix()}/code/")
    revisions = {jd.arn for jd in job_definitions(client, names)}
    assert len(revisions) == 3

    # GitHub: listed the comments, then created one, with what was deployed
    assert github.fake.calls == ["GET /repos/acme/churn/issues/7/comments", "POST /repos/acme/churn/issues/7/comments"]
    (comment,) = github.fake.on_issue(7)
    body = comment["body"]
    assert body.startswith("<!-- branchline:pr -->\n")
    for expected in (namespace, names.state_machine(FLOW), IMAGE, f"s3://{project.infra.bucket}/{code_key}",
                     f"`{HOSTILE}`",
                     "#/statemachines/view/", "actions/runs/4242", "Smoke run**: not requested"):
        assert expected in body, expected
    assert "| deploy | 6 AWS changes |" in body  # 3 job definitions, the machine, its alias, its record
    assert "TrainFlow`: ⚪ unavailable — no smoke run of this flow to judge" in body

    # the runner's files: outputs and the summary (the same Markdown, without the hidden marker)
    outputs = _outputs(tmp_path / "run1" / "output")
    assert outputs["namespace"] == namespace
    assert outputs["image"] == IMAGE
    summary = (tmp_path / "run1" / "summary.md").read_text()
    assert summary == body.removeprefix("<!-- branchline:pr -->\n")

    # second run of the same commit: the same comment updated, no deploy call
    github.fake.requests.clear()
    second = run_ci(project.root, pr_env(tmp_path / "run2", project, HOSTILE, api_url=github.url), "pr",
                    "--image", IMAGE)
    assert second.returncode == 0, second.stderr
    assert github.fake.calls == ["GET /repos/acme/churn/issues/7/comments",
                                 f"PATCH /repos/acme/churn/issues/comments/{comment['id']}"]
    (updated,) = github.fake.on_issue(7)
    assert updated["id"] == comment["id"]
    assert "| deploy | up to date (no change) |" in updated["body"]
    assert "nothing to do" in second.stderr
    assert state_machine(client, arn).versions == machine.versions
    assert {jd.arn for jd in job_definitions(client, names)} == revisions


def test_pr_with_smoke_run_reports_its_status(project: Project, github: GitHubServer, tmp_path: Path) -> None:
    env = pr_env(tmp_path, project, "feature/smoke", number=12, api_url=github.url)
    done = run_ci(project.root, env, "pr", "--image", IMAGE, "--smoke")
    assert done.returncode == 0, done.stderr
    (comment,) = github.fake.on_issue(12)
    assert "**Smoke run** of `TrainFlow`: ✅ SUCCEEDED" in comment["body"]
    names = Names(project.name, namespace_for_branch("feature/smoke"))
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    (execution,) = client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    described = client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert '"params": {"alpha": 0.125, "epochs": 1}' in described["input"]
    assert f"run `{execution['name']}`" in comment["body"]
    # the real gate is asked about this run; without Docker no task ran, so MLflow has no run to judge
    assert "**Gate (dry run against production's champion)**" in comment["body"]
    (verdict,) = [line for line in comment["body"].splitlines() if line.startswith("- `TrainFlow`: ")]
    assert "unavailable" in verdict and execution["name"] in verdict


def test_pr_checks_everything_before_any_work(project: Project, tmp_path: Path) -> None:
    env = pr_env(tmp_path, project, "feature/x")  # no GITHUB_TOKEN
    done = run_ci(project.root, env, "pr", "--image", IMAGE)
    assert done.returncode == 1
    assert "GITHUB_TOKEN is not set" in done.stderr and "--no-comment" in done.stderr
    assert _s3_keys(project.infra.bucket, f"branchline/{project.name}/") == []

    closed = pr_env(tmp_path / "closed", project, "feature/x", action="closed")
    done = run_ci(project.root, closed, "pr", "--image", IMAGE, "--no-comment")
    assert done.returncode == 1 and "branchline ci cleanup" in done.stderr


def test_cleanup_of_a_closed_pr_from_a_hostile_branch_leaves_nothing(
    project: Project, github: GitHubServer, tmp_path: Path
) -> None:
    namespace = namespace_for_branch(HOSTILE)
    names = Names(project.name, namespace)
    opened = pr_env(tmp_path / "open", project, HOSTILE)
    ci_pr(opened, PrOptions(image=IMAGE, comment=False), Console(quiet=True), config=load_config(project.root))
    assert names.state_machine(FLOW) in state_machine_arns(client)
    assert _s3_keys(project.infra.bucket, names.s3_prefix() + "/")

    reopened = pr_env(tmp_path / "sync", project, HOSTILE, action="synchronize", api_url=github.url)
    refused = run_ci(project.root, reopened, "cleanup")
    assert refused.returncode == 1 and "tears down closed pull requests" in refused.stderr

    github.fake.open_pull(7, HOSTILE)
    github.fake.close_pull(7)
    closed = pr_env(tmp_path / "closed", project, HOSTILE, action="closed", api_url=github.url)
    done = run_ci(project.root, closed, "cleanup")
    assert done.returncode == 0, done.stderr
    (asked,) = [r for r in github.fake.requests if r.path == f"/repos/{github.fake.repository}/pulls"]
    assert asked.query["head"] == [f"acme:{HOSTILE}"] and asked.query["state"] == ["open"]
    assert names.state_machine(FLOW) not in state_machine_arns(client)
    assert job_definitions(client, names) == []
    assert _s3_keys(project.infra.bucket, names.s3_prefix() + "/") == []
    assert "cleanup of namespace" in (tmp_path / "closed" / "summary.md").read_text()


def test_cleanup_spares_a_namespace_another_open_pr_of_the_branch_uses(
    project: Project, github: GitHubServer, tmp_path: Path
) -> None:
    """Two pull requests from one branch share its namespace: closing the first keeps it, closing the last
    removes it. A fork's same-named branch, open, keeps nothing alive."""
    branch = "feature/shared"
    names = Names(project.name, namespace_for_branch(branch))
    config = load_config(project.root)
    for number in (11, 12):
        github.fake.open_pull(number, branch)
        ci_pr(pr_env(tmp_path / f"open{number}", project, branch, number=number), PrOptions(image=IMAGE, comment=False),
              Console(quiet=True), config=config)
    github.fake.open_pull(13, branch, head_repository="mallory/churn")

    github.fake.close_pull(11)
    first = run_ci(project.root, pr_env(tmp_path / "close11", project, branch, number=11, action="closed",
                                        api_url=github.url), "cleanup")
    assert first.returncode == 0, first.stderr
    assert f"namespace {names.namespace} kept" in first.stderr and "#12" in first.stderr and "#13" not in first.stderr
    assert names.state_machine(FLOW) in state_machine_arns(client)
    assert "kept: still used by open pull request(s) #12" in (tmp_path / "close11" / "summary.md").read_text()

    github.fake.close_pull(12)
    last = run_ci(project.root, pr_env(tmp_path / "close12", project, branch, number=12, action="closed",
                                       api_url=github.url), "cleanup")
    assert last.returncode == 0, last.stderr
    assert names.state_machine(FLOW) not in state_machine_arns(client)
    assert _s3_keys(project.infra.bucket, names.s3_prefix() + "/") == []


def test_cleanup_without_a_token_tears_nothing_down(project: Project, tmp_path: Path) -> None:
    """It cannot tell whether another pull request still uses the namespace: it says so and keeps it."""
    branch = "feature/notoken"
    names = Names(project.name, namespace_for_branch(branch))
    ci_pr(pr_env(tmp_path / "open", project, branch), PrOptions(image=IMAGE, comment=False), Console(quiet=True),
          config=load_config(project.root))
    done = run_ci(project.root, pr_env(tmp_path / "closed", project, branch, action="closed"), "cleanup")
    assert done.returncode == 1
    assert "GITHUB_TOKEN is not set: cannot list the open pull requests of this branch" in done.stderr
    assert "pull-requests: read" in done.stderr and "Traceback" not in done.stderr
    assert names.state_machine(FLOW) in state_machine_arns(client)


def test_an_older_run_that_deploys_second_is_superseded_and_changes_nothing(
    project: Project, github: GitHubServer, tmp_path: Path
) -> None:
    """Two pushes racing: run 6 (the newer push) deployed first; run 5 then finds a newer deploy, exits 0 and
    writes no comment, so the namespace and the PR comment keep describing the newer commit."""
    branch = "feature/race"
    names = Names(project.name, namespace_for_branch(branch))
    newer = pr_env(tmp_path / "run6", project, branch, number=21, api_url=github.url) | {"GITHUB_RUN_NUMBER": "6"}
    done = run_ci(project.root, newer, "pr", "--image", IMAGE)
    assert done.returncode == 0, done.stderr
    (comment,) = github.fake.on_issue(21)
    older = pr_env(tmp_path / "run5", project, branch, number=21, api_url=github.url) | {"GITHUB_RUN_NUMBER": "5"}
    late = run_ci(project.root, older, "pr", "--image", IMAGE.replace("b" * 64, "c" * 64))
    assert late.returncode == 0, late.stderr
    assert "superseded: namespace" in late.stderr and "already has a newer deploy (order 6" in late.stderr
    assert late.stdout == "" and "Traceback" not in late.stderr
    assert github.fake.on_issue(21) == [comment]
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    assert state_machine(client, arn).aliases["live"] == (f"{arn}:1",)
    arns = [jd.arn for jd in job_definitions(client, names)]
    described = client("batch").describe_job_definitions(jobDefinitions=arns)["jobDefinitions"]
    assert len(described) == 3 and {d["containerProperties"]["image"] for d in described} == {IMAGE}
