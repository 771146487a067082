"""Finish a freshly generated project: a cruft answers file, a git repository and one initial commit.

cookiecutter renders this file with Jinja and runs it inside the generated project. A failing
post-gen hook would make cookiecutter delete the whole project, so nothing here fails: when git is
missing or refuses, the project is kept and a one-line warning says what to do by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CRUFT_FILE = ".cruft.json"
COMMIT_MESSAGE = "Initial commit from the branchline template"
FALLBACK_EMAIL = "branchline@localhost"
# Answers that describe this machine rather than the project: kept out of the answers file.
MACHINE_KEYS = ("_output_dir", "_repo_dir", "_checkout")
ABBREVIATIONS = {
    "gh:": "https://github.com/{}.git",
    "gl:": "https://gitlab.com/{}.git",
    "bb:": "https://bitbucket.org/{}",
}


# Variables that tie git to a repository (set, e.g., when cookiecutter runs inside a git hook): they
# would make the commands below act on that repository instead of the new project.
REPOSITORY_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX",
)  # fmt: skip


def clean_git_env() -> dict[str, str]:
    """This process's environment without the variables that would point git at another repository."""
    return {key: value for key, value in os.environ.items() if key not in REPOSITORY_ENV}


def git(args: Sequence[str], cwd: Path) -> str | None:
    """Run git; its stdout stripped, or None when git is missing or fails."""
    if shutil.which("git") is None:
        return None
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=clean_git_env(), capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def template_dir(answers: Mapping[str, Any]) -> Path | None:
    """The template directory cookiecutter rendered from, absolute.

    cookiecutter runs hooks from inside the template directory, so the parent process's working
    directory is the template even when `_repo_dir` was given relative to the user's shell.
    """
    repo_dir = Path(str(answers.get("_repo_dir") or ""))
    if repo_dir.is_absolute():
        return repo_dir
    parent_cwd = Path(f"/proc/{os.getppid()}/cwd")
    try:
        return parent_cwd.resolve(strict=True)
    except OSError:
        base = os.environ.get("PWD")
        return (Path(base) / repo_dir).resolve() if base else None


def template_url(template: str, local_root: Path | None) -> str:
    """What `cruft` clones to compare versions: an expanded remote URL, or the local repository root."""
    for prefix, url in ABBREVIATIONS.items():
        if template.startswith(prefix):
            return url.format(template[len(prefix) :])
    is_remote = "://" in template or (template.startswith("git@") and ":" in template)
    if is_remote or local_root is None:
        return template
    return str(local_root)


def cruft_state(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The `.cruft.json` content, in the shape `cruft create` writes and `cruft check/update` read."""
    source = template_dir(answers)
    commit = git(["rev-parse", "HEAD"], source) if source else None
    toplevel = git(["rev-parse", "--show-toplevel"], source) if source else None
    prefix = git(["rev-parse", "--show-prefix"], source) if source else None
    url = template_url(str(answers.get("_template", "")), Path(toplevel) if toplevel else source)
    context = {key: value for key, value in answers.items() if key not in MACHINE_KEYS}
    context["_template"] = url
    context["_commit"] = commit
    return {
        "template": url,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": prefix.rstrip("/") if prefix else None,
    }


def write_cruft_file(project: Path, state: Mapping[str, Any]) -> None:
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": "))
    (project / CRUFT_FILE).write_text(text + "\n", encoding="utf-8")


def committer(answers: Mapping[str, Any], project: Path) -> tuple[str, str]:
    """The user's git identity when configured, else the template's author answer."""
    name = git(["config", "user.name"], project) or str(answers.get("author") or "branchline")
    email = git(["config", "user.email"], project) or FALLBACK_EMAIL
    return name, email


def init_repository(project: Path, answers: Mapping[str, Any]) -> str | None:
    """git init on branch main, add everything, commit once. A warning text on failure, else None."""
    if shutil.which("git") is None:
        return "git not found: the project has no repository; run `git init -b main` and commit it yourself"
    # `init` then `symbolic-ref` gives branch main on every git version (`init -b` needs git >= 2.28).
    initialised = git(["init", "--quiet"], project) is not None
    if not initialised or git(["symbolic-ref", "HEAD", "refs/heads/main"], project) is None:
        return "`git init` failed: the project has no repository; run `git init -b main` yourself"
    name, email = committer(answers, project)
    identity = ["-c", f"user.name={name}", "-c", f"user.email={email}", "-c", "commit.gpgsign=false"]
    steps = {
        "add": ["add", "--all"],
        "commit": [*identity, "commit", "--quiet", "--no-verify", "-m", COMMIT_MESSAGE],
    }
    for verb, args in steps.items():
        if git(args, project) is None:
            return f"`git {verb}` failed: the repository has no initial commit; commit the project yourself"
    return None


def rendered_by_cruft(answers: Mapping[str, Any]) -> bool:
    """cruft calls cookiecutter's generate_files itself (no `_output_dir`, but its own `_commit`).

    It does so to diff two renders of the template (`cruft update`/`diff`) and in `cruft create`,
    and it writes `.cruft.json` itself afterwards: a repository or answers file of ours would only
    pollute its diff.
    """
    return "_output_dir" not in answers and "_commit" in answers


def main(answers: Mapping[str, Any], project: Path) -> int:
    if rendered_by_cruft(answers):
        return 0
    write_cruft_file(project, cruft_state(answers))
    warning = init_repository(project, answers)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # tojson escapes single quotes (not double ones) and never ends in a backslash: a raw single-quoted
    # literal holds it safely.
    sys.exit(main(json.loads(r'{{ cookiecutter | tojson }}'), Path.cwd()))  # fmt: skip
