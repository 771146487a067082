"""Great Expectations data checks, recorded in MLflow (`validate(df, suite="raw_data")`).

Importing this package is free: GX, pandas and MLflow load when a check runs.
"""

from branchline.checks.api import validate, validated
from branchline.checks.result import CheckResult, ChecksError, DataChecksFailed, ExpectationOutcome

__all__ = ["CheckResult", "ChecksError", "DataChecksFailed", "ExpectationOutcome", "validate", "validated"]
