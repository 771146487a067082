"""`validate(df, suite=...)`: run a GX suite on a DataFrame, record it in MLflow, raise if the data is bad."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from branchline.checks import gx_run, record
from branchline.checks.result import CheckResult, DataChecksFailed, check_suite_name, summarise

F = TypeVar("F", bound=Callable[..., Any])


def validate(
    df: Any,
    suite: str,
    *,
    raise_on_failure: bool = True,
    context_root: Path | None = None,
) -> CheckResult:
    """Validate `df` against `gx/expectations/<suite>.json`.

    Inside an MLflow run (a tracked flow step) the result JSON and its Data Docs page are logged as
    `checks/<suite>.json|html` and the run is tagged `branchline.checks.<suite>.success|failed`, which
    is what the promotion gate reads. Raises DataChecksFailed unless `raise_on_failure=False`.
    """
    check_suite_name(suite)
    gx_dir = gx_run.find_gx_dir(context_root)
    validation = gx_run.run_suite(df, gx_run.load_suite(gx_dir, suite))
    result = summarise(suite, validation.raw)
    run = record.active_run()
    if run is not None:
        artifacts = record.record(result, validation.html, run)
        result = replace(result, mlflow_run_id=run.info.run_id, artifacts=artifacts)
    if raise_on_failure and not result.success:
        raise DataChecksFailed(result)
    return result


def validated(suite: str, *, raise_on_failure: bool = True, context_root: Path | None = None) -> Callable[[F], F]:
    """Decorator: validate the DataFrame a function returns, e.g. `@validated("raw_data") def load(): ...`."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            df = fn(*args, **kwargs)
            validate(df, suite, raise_on_failure=raise_on_failure, context_root=context_root)
            return df

        return inner  # type: ignore[return-value]

    return wrap
