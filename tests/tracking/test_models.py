"""register_model's user mistakes (no server needed)."""

from __future__ import annotations

import pytest

from branchline.tracking.connect import TrackingError
from branchline.tracking.models import register_model


def test_register_model_outside_a_run_says_where_to_call_it() -> None:
    import mlflow

    assert mlflow.active_run() is None
    with pytest.raises(TrackingError, match="inside a step"):
        register_model(object())
