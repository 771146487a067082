"""Reading a data file for `branchline checks run` (CSV or Parquet), with errors a user can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from branchline.checks.result import ChecksError

READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


def read_frame(path: Path) -> Any:
    """A pandas DataFrame from `path`; the suffix picks the reader."""
    import pandas as pd

    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ChecksError(
            f"cannot read {path}: unsupported file type {path.suffix or '(none)'}",
            hint="give a .csv or .parquet file",
        )
    if not path.is_file():
        raise ChecksError(f"data file {path} does not exist", hint="check the --data path")
    try:
        return getattr(pd, reader)(path)
    except ImportError as exc:
        raise ChecksError(f"cannot read {path}: {exc}", hint="install pyarrow to read Parquet files") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ChecksError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
