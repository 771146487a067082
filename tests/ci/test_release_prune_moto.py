"""`branchline ci release` and `ci prune` on a moto server, run as the workflows run them."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchline.aws.deploy import deploy
from branchline.aws.deploy.observe import state_machine, state_machine_arns
from branchline.aws.session import client
from branchline.config import load_config
from branchline.namespaces import Names, namespace_for_branch
from tests.ci.conftest import HOSTILE, IMAGE, Project, git, pr_env, push_env, run_ci, runner_env
from tests.ci.fake_github import GitHubServer

pytestmark = pytest.mark.moto

FLOW = "TrainFlow"


def _machines(project: str) -> set[str]:
    return {name for name in state_machine_arns(client) if name.startswith(f"{project}-")}


def test_release_is_refused_on_a_pull_request_and_on_a_push_to_another_branch(
    project: Project, tmp_path: Path
) -> None:
    from_pr = run_ci(project.root, pr_env(tmp_path / "pr", project, "main"), "release", "--image", IMAGE)
    assert from_pr.returncode == 1
    assert "deploys prod only on a push to main, not on a 'pull_request' event" in from_pr.stderr
    other = run_ci(project.root, push_env(tmp_path / "push", project, "develop"), "release", "--image", IMAGE)
    assert other.returncode == 1
    assert "only from refs/heads/main, not from refs/heads/develop" in other.stderr
    assert _machines(project.name) == set()


def test_release_deploys_prod_and_moves_live(project: Project, tmp_path: Path,
                                            protected_github: GitHubServer) -> None:
    api = protected_github.url
    done = run_ci(project.root, push_env(tmp_path / "one", project, "main", api_url=api), "release",
                  "--image", project.prod_image)
    assert done.returncode == 0, done.stderr
    names = Names(project.name, "prod")
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    assert state_machine(client, arn).aliases["live"] == (f"{arn}:1",)
    assert "### branchline: release — namespace `prod`" in done.stdout
    assert f"{FLOW}: {arn}:live -> version 1" in done.stderr

    # a new commit with new flow code: a new version, and live follows it
    (project.root / "flows" / "train.py").write_text((project.root / "flows" / "train.py").read_text() + "\n# v2\n")
    git(project.root, "commit", "-qam", "v2")
    newer = Project(project.root, project.name, git(project.root, "rev-parse", "HEAD"), project.infra,
                    project.prod_image)
    done = run_ci(project.root, push_env(tmp_path / "two", newer, "main", api_url=api), "release",
                  "--image", project.prod_image)
    assert done.returncode == 0, done.stderr
    machine = state_machine(client, arn)
    assert [v.description for v in machine.versions] == [project.sha, newer.sha]
    assert machine.aliases["live"] == (f"{arn}:2",)
    # each release tagged the image it deployed prod-<sha>: the lifecycle rule keeps it for rollbacks
    repository = project.prod_image.split("@")[0].split("/", 1)[1]
    tags = client("ecr").describe_images(repositoryName=repository)["imageDetails"][0]["imageTags"]
    assert {f"prod-{project.sha}", f"prod-{newer.sha}"} <= set(tags)


def test_a_pull_request_from_the_production_branch_name_never_touches_prod(
    project: Project, tmp_path: Path
) -> None:
    done = run_ci(project.root, pr_env(tmp_path, project, "main"), "pr", "--image", IMAGE, "--no-comment")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == namespace_for_branch("main")
    assert _machines(project.name) == {Names(project.name, namespace_for_branch("main")).state_machine(FLOW)}


def _origin_with(tmp_path: Path, project: Project, branches: list[str]) -> Path:
    """A bare `origin` holding `branches` (and main), cloned setup as the checkout's remote."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(project.root, "remote", "add", "origin", str(origin))
    git(project.root, "push", "-q", "origin", "main")
    for branch in branches:
        git(project.root, "push", "-q", "origin", f"main:refs/heads/{branch}")
    return origin


