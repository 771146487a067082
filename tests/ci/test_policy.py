"""Which event may deploy, release or tear down which namespace (pure: context in, namespace or refusal out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from branchline.aws.compile import SourceContext
from branchline.ci.context import CIError, GitHubContext, github_context
from branchline.ci.policy import cleanup_namespace, deploy_source, pr_namespace, release_namespace
from branchline.namespaces import CIEnvironmentError, namespace_for_branch

HOSTILE = 'zzz";echo${IFS}"hi";#'


def ctx(event_name: str, event: dict | None = None, **env: str) -> GitHubContext:
    return GitHubContext(env={"GITHUB_EVENT_NAME": event_name, **env}, event_name=event_name, event=event or {})


def pr(branch: str, action: str = "opened", name: str = "pull_request") -> GitHubContext:
    return ctx(name, {"action": action, "number": 3, "pull_request": {"number": 3}},
               GITHUB_HEAD_REF=branch, GITHUB_REF="refs/pull/3/merge")


def test_a_pull_request_deploys_its_head_branch_namespace_even_when_it_is_named_main() -> None:
    assert pr(HOSTILE).pr_number == 3
    assert pr_namespace(pr(HOSTILE), "main") == namespace_for_branch(HOSTILE)
    assert pr_namespace(pr("main"), "main") == namespace_for_branch("main") != "prod"
    assert pr_namespace(pr("release"), "release").startswith("br-release-")


@pytest.mark.parametrize(("context", "message"), [
    (pr("x", name="pull_request_target"), "refuses pull_request_target"),
    (ctx("push", GITHUB_REF="refs/heads/x"), "runs on pull_request events, not 'push'"),
    (pr("x", action="closed"), "this pull request is closed"),
])
def test_ci_pr_refuses_other_events(context: GitHubContext, message: str) -> None:
    with pytest.raises(CIError, match=message):
        pr_namespace(context, "main")


def test_a_pull_request_without_its_head_ref_names_the_variable() -> None:
    with pytest.raises(CIEnvironmentError, match="GITHUB_HEAD_REF is not set"):
        pr_namespace(ctx("pull_request", {"action": "opened"}), "main")


def test_release_only_for_a_push_to_the_production_branch() -> None:
    assert release_namespace(ctx("push", GITHUB_REF="refs/heads/main"), "main") == "prod"
    assert release_namespace(ctx("push", GITHUB_REF="refs/heads/trunk"), "trunk") == "prod"
    with pytest.raises(CIError, match="not on a 'pull_request' event"):
        release_namespace(pr("main"), "main")
    with pytest.raises(CIError, match="not from refs/heads/feature"):
        release_namespace(ctx("push", GITHUB_REF="refs/heads/feature"), "main")
    with pytest.raises(CIError, match="not from refs/tags/v1"):
        release_namespace(ctx("push", GITHUB_REF="refs/tags/v1"), "main")
    with pytest.raises(CIError, match="'workflow_dispatch' event"):
        release_namespace(ctx("workflow_dispatch", GITHUB_REF="refs/heads/main"), "main")


def test_cleanup_only_for_a_closed_pull_request_and_never_prod() -> None:
    assert cleanup_namespace(pr(HOSTILE, "closed"), "main") == namespace_for_branch(HOSTILE)
    assert cleanup_namespace(pr("main", "closed"), "main") != "prod"
    with pytest.raises(CIError, match="this one is 'synchronize'"):
        cleanup_namespace(pr("x", "synchronize"), "main")
    with pytest.raises(CIError, match="not 'push'"):
        cleanup_namespace(ctx("push", GITHUB_REF="refs/heads/main"), "main")


def test_context_reads_the_event_file_and_checks_what_goes_into_urls(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": 41, "head": {"sha": "abc"}}}))
    got = github_context({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
                          "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "9", "GITHUB_API_URL": "http://x/"})
    assert (got.pr_number, got.head_sha, got.action, got.api_url) == (41, "abc", "opened", "http://x")
    assert got.run_url == "https://github.com/o/r/actions/runs/9"
    assert ctx("pull_request", GITHUB_REF="refs/pull/8/merge").pr_number == 8
    with pytest.raises(CIError, match="no pull request number"):
        _ = ctx("pull_request", {"number": "8; rm"}).pr_number
    with pytest.raises(CIError, match="is not OWNER/NAME"):
        _ = ctx("pull_request", GITHUB_REPOSITORY="o/r/../../x").repository
    with pytest.raises(CIError, match="not a GitHub Actions job"):
        github_context({})
    event.write_text("{not json")
    with pytest.raises(CIError, match="is not JSON"):
        github_context({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(event)})
    with pytest.raises(CIError, match="cannot read the event file"):
        github_context({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(tmp_path / "missing.json")})


def test_a_deploy_records_the_head_branch_or_the_pushed_one_and_the_repository() -> None:
    where = {"GITHUB_REPOSITORY": "acme/churn", "GITHUB_SERVER_URL": "https://github.example/"}
    assert deploy_source(ctx("pull_request", GITHUB_HEAD_REF=HOSTILE, GITHUB_REF="refs/pull/3/merge", **where)) == \
        SourceContext(branch=HOSTILE, repository="acme/churn", server_url="https://github.example")
    assert deploy_source(ctx("push", GITHUB_REF="refs/heads/main", **where)).branch == "main"
    assert deploy_source(ctx("push", GITHUB_REF="refs/tags/v1", **where)).branch is None
    with pytest.raises(CIError, match="GITHUB_REPOSITORY"):  # it goes into links: checked like the API's paths
        deploy_source(ctx("push", GITHUB_REF="refs/heads/main", GITHUB_REPOSITORY="a/b/../c"))
