"""The GitHub boundary: our requests against a small local server playing the issue-comments endpoints."""

from __future__ import annotations

import pytest

from branchline.ci.context import CIError
from branchline.ci.github import PR_MARKER, GitHub, GitHubError, upsert_comment
from tests.ci.conftest import REPOSITORY, TOKEN
from tests.ci.fake_github import BOT, GitHubServer


def test_create_then_update_sends_the_token_and_the_body(github: GitHubServer) -> None:
    client = GitHub(github.url, TOKEN, REPOSITORY)
    first = upsert_comment(client, 5, "hello")
    assert first.created
    second = upsert_comment(client, 5, "hello again")
    assert (second.created, second.id) == (False, first.id)
    assert [c["body"] for c in github.fake.on_issue(5)] == [f"{PR_MARKER}\nhello again"]
    assert {r.authorization for r in github.fake.requests} == {f"Bearer {TOKEN}"}
    assert github.fake.requests[1].body == {"body": f"{PR_MARKER}\nhello"}


def test_the_marked_comment_is_found_past_the_first_page(github: GitHubServer) -> None:
    for i in range(130):
        github.fake.add_comment(9, f"review {i}")
    marked = github.fake.add_comment(9, f"{PR_MARKER}\nold", BOT)
    result = upsert_comment(GitHub(github.url, TOKEN, REPOSITORY), 9, "new")
    assert (result.created, result.id) == (False, marked)
    pages = [r.query["page"] for r in github.fake.requests if r.method == "GET"]
    assert pages == [["1"], ["2"]]


def test_a_person_quoting_the_marker_is_not_overwritten(github: GitHubServer) -> None:
    human = github.fake.add_comment(4, f"{PR_MARKER}\nI copied the bot")
    result = upsert_comment(GitHub(github.url, TOKEN, REPOSITORY), 4, "report")
    assert result.created and result.id != human
    assert github.fake.comments[human]["body"] == f"{PR_MARKER}\nI copied the bot"


def test_errors_name_the_call_and_the_fix(github: GitHubServer) -> None:
    with pytest.raises(GitHubError, match=r"HTTP 401 Bad credentials") as bad:
        upsert_comment(GitHub(github.url, "wrong", REPOSITORY), 1, "x")
    assert "pull-requests: write" in str(bad.value)
    with pytest.raises(GitHubError, match="HTTP 404") as missing:
        upsert_comment(GitHub(github.url, TOKEN, "other/repo"), 1, "x")
    assert "GITHUB_REPOSITORY" in str(missing.value)
    with pytest.raises(CIError, match="GITHUB_TOKEN is not set"):
        GitHub(github.url, "", REPOSITORY)
