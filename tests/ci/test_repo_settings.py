"""Production reachable only from `main`, checked: the repository's settings read over HTTP from the GitHub
stand-in (as GitHub documents the endpoints), judged, and refused with one line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from branchline.ci.repo_settings import SettingsCheck, check_production, expected_subjects
from tests.ci.conftest import REPOSITORY, TOKEN
from tests.ci.fake_github import ADMIN_TOKEN_PERMISSIONS, JOB_TOKEN_PERMISSIONS, GitHubServer

BRANCHLINE = Path(sys.executable).parent / "branchline"


def _check(github: GitHubServer, branch: str = "main", token: str = TOKEN) -> SettingsCheck:
    return check_production(github.url, token, REPOSITORY, branch)


def _problems(verdict: SettingsCheck) -> list[str]:
    return [p.message for p in verdict.problems]


def test_the_documented_settings_pass(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    verdict = _check(github)
    assert verdict.ok, _problems(verdict)
    assert verdict.passed == [
        "environment 'production' is limited to the branch 'main'",
        "environment 'production' requires a review (1 reviewer(s) or team(s))",
        "OIDC subjects carry the ref (include_claim_keys ['repo', 'context', 'ref'])",
        "branch 'main' is protected (a ruleset requiring pull requests)",
    ]
    # the job token may not read the workflow permissions (administration): said, not guessed
    assert [n.message.split(" (HTTP")[0] for n in verdict.notes] == [
        "could not read whether GitHub Actions may approve pull requests"]
    paths = {r.path for r in github.fake.requests}
    assert {f"/repos/{REPOSITORY}/environments/production",
            f"/repos/{REPOSITORY}/environments/production/deployment-branch-policies",
            f"/repos/{REPOSITORY}/actions/oidc/customization/sub", f"/repos/{REPOSITORY}/branches/main",
            f"/repos/{REPOSITORY}/rules/branches/main", f"/repos/{REPOSITORY}/actions/permissions/workflow"} == paths
    assert {r.method for r in github.fake.requests} == {"GET"}  # reading only, never changing settings


def test_an_environment_github_created_because_a_workflow_named_it_is_refused(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.environments.clear()
    github.fake.workflow_names_environment("production")
    assert _problems(_check(github)) == [
        "environment 'production' can be deployed from any branch (no deployment branch policy)",
        "environment 'production' has no required reviewers: every push to the production branch deploys "
        "production without a person approving it",
    ]


def test_a_missing_environment_is_refused(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.environments.clear()
    (problem,) = _check(github).problems
    assert problem.message.startswith("the GitHub environment 'production' does not exist")


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ((("main", "branch"), ("release/*", "branch")),
         ["environment 'production' also admits the branch rule 'release/*': only 'main' may deploy"]),
        ((("main", "branch"), ("v*", "tag")),
         ["environment 'production' also admits the tag rule 'v*': only 'main' may deploy"]),
        ((("*", "branch"),),
         ["environment 'production' also admits the branch rule '*': only 'main' may deploy",
          "no deployment branch rule of environment 'production' is 'main'"]),
    ],
)
def test_branch_rules_other_than_main_are_named(github: GitHubServer, rules: tuple[tuple[str, str], ...],
                                                expected: list[str]) -> None:
    github.fake.production_as_documented("main")
    github.fake.protect_environment("production", branches=rules)
    assert _problems(_check(github)) == expected


def test_protected_branches_admit_more_than_main(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.protect_environment("production", protected_branches=True)
    assert _problems(_check(github)) == ["environment 'production' admits every protected branch, not only 'main'"]


def test_no_reviewers_is_refused_and_weak_review_is_noted(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.protect_environment("production", reviewers=0)
    assert [p.split(":")[0] for p in _problems(_check(github))] == [
        "environment 'production' has no required reviewers"]
    github.fake.protect_environment("production", reviewers=2, prevent_self_review=False)
    github.fake.environments["production"]["can_admins_bypass"] = True
    verdict = _check(github)
    assert verdict.ok
    assert [n.message for n in verdict.notes][:2] == [
        "reviewers of 'production' may approve their own runs",
        "administrators may bypass the protection rules of 'production'"]


def test_oidc_subject_must_carry_the_ref_and_an_unreadable_one_is_a_note(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.oidc = {"use_default": True}
    (problem,) = _check(github).problems
    assert problem.message.startswith("the repository's OIDC subject is not customised to ['repo', 'context', 'ref']")
    assert '"include_claim_keys": ["repo", "context", "ref"]' in problem.hint
    github.fake.customise_oidc_subject(["repo", "context"])
    assert len(_check(github).problems) == 1
    github.fake.oidc_readable = False  # the job token may be refused this endpoint
    verdict = _check(github)
    assert verdict.ok and verdict.notes[0].message.startswith("could not read the repository's OIDC subject")


def test_an_unprotected_main_is_refused(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.protect_branch("main", classic=False, ruleset_rules=("deletion",))  # a ruleset, but no reviews
    (problem,) = _check(github).problems
    assert problem.message.startswith("branch 'main' is neither protected nor covered by a ruleset")
    github.fake.protect_branch("main", classic=True)
    assert _check(github).passed[-1] == "branch 'main' is protected (branch protection)"


def test_workflows_that_may_approve_pull_requests_are_refused(github: GitHubServer) -> None:
    """The pr job hands a pull request's code a token that may write pull requests: where GitHub Actions may
    approve them, that code approves itself (as github-actions[bot]) and reaches main without a person."""
    github.fake.production_as_documented("main")
    github.fake.permissions = ADMIN_TOKEN_PERMISSIONS  # `branchline infra check` with an admin's token
    verdict = _check(github)
    assert verdict.ok and verdict.notes == []
    assert verdict.passed[-1] == "GitHub Actions may not approve pull requests"
    github.fake.workflow_permissions["can_approve_pull_request_reviews"] = True
    (problem,) = _check(github).problems
    assert problem.message.startswith("GitHub Actions may approve pull requests: a pull request's code")
    assert "untick 'Allow GitHub Actions to create and approve pull requests'" in problem.hint
    github.fake.permissions = JOB_TOKEN_PERMISSIONS  # the release job's token cannot see it: a note, not a pass
    verdict = _check(github)
    assert verdict.ok and "GitHub Actions may not approve pull requests" not in verdict.passed
    assert verdict.notes[-1].message.startswith("could not read whether GitHub Actions may approve pull requests")


def test_a_token_without_actions_read_cannot_vouch_for_production(github: GitHubServer) -> None:
    github.fake.production_as_documented("main")
    github.fake.permissions = JOB_TOKEN_PERMISSIONS - {"actions:read"}
    (problem,) = _check(github).problems
    assert problem.message == "cannot read the GitHub environment 'production' (HTTP 403)"
    assert "permissions: actions: read" in problem.hint


def test_another_production_branch_is_checked_by_its_own_name(github: GitHubServer) -> None:
    github.fake.production_as_documented("release/stable")
    assert _check(github, "release/stable").ok
    assert not _check(github, "main").ok
    assert f"/repos/{REPOSITORY}/branches/release%2Fstable" in {r.path for r in github.fake.requests} or any(
        r.path.endswith("/branches/release/stable") for r in github.fake.requests)


def test_expected_subjects_follow_the_customisation() -> None:
    assert expected_subjects("acme/churn", "main") == {
        "release": "repo:acme/churn:environment:production:ref:refs/heads/main",
        "ci": "repo:acme/churn:pull_request:ref:refs/pull/*/merge",
        "prune": "repo:acme/churn:ref:refs/heads/main:ref:refs/heads/main",
    }


def _infra_check(github: GitHubServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pyproject.toml").write_text('[tool.branchline]\nproject = "churn"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env |= {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPOSITORY}
    return subprocess.run([str(BRANCHLINE), "infra", "check"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_infra_check_command_refuses_with_one_line_per_problem(github: GitHubServer, tmp_path: Path) -> None:
    github.fake.workflow_names_environment("production")
    done = _infra_check(github, tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == "error: production is not limited to 'main' with required reviewers (4 problem(s)):"
    assert all(line.startswith("  - ") for line in lines[1:5]) and "hint:" in lines[5]
    assert "Traceback" not in done.stderr


def test_infra_check_command_passes_on_the_documented_settings(github: GitHubServer, tmp_path: Path) -> None:
    github.fake.production_as_documented("main")
    done = _infra_check(github, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "production is reachable only from 'main', with a reviewer" in done.stdout
    assert f"the release role trusts the OIDC subject repo:{REPOSITORY}:environment:production:ref:refs/heads/main" \
        in done.stdout
