"""`branchline checks run` as a user runs it (the installed console script): output and exit codes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.checks.conftest import iris

BRANCHLINE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "branchline"


def checks_run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BRANCHLINE), "checks", "run", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_passes_fails_and_explains(gx_project: Path, tmp_path: Path) -> None:
    good, bad, odd = tmp_path / "good.csv", tmp_path / "bad.parquet", tmp_path / "data.xlsx"
    iris().to_csv(good, index=False)
    broken = iris()
    broken.loc[5, "sepal_length"] = -3.0
    broken.to_parquet(bad)
    odd.write_text("x")

    done = checks_run(gx_project, "--suite", "raw_data", "--data", str(good))
    assert done.returncode == 0, done.stderr
    assert "expect_table_columns_to_match_set" in done.stdout
    assert "passed: 16 expectations of suite raw_data hold" in done.stdout

    done = checks_run(tmp_path, "--suite", "raw_data", "--data", str(bad), "--project-dir", str(gx_project))
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "data checks failed: suite 'raw_data', 1 of 16 failed" in done.stderr
    assert "expect_column_values_to_be_between on column 'sepal_length': 1 of 150 values unexpected" in done.stderr

    done = checks_run(gx_project, "--suite", "raw_data", "--data", str(odd))
    assert done.returncode == 1 and "unsupported file type .xlsx" in done.stderr
    assert "Traceback" not in done.stderr

    done = checks_run(gx_project, "--suite", "raw", "--data", str(good))
    assert done.returncode == 1 and "no expectation suite 'raw'" in done.stderr

    done = checks_run(tmp_path, "--suite", "raw_data", "--data", str(good))  # no gx/ here or above
    assert done.returncode == 1 and "no Great Expectations context" in done.stderr