def test_prune_removes_only_namespaces_of_deleted_branches(project: Project, tmp_path: Path) -> None:
    config = load_config(project.root)
    alive, gone = ["feature/keep", HOSTILE], ["feature/gone", 'x";touch${IFS}pwned;#']
    origin = _origin_with(tmp_path, project, alive + gone)
    for namespace in [*(namespace_for_branch(b) for b in alive + gone), "user-alice", "prod"]:
        image = project.prod_image if namespace == "prod" else IMAGE
        deploy(config, namespace, image=image, code_package=f"s3://{project.infra.bucket}/code.tgz", git_sha="s")
    orphan = namespace_for_branch("only-data")  # a deploy that stopped after its code package upload
    client("s3").put_object(Bucket=project.infra.bucket, Key=f"{Names(project.name, orphan).s3_prefix()}/code/x",
                            Body=b"x")
    for branch in gone:
        git(project.root, "push", "-q", str(origin), "--delete", f"refs/heads/{branch}")
    env = runner_env(tmp_path / "prune", "schedule", {})
    before = _machines(project.name)

    dry = run_ci(project.root, env, "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    expected = sorted([*(namespace_for_branch(b) for b in gone), orphan])
    assert dry.stdout.split() == expected
    assert _machines(project.name) == before

    done = run_ci(project.root, env, "prune")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected
    kept = {Names(project.name, ns).state_machine(FLOW)
            for ns in [*(namespace_for_branch(b) for b in alive), "user-alice", "prod"]}
    assert _machines(project.name) == kept
    assert client("s3").list_objects_v2(Bucket=project.infra.bucket,
                                        Prefix=f"branchline/{project.name}/{orphan}/").get("KeyCount") == 0
    again = run_ci(project.root, env, "prune")
    assert again.returncode == 0 and again.stdout == ""
    assert not (project.root / "pwned").exists()


def test_prune_takes_a_branch_list_and_refuses_one_that_looks_wrong(project: Project, tmp_path: Path) -> None:
    config = load_config(project.root)
    for branch in ("a", "b"):
        deploy(config, namespace_for_branch(branch), image=IMAGE, code_package="s3://x/code.tgz", git_sha="s")
    env = runner_env(tmp_path / "prune", "workflow_dispatch", {})
    listed = tmp_path / "branches.txt"

    listed.write_text("a\nb\n")  # no main: a truncated list must not wipe namespaces
    refused = run_ci(project.root, env, "prune", "--branches-file", str(listed))
    assert refused.returncode == 1 and "does not contain the production branch 'main'" in refused.stderr
    listed.write_text("")
    refused = run_ci(project.root, env, "prune", "--branches-file", str(listed))
    assert refused.returncode == 1 and "the branch list is empty" in refused.stderr
    assert len(_machines(project.name)) == 2

    listed.write_text("main\nrefs/heads/a\n")
    done = run_ci(project.root, env, "prune", "--branches-file", str(listed))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [namespace_for_branch("b")]
    assert _machines(project.name) == {Names(project.name, namespace_for_branch("a")).state_machine(FLOW)}


def test_release_refuses_an_unprotected_production_environment_before_deploying(
    project: Project, tmp_path: Path, github: GitHubServer
) -> None:
    """A collaborator's workflow named `environment: production` first: GitHub created it without protection."""
    github.fake.workflow_names_environment("production")
    done = run_ci(project.root, push_env(tmp_path, project, "main", api_url=github.url), "release", "--image", IMAGE)
    assert done.returncode == 1
    # The workflow token may not read the Actions approval setting: a note first, then the refusal.
    assert "note: could not read whether GitHub Actions may approve pull requests (HTTP 403)" in done.stderr
    lines = done.stderr.splitlines()
    lines = lines[lines.index("error: production is not limited to 'main' with required reviewers (4 problem(s)):"):]
    assert "can be deployed from any branch (no deployment branch policy)" in lines[1]
    assert "has no required reviewers" in lines[2]
    assert "OIDC subject is not customised" in lines[3]
    assert "branch 'main' is neither protected nor covered by a ruleset" in lines[4]
    assert "Traceback" not in done.stderr
    assert _machines(project.name) == set()  # refused before anything was deployed
