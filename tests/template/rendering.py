"""Render the cookiecutter template for the tests: the real cookiecutter, the real hooks, real git.

Every render uses its own cookiecutter user config (replay and clone directories under the test's
temporary directory), so the tests never write into the user's home.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR_NAME = "{{cookiecutter.project}}"
DEFAULT_PROJECT = "iris-classifier"
# Unrendered Jinja; `${{ ... }}` is a GitHub Actions expression and is meant to be there.
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|(?<!\$)\{#")


def user_config(base: Path) -> Path:
    """A cookiecutter user config that keeps replay files and clones under `base`."""
    config = base / "cookiecutter-config.yaml"
    if not config.exists():
        base.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"cookiecutters_dir: {base / 'cookiecutters'}\nreplay_dir: {base / 'replay'}\n", encoding="utf-8"
        )
    return config


def render(output_dir: Path, template: Path = REPO_ROOT, **answers: str) -> Path:
    """Render `template` into `output_dir` with `answers` (the rest default); the project directory."""
    from cookiecutter.main import cookiecutter

    output_dir.mkdir(parents=True, exist_ok=True)
    project = cookiecutter(
        str(template),
        no_input=True,
        extra_context=dict(answers),
        output_dir=str(output_dir),
        config_file=str(user_config(output_dir.parent / f"{output_dir.name}-cc")),
    )
    return Path(project)


def run_cookiecutter_cli(
    output_dir: Path, answers: Mapping[str, str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`cookiecutter --no-input` as a user runs it, in a child process."""
    output_dir.mkdir(parents=True, exist_ok=True)
    config = user_config(output_dir.parent / f"{output_dir.name}-cc")
    args = [f"{key}={value}" for key, value in answers.items()]
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", str(config)]
    return subprocess.run(
        [*command, "--output-dir", str(output_dir), str(REPO_ROOT), *args],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        check=False,
        timeout=120,
    )


def project_files(project: Path) -> list[str]:
    """Every file of a generated project, relative and sorted, without git's own files."""
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    )


def leftover_jinja(project: Path) -> Iterator[tuple[str, int, str]]:
    """(file, line number, line) of every line that still holds template syntax."""
    for name in project_files(project):
        text = (project / name).read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if LEFTOVER_JINJA.search(line):
                yield name, number, line


def load_hook(name: str) -> ModuleType:
    """Import a hook script as a module (its Jinja placeholder only runs under `__main__`)."""
    path = REPO_ROOT / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"branchline_template_hooks_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def git(project: Path, *args: str) -> str:
    """git in `project`, isolated from any repository the tests themselves run in."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    done = subprocess.run(["git", *args], cwd=project, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()
