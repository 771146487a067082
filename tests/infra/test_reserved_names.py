"""Project names may not hold a namespace word (`br`, `prod`, `user`) as a `-`-separated part.

Why: every resource name is `<project>-<namespace>-…` and IAM grants by prefix. With a project `foo` and a
project `foo-br-x` in one account, `foo`'s branch pattern `foo-br-*` matches `foo-br-x-prod-TrainFlow`,
the other project's production state machine. The rule is enforced where a project name enters: the
cookiecutter pre-gen hook, `[tool.branchline]` loading (every command) and `branchline infra`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from branchline.config import load_config
from branchline.errors import ConfigError
from branchline.namespaces import Names
from branchline.namespaces.limits import RESERVED_PROJECT_SEGMENTS
from branchline.namespaces.names import reserved_segments, validate_project
from tests.template.rendering import load_hook, render

BRANCHLINE = Path(sys.executable).parent / "branchline"
RESERVED = ["foo-br-x", "br-foo", "foo-prod", "prod", "user-churn", "a-user", "a--br"]
ALLOWED = ["foo", "foox", "brick", "product", "users", "foo-bar", "prodigy-model", "abr-x"]


@pytest.mark.parametrize("project", RESERVED)
def test_a_project_holding_a_namespace_word_is_refused_everywhere_names_are_made(project: str) -> None:
    assert reserved_segments(project)
    with pytest.raises(ConfigError, match="reserved namespace word") as refused:
        Names(project, "prod")
    assert "rename the project" in str(refused.value)


@pytest.mark.parametrize("project", ALLOWED)
def test_words_that_only_contain_a_namespace_word_are_fine(project: str) -> None:
    assert validate_project(project) == project
    assert Names(project, "prod").state_machine("TrainFlow") == f"{project}-prod-TrainFlow"


def test_with_the_rule_a_name_tells_its_project_and_namespace_apart() -> None:
    """The collision the rule closes: `foo`'s branch pattern would match `foo-br-x`'s production names."""
    victim = "foo-br-x-prod-TrainFlow"  # what project "foo-br-x" would name its production state machine
    assert victim.startswith("foo-br-")  # ... inside project foo's IAM pattern `foo-br-*`
    with pytest.raises(ConfigError):
        Names("foo-br-x", "prod")


def test_the_hook_and_the_platform_reserve_the_same_words() -> None:
    assert load_hook("pre_gen_project").RESERVED_PROJECT_SEGMENTS == RESERVED_PROJECT_SEGMENTS


def test_the_pre_gen_hook_refuses_with_one_line_and_writes_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        render(out, project="churn-br-model")
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: project: 'churn-br-model' contains the reserved"), err
    assert list(out.iterdir()) == []


def test_config_loading_refuses_a_reserved_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.branchline]\nproject = "churn-prod"\n')
    with pytest.raises(ConfigError, match=r"'churn-prod': it contains the reserved namespace word `prod`"):
        load_config(tmp_path)


def test_infra_refuses_a_reserved_project_before_touching_aws(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.branchline]\nproject = "churn-user-x"\n')
    done = subprocess.run(
        [str(BRANCHLINE), "infra", "deploy", "--stack", "project", "--github-repo", "acme/churn", "--dry-run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
             "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("error: invalid project name 'churn-user-x'"), done.stderr
    assert "Traceback" not in done.stderr and "unreachable" not in done.stderr
