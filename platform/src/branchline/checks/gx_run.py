"""Running one GX suite on one DataFrame (Great Expectations 1.x); the only module that imports GX.

Suites come from the project's file context (`gx/expectations/<suite>.json`, in git). The data source,
asset and batch definition live in a throw-away ephemeral context, so a validation never writes a data
source into `gx/great_expectations.yml`; GX's own scratch files stay under `gx/uncommitted/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchline.checks.offline import offline_html
from branchline.checks.result import ChecksError
from branchline.config import find_project_root

GX_DIR = "gx"
CONFIG_FILE = "great_expectations.yml"


@dataclass(frozen=True)
class Validation:
    """GX's result as JSON and its Data Docs page (self-contained: `checks.offline`)."""

    raw: dict[str, Any]
    html: str


def find_gx_dir(context_root: Path | None = None) -> Path:
    """The GX context directory: `context_root` itself or its `gx/`, else `gx/` of its enclosing project."""
    root = Path(context_root or Path.cwd()).resolve()
    for candidate in (root, root / GX_DIR, find_project_root(root) / GX_DIR):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise ChecksError(
        f"no Great Expectations context at {root / GX_DIR} (no {CONFIG_FILE})",
        hint="run from the project directory (the one with pyproject.toml and gx/), or pass context_root / "
        "--project-dir",
    )


def suite_names(gx_dir: Path) -> list[str]:
    return sorted(p.stem for p in (gx_dir / "expectations").glob("*.json"))


def _quiet_gx() -> None:
    """No analytics, no progress bars on stderr (set before GX reads them)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def load_suite(gx_dir: Path, suite: str) -> Any:
    """The suite from the file context's expectations store, or a clear error naming what exists."""
    _quiet_gx()
    import great_expectations as gx

    if not (gx_dir / "expectations" / f"{suite}.json").is_file():
        known = ", ".join(suite_names(gx_dir)) or "none"
        raise ChecksError(
            f"no expectation suite {suite!r} in {gx_dir / 'expectations'} (suites: {known})",
            hint=f"add gx/expectations/{suite}.json or use one of the existing suites",
        )
    try:
        context = gx.get_context(mode="file", context_root_dir=str(gx_dir))
        return context.suites.get(suite)
    except Exception as exc:  # GX raises marshmallow, DataContext and plain errors for a malformed suite
        raise ChecksError(
            f"cannot load expectation suite {suite!r} from {gx_dir}: {str(exc).splitlines()[0]}",
            hint=f"check that gx/expectations/{suite}.json is a valid GX 1.x suite (name, expectations: type, kwargs)",
        ) from None


def _ephemeral_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suite(df: Any, suite: Any) -> Validation:
    """Validate `df` (a pandas DataFrame) against `suite`; GX result JSON + its rendered Data Docs page."""
    _quiet_gx()
    import pandas as pd
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    if not isinstance(df, pd.DataFrame):
        raise ChecksError(
            f"data checks take a pandas DataFrame, not {type(df).__name__}",
            hint="convert it first, e.g. pd.DataFrame(...) or df.to_pandas()",
        )
    context = _ephemeral_context()
    asset = context.data_sources.add_pandas("branchline").add_dataframe_asset(suite.name)
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite)
    html = offline_html(DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result)))
    return Validation(raw=result.to_json_dict(), html=html)
