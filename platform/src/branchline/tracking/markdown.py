"""Markdown that hostile text cannot break (pure): branch names, suite names and messages end up in a PR
comment and on an MLflow run page, and a branch name may hold backticks, pipes and HTML."""

from __future__ import annotations

import re


def code(text: str, *, in_table: bool = True) -> str:
    """`text` as a code span that no content can break out of (pipes escaped inside tables)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def number(value: float | None) -> str:
    """A metric as a reviewer reads it: 4 significant decimals, `—` when absent."""
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def signed(value: float | None) -> str:
    """A difference with its sign (`+0.0123`, `-0.05`, `±0`)."""
    if value is None:
        return "—"
    if value == 0:
        return "±0"
    return ("+" if value > 0 else "-") + number(abs(value))
