"""Every command's and subcommand's `--help` works, renders what its text says, and shows one example; every
option is described; flags show no `<bool>`; hints printed by the platform name commands that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from branchline.cli.main import COMMANDS, app, commands_of

SRC = Path(__file__).resolve().parents[2] / "platform" / "src" / "branchline"
BRANCHLINE = str(Path(sys.executable).with_name("branchline"))


def _walk(name: str, command: Any) -> list[tuple[list[str], Any]]:
    found = [([*name.split()], command)]
    for sub_name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _walk(f"{name} {sub_name}", sub)
    return found


def every_command() -> list[tuple[list[str], Any]]:
    found = []
    for module in dict.fromkeys(COMMANDS.values()):
        for name, command in commands_of(module).items():
            found += _walk(name, command)
    return found


COMMAND_PATHS = [path for path, _ in every_command()]


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=[" ".join(p) for p in COMMAND_PATHS])
def test_every_help_works_and_shows_an_example(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("Usage: branchline " + " ".join(path)), text
    example = re.search(r"^\s*Examples?\b[^\n]*:[^\n]*\bbranchline ", text, re.M)
    assert example, f"branchline {' '.join(path)} --help has no example:\n{text}"
    assert "<bool>" not in text
    assert "error" not in text.lower().split("\n")[0]


def test_every_option_is_described() -> None:
    missing = [
        f"branchline {' '.join(path)} {param.opts[0]}"
        for path, command in every_command()
        for param in command.params
        if param.param_type_name == "option" and not (getattr(param, "help", None) or "").strip()
    ]
    assert missing == []


def test_help_renders_brackets_as_written() -> None:
    text = CliRunner().invoke(app, ["promote", "--help"], terminal_width=200).output
    assert "[tool.branchline.gates.<flow>]" in text


@pytest.mark.parametrize("verb", ["run", "resume"])
def test_run_and_resume_help_print_help_not_a_missing_flow_file(verb: str) -> None:
    proc = subprocess.run([BRANCHLINE, verb, "--help"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"Usage: branchline {verb} " in proc.stdout and "flow file not found" not in proc.stderr


def test_a_flows_usage_line_names_the_verb_once(tmp_path: Path) -> None:
    flow = tmp_path / "hello.py"
    flow.write_text(
        "from branchline import FlowSpec, step\n\n\nclass HelloFlow(FlowSpec):\n    @step\n    def start(self):\n"
        "        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
    proc = subprocess.run([BRANCHLINE, "run", str(flow), "--help"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    usage = next(line for line in proc.stdout.splitlines() if line.startswith("Usage:"))
    assert usage.split().count("run") == 1, usage


def test_hints_name_commands_that_exist() -> None:
    known = {" ".join(path) for path in COMMAND_PATHS}
    groups = {path[0] for path in COMMAND_PATHS if len(path) > 1}
    wrong = []
    for source in SRC.rglob("*.py"):
        for match in re.finditer(r"`branchline ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", source.read_text()):
            command, sub = match.groups()
            if command not in COMMANDS:
                continue
            if command in groups and sub is not None and f"{command} {sub}" not in known:
                wrong.append(f"{source.relative_to(SRC)}: {match.group(0)}")
    assert wrong == []
