"""The hooks: every bad answer stops generation with one line and leaves nothing behind; a good render
is a git repository with one clean commit and a `.cruft.json` that cruft can use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from tests.template.rendering import REPO_ROOT, TEMPLATE_DIR_NAME, git, load_hook, render, run_cookiecutter_cli

# (answers, the field named in the error, a phrase of the message)
INVALID: list[tuple[dict[str, str], str, str]] = [
    ({"project": "My Project"}, "project", "contains spaces"),
    ({"project": "MyProject"}, "project", "contains upper case"),
    ({"project": "1project"}, "project", "starts with a digit"),
    ({"project": "a" * 41}, "project", "41 characters long"),
    ({"project": "my_project"}, "project", "other than a-z, 0-9 and '-'"),
    ({"project": "trailing-"}, "project", "ends with or repeats '-'"),
    ({"project": "double--dash"}, "project", "ends with or repeats '-'"),
    ({"project_name": "   ", "project": "named"}, "project_name", "is empty"),
    ({"package": "my-package"}, "package", "not a lowercase Python identifier"),
    ({"package": "class"}, "package", "is a Python keyword"),
    ({"package": "json"}, "package", "would shadow"),
    ({"package": "platform"}, "package", "would shadow"),
    ({"package": "test"}, "package", "would shadow"),
    ({"package": "branchline"}, "package", "would shadow"),
    ({"description": "two\nlines"}, "description", "line break"),
    ({"author": ""}, "author", "is empty"),
    ({"github_org": "-my-org"}, "github_org", "not a GitHub organisation"),
    ({"github_org": "my_org"}, "github_org", "not a GitHub organisation"),
    ({"aws_region": "europe-west"}, "aws_region", "not an AWS region"),
    ({"aws_region": "EU-WEST-1"}, "aws_region", "not an AWS region"),
    ({"aws_account_id": "12345678901"}, "aws_account_id", "not 12 digits"),
    ({"aws_account_id": "1234567890ab"}, "aws_account_id", "not 12 digits"),
    ({"artifact_bucket": "My_Bucket"}, "artifact_bucket", "not a valid S3 bucket name"),
    ({"artifact_bucket": "ab"}, "artifact_bucket", "not a valid S3 bucket name"),
    ({"artifact_bucket": "a" * 64}, "artifact_bucket", "not a valid S3 bucket name"),
    ({"artifact_bucket": "my..bucket"}, "artifact_bucket", "adjacent"),
    ({"artifact_bucket": "192.168.1.10"}, "artifact_bucket", "IP address"),
    ({"artifact_bucket": "xn--bucket"}, "artifact_bucket", "reserves"),
    ({"mlflow_tracking_uri": "ftp://mlflow.example.com"}, "mlflow_tracking_uri", "unsupported scheme"),
    ({"mlflow_tracking_uri": "mlflow.example.com"}, "mlflow_tracking_uri", "unsupported scheme"),
    ({"python_version": "3.10"}, "python_version", "not supported"),
    ({"python_version": "3.14"}, "python_version", "not supported"),
    ({"branchline_source": "numpy>=2"}, "branchline_source", "not a requirement for branchline"),
    ({"branchline_source": "branchline[aws] @ file:///x"}, "branchline_source", "no extras"),
    ({"branchline_source": "branchline @ /not/a/url"}, "branchline_source", "not a requirement"),
    ({"branchline_source": "branchline"}, "branchline_source", "not pinned to an exact revision"),
    ({"branchline_source": "branchline>=0.1,<1"}, "branchline_source", "not pinned to an exact revision"),
    ({"branchline_source": "branchline @ git+https://github.com/o/branchline@main#subdirectory=platform"},
     "branchline_source", "not pinned to an exact revision"),
    ({"branchline_source": "branchline @ git+ssh://git@github.com/org/branchline@v1#subdirectory=platform"},
     "branchline_source", "not pinned to an exact revision"),
    ({"branchline_source": "branchline @ https://example.com/branchline-0.1.0-py3-none-any.whl"},
     "branchline_source", "not pinned to an exact revision"),
]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
VALID_EDGE_CASES: list[dict[str, str]] = [
    {"project": "a", "package": "a_pkg"},
    {"project": "a" * 40},
    {"github_org": "a"},
    {"aws_region": "us-gov-west-1"},
    {"artifact_bucket": "a.b-c"},
    {"mlflow_tracking_uri": "http://127.0.0.1:5000"},
    {"mlflow_tracking_uri": "file:./mlruns"},
    {"mlflow_tracking_uri": "databricks://profile"},
    {"branchline_source": "branchline==0.1.0"},
    {"branchline_source": f"branchline @ git+ssh://git@github.com/org/branchline@{COMMIT}#subdirectory=platform"},
    {"branchline_source": f"branchline @ https://example.com/branchline-0.1.0-py3-none-any.whl#sha256={'a' * 64}"},
    {"branchline_source": "branchline @ file:///opt/branchline/platform"},
]


def table_id(case: tuple[dict[str, str], str, str]) -> str:
    answers, field, _ = case
    return f"{field}={next(iter(answers.values()))!r}"[:50]


@pytest.mark.parametrize("case", INVALID, ids=[table_id(case) for case in INVALID])
def test_invalid_answer_stops_with_one_line_and_leaves_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], case: tuple[dict[str, str], str, str]
) -> None:
    answers, field, phrase = case
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        render(out, **answers)
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"error: {field}: "), err
    assert phrase in err
    problem, allowed = err.removeprefix(f"error: {field}: ").split("; ", 1)
    assert problem and allowed.strip(), "the message says what is wrong and what is allowed"
    assert list(out.iterdir()) == [], "a failed pre-gen hook must leave no directory behind"


@pytest.mark.parametrize("answers", VALID_EDGE_CASES, ids=lambda a: "-".join(a.values())[:50])
def test_valid_edge_cases_pass_validation(answers: dict[str, str]) -> None:
    hook = load_hook("pre_gen_project")
    defaults = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    base = {
        "project_name": defaults["project_name"],
        "project": "iris-classifier",
        "package": "iris_classifier",
        "description": defaults["description"],
        "author": defaults["author"],
        "github_org": defaults["github_org"],
        "aws_region": defaults["aws_region"],
        "aws_account_id": defaults["aws_account_id"],
        "aws_production_account_id": defaults["aws_production_account_id"],
        "artifact_bucket": "iris-classifier-artifacts",
        "mlflow_tracking_uri": "",
        "python_version": "3.11",
        "branchline_source": f"branchline @ git+https://github.com/my-org/branchline@{COMMIT}#subdirectory=platform",
    }
    assert hook.first_error({**base, **answers}) is None


def test_every_prompt_has_a_validator() -> None:
    hook = load_hook("pre_gen_project")
    prompts = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    assert set(hook.VALIDATORS) == {key for key in prompts if not key.startswith("_")}


def test_template_syntax_in_an_answer_is_refused() -> None:
    hook = load_hook("pre_gen_project")
    problem = hook.first_error({"project_name": "x {" + "% raw %" + "}"})
    assert problem is not None and problem.startswith("project_name: contains template syntax")


def test_cookiecutter_cli_reports_the_error_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cookiecutter_cli(out, {"aws_account_id": "42"})
    assert done.returncode == 1
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert error_lines == ["error: aws_account_id: '42' is not 12 digits; use the 12-digit AWS account id"]
    assert list(out.iterdir()) == []


def test_a_slug_with_a_slash_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """cookiecutter creates `a/b` before the hook runs and removes only `b`: the empty `a/` stays."""
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        render(out, project="a/b")
    assert capfd.readouterr().err.startswith("error: project: 'a/b' contains characters other than")
    assert not (out / "a" / "b").exists()


# ------------------------------------------------------------------------------------------ post_gen


def test_project_is_a_git_repo_with_one_clean_commit(default_project: Path) -> None:
    assert git(default_project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(default_project, "rev-list", "--count", "HEAD") == "1"
    assert git(default_project, "status", "--porcelain", "--untracked-files=all") == ""
    committed = sorted(git(default_project, "ls-files").splitlines())
    on_disk = sorted(
        p.relative_to(default_project).as_posix()
        for p in default_project.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(default_project).parts
    )
    assert committed == on_disk


def isolated_git_env(home: Path) -> dict[str, str]:
    """An environment in which git has no user, global or system configuration."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1")
    env["GIT_CONFIG_GLOBAL"] = str(home / "no-such-gitconfig")
    return env


