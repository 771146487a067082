"""What a data check found, as plain data: built from GX's result JSON, no GX import (pure functions).

GX's own result objects are rich but awkward to read in an error message or a gate; the gate and the CLI
only need, per expectation, its type, its column, whether it held and what was actually observed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from branchline.errors import BranchlineError

SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_SHOWN_VALUES = 5


class ChecksError(BranchlineError):
    """Data checks could not run: no GX context, an unknown suite, unreadable data."""


class DataChecksFailed(BranchlineError):
    """The data broke one or more expectations of a suite."""

    def __init__(self, result: CheckResult) -> None:
        self.result = result
        lines = [f"data checks failed: suite {result.suite!r}, {len(result.failed)} of {result.evaluated} failed"]
        lines += [f"  - {o.describe()}" for o in result.failed]
        super().__init__(
            "\n".join(lines),
            hint=f"fix the data, or the suite gx/expectations/{result.suite}.json if the expectation is wrong",
        )


def check_suite_name(suite: str) -> str:
    """Suite names become file names and MLflow tag keys: letters, digits, `_ . -` only."""
    if not isinstance(suite, str) or not SUITE_NAME.match(suite):
        raise ChecksError(
            f"invalid suite name {suite!r}",
            hint="use the file name of gx/expectations/<suite>.json: letters, digits, '_', '.', '-'",
        )
    return suite


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation of the suite: did it hold, and what the data looked like."""

    type: str
    success: bool
    column: str | None = None
    observed: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = f" on column {self.column!r}" if self.column else ""
        return f"{self.type}{where}: {self.observed or 'failed'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "column": self.column,
            "success": self.success,
            "observed": self.observed,
            "kwargs": self.kwargs,
        }


@dataclass(frozen=True)
class CheckResult:
    """A suite run on one DataFrame; `raw` is GX's full result JSON (what is logged to MLflow)."""

    suite: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    mlflow_run_id: str | None = None
    artifacts: tuple[str, ...] = ()

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def evaluated(self) -> int:
        return len(self.outcomes)

    def __bool__(self) -> bool:
        return self.success

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": len(self.failed),
            "expectations": [o.as_dict() for o in self.outcomes],
        }


def summarise(suite: str, raw: dict[str, Any]) -> CheckResult:
    """A CheckResult from GX's `ExpectationSuiteValidationResult.to_json_dict()`."""
    outcomes = tuple(_outcome(item) for item in raw.get("results") or [])
    success = bool(raw.get("success")) and all(o.success for o in outcomes)
    return CheckResult(suite=suite, success=success, outcomes=outcomes, raw=raw)


def _outcome(item: dict[str, Any]) -> ExpectationOutcome:
    config = item.get("expectation_config") or {}
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    column = kwargs.get("column")
    return ExpectationOutcome(
        type=str(config.get("type") or config.get("expectation_type") or "unknown"),
        success=bool(item.get("success")),
        column=str(column) if column is not None else None,
        observed=observed_text(item),
        kwargs=kwargs,
    )


def observed_text(item: dict[str, Any]) -> str:
    """What the data showed, in one line: an error, an observed value, or the unexpected values."""
    error = exception_message(item.get("exception_info") or {})
    if error:
        return f"error: {error}"
    result = item.get("result") or {}
    if "observed_value" in result:
        return f"observed {_short(result['observed_value'])}"
    if "unexpected_count" in result:
        count, total = result.get("unexpected_count") or 0, result.get("element_count")
        text = f"{count} of {total} values unexpected" if total is not None else f"{count} values unexpected"
        sample = result.get("partial_unexpected_list") or []
        if count and sample:
            text += f", e.g. {_short(sample[:MAX_SHOWN_VALUES])}"
        return text
    if not item.get("success") and item.get("expectation_config", {}).get("type") == "expect_column_to_exist":
        return "column is missing"
    return ""


def exception_message(info: dict[str, Any]) -> str | None:
    """GX reports exceptions flat (`raised_exception`) or keyed by metric id; the first message of either."""
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for entry in candidates:
        if entry.get("raised_exception"):
            text = str(entry.get("exception_message") or "exception").strip()
            return text.removeprefix("Error: ").strip()
    return None


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
