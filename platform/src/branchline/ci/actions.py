"""The runner's files: step outputs (`$GITHUB_OUTPUT`) and the job summary (`$GITHUB_STEP_SUMMARY`).

Outputs use the multi-line `name<<DELIMITER` form with a random delimiter, so no value (a hostile
branch name, say) can end its entry early and inject another output.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from branchline.ci.context import CIError


def format_outputs(outputs: Mapping[str, str], delimiter: str | None = None) -> str:
    """`name<<D\\nvalue\\nD\\n` per output; the delimiter is checked against every value."""
    delim = delimiter or f"ghadelimiter_{secrets.token_hex(16)}"
    lines = []
    for name, value in outputs.items():
        if delim in name or delim in value or "\n" in name:
            raise CIError(f"step output {name!r} cannot be written safely")
        lines.append(f"{name}<<{delim}\n{value}\n{delim}\n")
    return "".join(lines)


def _append(path: str, text: str, what: str) -> None:
    try:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise CIError(f"cannot write {what} to {path}: {exc.strerror}") from None


def write_outputs(env: Mapping[str, str], outputs: Mapping[str, str]) -> bool:
    """Append to `$GITHUB_OUTPUT` when the runner set it; returns whether it did."""
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return False
    _append(path, format_outputs(outputs), "the step outputs")
    return True


def write_summary(env: Mapping[str, str], markdown: str) -> bool:
    """Append to `$GITHUB_STEP_SUMMARY` when the runner set it; returns whether it did."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    _append(path, markdown.rstrip("\n") + "\n", "the job summary")
    return True
