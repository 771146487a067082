"""Recompile the generated project's lock, `{{cookiecutter.project}}/requirements.txt`, with pip-compile.

The template ships the lock so that a new project's CI installs hashed, pinned dependencies from its first
commit. Its inputs are the template's `requirements.in` with the platform taken from this checkout
(`platform/`), resolved for the oldest supported Python (3.11, what this script runs under) with the
options the generated pyproject.toml gives pip-tools. Run it after changing the platform's dependencies
or requirements.in: `.venv/bin/python scripts/lock_template.py` (tests/template/test_supply_chain.py
checks that the lock still covers the platform's requirements).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "{{cookiecutter.project}}"
PLATFORM_LINE = re.compile(r"^\{\{.*branchline.*\}\}$", re.MULTILINE)


def pip_tools_options() -> list[str]:
    """`[tool.pip-tools]` of the generated pyproject.toml, as pip-compile flags (the file is a template)."""
    text = (TEMPLATE / "pyproject.toml").read_text(encoding="utf-8")
    table = text[text.index("[tool.pip-tools]") :].split("\n\n", 1)[0]
    options = tomllib.loads(table)["tool"]["pip-tools"]
    flags = []
    for key, value in options.items():
        if value is True:
            flags.append(f"--{key}")
        elif value is False:
            flags.append(f"--no-{key}")
        else:
            flags.extend(f"--{key}={item}" for item in (value if isinstance(value, list) else [value]))
    return flags


def main() -> int:
    inputs = (TEMPLATE / "requirements.in").read_text(encoding="utf-8")
    local = f"branchline[aws,tracking,checks,images] @ {(REPO / 'platform').as_uri()}"
    inputs, count = PLATFORM_LINE.subn(local, inputs)
    if count != 1:
        print("error: requirements.in has no templated branchline line", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "requirements.in").write_text(inputs, encoding="utf-8")
        command = [sys.executable, "-m", "piptools", "compile", "--quiet", *pip_tools_options(),
                   "--output-file=requirements.txt", "requirements.in"]
        done = subprocess.run(command, cwd=scratch, check=False)
        if done.returncode != 0:
            return done.returncode
        shutil.copyfile(Path(scratch) / "requirements.txt", TEMPLATE / "requirements.txt")
    print(f"wrote {TEMPLATE / 'requirements.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