def test_commit_works_without_any_git_identity(tmp_path: Path) -> None:
    env = isolated_git_env(tmp_path / "home")
    probe = subprocess.run(["git", "config", "user.name"], env=env, capture_output=True, check=False)
    assert probe.returncode != 0, "the test needs a git without user.name"
    done = run_cookiecutter_cli(tmp_path / "out", {"author": "Ada Lovelace"}, env=env)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "out" / "iris-classifier"
    assert git(project, "log", "-1", "--format=%an") == "Ada Lovelace"
    assert git(project, "status", "--porcelain") == ""


def test_missing_git_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    no_git = tmp_path / "bin"
    no_git.mkdir()
    env = {**os.environ, "PATH": str(no_git)}
    assert shutil.which("git", path=env["PATH"]) is None
    # without git the template cannot name its own commit: the default pin is refused, a given one is used
    unpinned = run_cookiecutter_cli(tmp_path / "refused", {}, env=env)
    assert unpinned.returncode == 1 and "error: branchline_source: " in unpinned.stderr
    assert "is not pinned to an exact revision" in unpinned.stderr
    source = f"branchline @ git+https://github.com/my-org/branchline@{COMMIT}#subdirectory=platform"
    done = run_cookiecutter_cli(tmp_path / "out", {"branchline_source": source}, env=env)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "out" / "iris-classifier"
    assert (project / "pyproject.toml").is_file()
    assert not (project / ".git").exists()
    assert [line for line in done.stderr.splitlines() if line.startswith("warning: ")] == [
        "warning: git not found: the project has no repository; run `git init -b main` and commit it yourself"
    ]
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] is None and state["template"] == str(REPO_ROOT)


