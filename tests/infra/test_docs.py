"""The documentation site builds with `mkdocs build --strict` (broken links and nav entries fail it), and
the security model's threat tables cite only tests that exist.

The mkdocs build is skipped, with the names, while a page listed in mkdocs.yml's nav has not been written yet.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / "mkdocs"


def _pages(nav: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _pages(value) if isinstance(value, list) else [value]
    return pages


def test_nav_lists_every_page_and_mine_exist() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["name"] == "material" and config["strict"] is True
    pages = _pages(config["nav"])
    assert len(pages) == len(set(pages))
    assert {"index.md", "security.md", "infra.md"} <= {p for p in pages if (ROOT / "docs" / p).is_file()}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} <= set(pages), "a page in docs/ is missing from the nav"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    missing = [p for p in _pages(config["nav"]) if not (ROOT / "docs" / p).is_file()]
    if missing:
        pytest.skip(f"docs not written yet: {', '.join(missing)}")
    if not MKDOCS.is_file():
        pytest.fail(f"mkdocs is not installed: pip install mkdocs-material into {MKDOCS.parent.parent}")
    done = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "security" / "index.html").is_file()


# ------------------------------------------------------------------------------------------ threat tables
CITATION = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?|…::(\w+)")


def _threat_rows() -> list[str]:
    """The table rows of docs/security.md's "Threats and the tests that prove the controls" section."""
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    section = text.split("## Threats and the tests that prove the controls", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| threat ", "| --- "))]


def _citations(row: str) -> list[tuple[str, str | None]]:
    """(file, test) pairs of one row; `…::name` continues the last file named before it in the row."""
    found: list[tuple[str, str | None]] = []
    last = None
    for match in CITATION.finditer(row):
        if match[1]:
            last = match[1]
            found.append((last, match[2]))
        else:
            assert last, f"'…::{match[3]}' names no file before it: {row[:100]}"
            found.append((last, match[3]))
    return found


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_the_threat_tables_cite_exists() -> None:
    rows = _threat_rows()
    assert len(rows) >= 40, "the threat tables are gone or were not found"
    missing = []
    for row in rows:
        citations = _citations(row.rsplit(" | ", 1)[-1])  # the last column: "proven by"
        assert citations and all(test for _, test in citations), f"a row without a test (file::test): {row[:100]}"
        for file, test in citations:
            path = ROOT / file
            if not path.is_file() or test not in _tests_in(path):
                missing.append(f"{file}::{test}")
    assert missing == []
