"""Which namespaces a prune removes, and how branches are read (pure parts, and real git)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from branchline.ci.context import CIError
from branchline.ci.prune import git_auth_env, parse_ls_remote, read_branches_file, remote_branches, stale_namespaces
from branchline.namespaces import namespace_for_branch
from tests.ci.conftest import HOSTILE, git


def test_only_branch_namespaces_without_a_branch_are_stale() -> None:
    deployed = [namespace_for_branch(b) for b in ("main", "a", "gone", HOSTILE)] + ["prod", "user-alice"]
    assert stale_namespaces(deployed, ["main", "a", HOSTILE], "main") == [namespace_for_branch("gone")]
    assert stale_namespaces(deployed, ["main", "a", "gone", HOSTILE], "main") == []


def test_ls_remote_output_and_branch_files_keep_names_exact(tmp_path: Path) -> None:
    raw = f"abc\trefs/heads/main\ndef\trefs/heads/{HOSTILE}\nfff\trefs/tags/v1\n".encode()
    assert parse_ls_remote(raw) == ["main", HOSTILE]
    listed = tmp_path / "b.txt"
    listed.write_text(f"main\r\n\nrefs/heads/x\n{HOSTILE}\nodd\u2028name\n", encoding="utf-8")
    assert read_branches_file(listed) == ["main", "x", HOSTILE, "odd\u2028name"]
    with pytest.raises(CIError, match="not UTF-8"):
        parse_ls_remote(b"abc\trefs/heads/\xff\n")


def test_the_token_reaches_git_through_the_environment_scoped_to_the_server() -> None:
    env = git_auth_env({"GITHUB_TOKEN": "t0k", "GITHUB_SERVER_URL": "https://ghe.example.invalid"})
    assert env["GIT_CONFIG_KEY_0"] == "http.https://ghe.example.invalid/.extraheader"
    assert base64.b64decode(env["GIT_CONFIG_VALUE_0"].split()[-1]) == b"x-access-token:t0k"
    assert git_auth_env({}) == {"GIT_TERMINAL_PROMPT": "0"}


def test_remote_branches_lists_a_real_remote_and_names_a_broken_one(tmp_path: Path) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", "x")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main", f"main:refs/heads/{HOSTILE}")
    assert sorted(remote_branches(work, {})) == sorted(["main", HOSTILE])
    with pytest.raises(CIError, match="`git ls-remote --heads nowhere` failed"):
        remote_branches(work, {}, remote="nowhere")
