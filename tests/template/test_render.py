"""Rendering the template: which files, no template syntax left, the settings the answers produce."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.template.rendering import REPO_ROOT, git, leftover_jinja, project_files, render

BASE_IMAGES = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))["_base_images"]

# Every file a freshly generated project has (the default answers). Computed once from a render and
# written out so that an added, lost or misnamed file fails here. flows/, src/, gx/ and tests/ are
# written by the sample-flow work; their names follow its brief (GX file context: one suite per check
# named in required_checks).
EXPECTED_FILES = sorted(
    [
        ".cruft.json",
        ".dockerignore",
        ".github/base-image/Dockerfile",
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/cleanup.yml",
        ".github/workflows/prune.yml",
        ".github/workflows/release.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "Dockerfile",
        "README.md",
        "flows/train_flow.py",
        "gx/.gitignore",
        "gx/expectations/predictions.json",
        "gx/expectations/raw_data.json",
        "gx/great_expectations.yml",
        "pyproject.toml",
        "requirements.in",
        "requirements.txt",
        "src/iris_classifier/__init__.py",
        "src/iris_classifier/data.py",
        "src/iris_classifier/model.py",
        "tests/test_model.py",
        "tests/test_supply_chain.py",
        "tests/test_train_flow.py",
        "tox.ini",
    ]
)

# Options that change what is rendered, each against its own expectations below.
MATRIX: list[dict[str, str]] = [
    {"python_version": "3.12", "mlflow_tracking_uri": "https://mlflow.example.com"},
    {"python_version": "3.13", "github_org": "acme-labs", "aws_region": "us-gov-west-1"},
    {
        "project_name": "Churn Model",
        "aws_region": "cn-north-1",
        "aws_account_id": "000000000042",
        "artifact_bucket": "churn.model.artifacts",
        "mlflow_tracking_uri": "databricks",
    },
    {"project": "fraud-v2", "package": "fraud_detector", "mlflow_tracking_uri": "sqlite:///tmp/mlflow.db"},
]


def answers_of(options: dict[str, str]) -> dict[str, str]:
    """The effective answers, with the template's derived defaults applied."""
    name = options.get("project_name", "Iris Classifier")
    project = options.get("project", name.lower().replace(" ", "-"))
    return {
        "project_name": name,
        "project": project,
        "package": options.get("package", project.replace("-", "_")),
        "github_org": options.get("github_org", "my-org"),
        "aws_region": options.get("aws_region", "eu-west-1"),
        "aws_account_id": options.get("aws_account_id", "123456789012"),
        "artifact_bucket": options.get("artifact_bucket", f"{project}-artifacts"),
        "mlflow_tracking_uri": options.get("mlflow_tracking_uri", ""),
        "python_version": options.get("python_version", "3.11"),
    }