def test_cruft_json_has_the_fields_cruft_reads(default_project: Path) -> None:
    state = json.loads((default_project / ".cruft.json").read_text(encoding="utf-8"))
    assert set(state) == {"template", "commit", "checkout", "context", "directory"}
    assert state["template"] == str(REPO_ROOT)
    assert state["commit"] == git(REPO_ROOT, "rev-parse", "HEAD")
    assert state["checkout"] is None and state["directory"] is None
    answers = state["context"]["cookiecutter"]
    assert answers["project"] == "iris-classifier" and answers["package"] == "iris_classifier"
    assert answers["_template"] == state["template"] and answers["_commit"] == state["commit"]
    assert not {"_output_dir", "_repo_dir"} & set(answers), "no paths of the machine that rendered it"


def copy_template(destination: Path) -> Path:
    """The template (working tree as it is now) as its own git repository with one commit."""
    destination.mkdir(parents=True)
    for name in ("cookiecutter.json", "local_extensions.py", "hooks", TEMPLATE_DIR_NAME):
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    git(destination, "init", "--quiet")
    git(destination, "add", "--all")
    git(destination, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", "template")
    return destination


def cruft(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "cruft"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cruft_check_and_update_work_on_a_generated_project(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    project = render(tmp_path / "out", template=template)

    up_to_date = cruft(project, "check")
    assert up_to_date.returncode == 0, up_to_date.stdout + up_to_date.stderr
    assert "up to date" in up_to_date.stdout

    readme = template / TEMPLATE_DIR_NAME / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA line added by the template.\n", encoding="utf-8")
    git(template, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-am", "more")

    stale = cruft(project, "check")
    assert stale.returncode == 1 and "out of date" in stale.stdout

    updated = cruft(project, "update", "--skip-apply-ask")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (project / "README.md").read_text(encoding="utf-8").endswith("A line added by the template.\n")
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == git(template, "rev-parse", "HEAD")