def pyproject(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


def assert_rendered_settings(project: Path, answers: dict[str, str]) -> None:
    """pyproject.toml, the workflows and the Dockerfile carry the answers."""
    data = pyproject(project)
    slug, region, account = answers["project"], answers["aws_region"], answers["aws_account_id"]
    assert data["project"]["name"] == slug
    assert data["project"]["requires-python"] == f">={answers['python_version']}"
    assert data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{answers['package']}"]
    branchline = data["tool"]["branchline"]
    assert {key: branchline[key] for key in ("project", "package", "flows", "production_branch", "tracking_uri")} == {
        "project": slug,
        "package": answers["package"],
        "flows": ["flows/train_flow.py"],
        "production_branch": "main",
        "tracking_uri": answers["mlflow_tracking_uri"],
    }
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    prod = answers.get("aws_production_account_id", "210987654321")  # its own account unless told otherwise
    assert branchline["aws"] == {
        "region": region,
        "account_id": account,
        "production_account_id": prod,
        "bucket": answers["artifact_bucket"],
        "production_bucket": answers["artifact_bucket"] + ("-prod" if prod != account else ""),
        "job_queue": "branchline-shared",
        "production_job_queue": "branchline-prod",
        "max_concurrency": 16,
        "step_timeout_seconds": 432000,
        "queue_timeout_seconds": 86400,
        "keep_versions": 10,
        "image_repository": f"{account}.dkr.ecr.{region}.{domain}/{slug}",
        "production_image_repository": f"{prod}.dkr.ecr.{region}.{domain}/{slug}-prod",
        **{
            key: f"arn:{partition}:iam::{account if role.endswith('-branch') else prod}:role/{slug}-{role}"
            for key, role in (
                ("states_role_arn", "states-branch"),
                ("job_role_arn", "job-branch"),
                ("production_states_role_arn", "states-prod"),
                ("production_job_role_arn", "job-prod"),
                ("scheduler_role_arn", "scheduler"),
            )
        },
    }
    assert branchline["gates"] == {
        "TrainFlow": {
            "model": f"{slug}-trainflow",
            "thresholds": {"accuracy": ">= 0.90", "f1_macro": ">= 0.85"},
            "tolerance": 0.02,
            "required_checks": ["raw_data", "predictions"],
        }
    }
    for workflow in (project / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"].values():
            for step in job["steps"]:
                uses = step.get("uses", "")
                if uses.startswith("actions/setup-python@"):
                    assert step["with"]["python-version"] == answers["python_version"]
                if uses.startswith("aws-actions/configure-aws-credentials@"):
                    assert step["with"]["aws-region"] == region
                    role = step["with"]["role-to-assume"]
                    owner = prod if role.endswith("-release") else account
                    assert role.startswith(f"arn:aws:iam::{owner}:role/{slug}-")
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    base = BASE_IMAGES[answers["python_version"]]
    assert re.fullmatch(rf"python:{answers['python_version']}-slim@sha256:[0-9a-f]{{64}}", base)
    assert f"ARG BASE_IMAGE={base}\n" in dockerfile
    assert (project / ".github" / "base-image" / "Dockerfile").read_text(encoding="utf-8").endswith(f"FROM {base}\n")


def test_default_render_has_exactly_the_expected_files(default_project: Path) -> None:
    assert default_project.name == "iris-classifier"
    assert project_files(default_project) == EXPECTED_FILES


def test_default_render_leaves_no_template_syntax(default_project: Path) -> None:
    assert list(leftover_jinja(default_project)) == []


def test_default_render_settings(default_project: Path) -> None:
    assert_rendered_settings(default_project, answers_of({}))
    data = pyproject(default_project)
    commit = git(REPO_ROOT, "rev-parse", "HEAD")  # the platform of the very commit the template came from
    assert data["project"]["dependencies"][0] == (
        f"branchline[aws,tracking,checks,images] @ git+https://github.com/my-org/branchline@{commit}"
        "#subdirectory=platform"
    )
    assert set(data["project"]["optional-dependencies"]["dev"]) >= {"pytest>=8", "ruff>=0.6", "tox>=4"}
    assert data["tool"]["pip-tools"] == {
        "generate-hashes": True, "strip-extras": True, "unsafe-package": ["branchline"], "emit-index-url": False,
        "emit-find-links": False,
    }


def test_lock_inputs_of_the_step_image(default_project: Path) -> None:
    lines = [
        line
        for line in (default_project / "requirements.in").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == pyproject(default_project)["project"]["dependencies"][0]
    assert [re.split("[>=<]", line)[0] for line in lines[1:]] == [
        "scikit-learn", "pandas", "setuptools", "wheel", "hatchling",
    ]


@pytest.mark.parametrize("options", MATRIX, ids=lambda options: "-".join(options.values())[:60])
def test_render_matrix(tmp_path: Path, options: dict[str, str]) -> None:
    answers = answers_of(options)
    project = render(tmp_path / "out", **options)
    assert project.name == answers["project"]
    package = answers["package"]
    expected = sorted(name.replace("src/iris_classifier/", f"src/{package}/") for name in EXPECTED_FILES)
    assert project_files(project) == expected
    assert list(leftover_jinja(project)) == []
    assert_rendered_settings(project, answers)


def test_free_text_answers_are_escaped_in_toml(tmp_path: Path) -> None:
    """Quotes and backslashes in free text must not break pyproject.toml."""
    description = 'Predicts "churn" from C:\\data & <friends>'
    author = "Zoë O'Brien"
    project = render(tmp_path / "out", description=description, author=author)
    data = pyproject(project)
    assert data["project"]["description"] == description
    assert data["project"]["authors"] == [{"name": author}]
    assert list(leftover_jinja(project)) == []


def test_local_branchline_source_is_used_verbatim(tmp_path: Path) -> None:
    source = "branchline @ file:///opt/branchline/platform"
    project = render(tmp_path / "out", branchline_source=source)
    assert pyproject(project)["project"]["dependencies"][0] == (
        "branchline[aws,tracking,checks,images] @ file:///opt/branchline/platform"
    )
    inputs = (project / "requirements.in").read_text(encoding="utf-8")
    assert "\nbranchline[aws,tracking,checks,images] @ file:///opt/branchline/platform\n" in inputs


def test_an_exact_index_version_is_a_pin(tmp_path: Path) -> None:
    project = render(tmp_path / "out", branchline_source="branchline==0.1.0")
    assert pyproject(project)["project"]["dependencies"][0] == "branchline[aws,tracking,checks,images]==0.1.0"


def test_generated_project_is_ruff_clean(default_project: Path) -> None:
    """The generated code passes the project's own ruff settings (what `tox -e lint` and pre-commit run)."""
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        done = subprocess.run(
            [str(ruff), *args], cwd=default_project, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_pre_commit_config_pins_its_hooks(default_project: Path) -> None:
    config = yaml.safe_load((default_project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    repos = {repo["repo"].rsplit("/", 1)[-1]: repo for repo in config["repos"]}
    assert set(repos) == {"ruff-pre-commit", "pre-commit-hooks"}
    for repo in repos.values():
        assert repo["rev"].startswith("v") and repo["rev"].count(".") == 2, repo
    assert {hook["id"] for hook in repos["ruff-pre-commit"]["hooks"]} == {"ruff-check", "ruff-format"}
    assert {"check-yaml", "end-of-file-fixer"} <= {hook["id"] for hook in repos["pre-commit-hooks"]["hooks"]}
    tox_ruff = next(
        line.split("==")[1]
        for line in (default_project / "tox.ini").read_text(encoding="utf-8").splitlines()
        if line.startswith("deps = ruff==")
    )
    assert repos["ruff-pre-commit"]["rev"] == f"v{tox_ruff}", "tox and pre-commit must run the same ruff"


def test_gitignore_keeps_local_state_out(default_project: Path) -> None:
    ignored = (default_project / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {".branchline/", "wheelhouse/", ".tox/", "__pycache__/"} <= set(ignored)


def test_leftover_detector_tells_jinja_from_github_expressions(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("group: x-${{ github.run_id }}\nrun: echo ${#arr}\n", encoding="utf-8")
    assert list(leftover_jinja(tmp_path)) == []
    (tmp_path / "b.txt").write_text("ok\nname = {{ cookiecutter.project }}\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text("{% if x %}\n", encoding="utf-8")
    assert [(name, line) for name, line, _ in leftover_jinja(tmp_path)] == [("b.txt", 2), ("c.txt", 1)]
