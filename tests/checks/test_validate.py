"""`branchline.checks.validate` with the real GX 1.x on the template's own suites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from branchline.checks import ChecksError, DataChecksFailed, validate, validated
from tests.checks.conftest import iris, snapshot


def failures(result: Any) -> set[tuple[str, str | None]]:
    return {(o.type, o.column) for o in result.failed}


def test_clean_data_passes_and_gx_dir_is_left_as_committed(gx_project: Path) -> None:
    before = snapshot(gx_project / "gx")
    result = validate(iris(), suite="raw_data")
    assert result.success and result.evaluated == 16 and not result.failed
    assert result.mlflow_run_id is None and result.artifacts == ()  # no MLflow run: nothing recorded
    assert snapshot(gx_project / "gx") == before  # no data source, no store id written into git's files
    assert json.loads((gx_project / "gx/expectations/raw_data.json").read_text())["name"] == "raw_data"


def test_nulls_are_named_with_their_column_and_count(gx_project: Path) -> None:
    frame = iris()
    frame.loc[[3, 7], "petal_length"] = None
    with pytest.raises(DataChecksFailed) as caught:
        validate(frame, suite="raw_data")
    result = caught.value.result
    assert failures(result) == {("expect_column_values_to_not_be_null", "petal_length")}
    message = str(caught.value)
    assert "suite 'raw_data', 1 of 16 failed" in message
    assert "expect_column_values_to_not_be_null on column 'petal_length': 2 of 150 values unexpected" in message


def test_out_of_range_values_show_what_was_observed(gx_project: Path) -> None:
    frame = iris()
    frame.loc[0, "sepal_width"] = 55.0  # metres typed as centimetres
    frame.loc[1, "target"] = 7
    result = validate(frame, suite="raw_data", raise_on_failure=False)
    assert not result.success
    assert failures(result) == {
        ("expect_column_values_to_be_between", "sepal_width"),
        ("expect_column_values_to_be_in_set", "target"),
    }
    observed = {o.column: o.observed for o in result.failed}
    assert observed["sepal_width"] == "1 of 150 values unexpected, e.g. [55.0]"
    assert observed["target"] == "1 of 150 values unexpected, e.g. [7]"


def test_a_missing_column_fails_the_column_set_and_every_expectation_on_it(gx_project: Path) -> None:
    result = validate(iris().drop(columns=["petal_width"]), suite="raw_data", raise_on_failure=False)
    failed = failures(result)
    assert ("expect_table_columns_to_match_set", None) in failed
    assert {column for _, column in failed} == {None, "petal_width"}
    by_type = {o.type: o for o in result.failed if o.column == "petal_width"}
    assert (
        'The column "petal_width" in BatchData does not exist'
        in by_type["expect_column_values_to_not_be_null"].observed
    )


def test_wrong_types_are_reported(gx_project: Path) -> None:
    frame = iris()
    frame["sepal_length"] = frame["sepal_length"].astype(str)
    result = validate(frame, suite="raw_data", raise_on_failure=False)
    assert ("expect_column_values_to_be_in_type_list", "sepal_length") in failures(result)
    typed = next(o for o in result.failed if o.type == "expect_column_values_to_be_in_type_list")
    assert typed.observed.startswith("observed ")


def test_predictions_suite_catches_a_degenerate_model(gx_project: Path) -> None:
    import pandas as pd

    good = pd.DataFrame({"target": [0, 1, 2, 1], "prediction": [0, 1, 2, 2], "confidence": [0.9, 0.8, 0.7, 0.6]})
    assert validate(good, suite="predictions").success
    constant = good.assign(prediction=1, confidence=[0.5, 0.5, 1.2, 0.5])
    result = validate(constant, suite="predictions", raise_on_failure=False)
    assert failures(result) == {
        ("expect_column_unique_value_count_to_be_between", "prediction"),
        ("expect_column_values_to_be_between", "confidence"),
    }


def test_setup_mistakes_are_one_clear_error(gx_project: Path, tmp_path: Path) -> None:
    with pytest.raises(ChecksError, match=r"no expectation suite 'nope' .* \(suites: predictions, raw_data\)"):
        validate(iris(), suite="nope")
    with pytest.raises(ChecksError, match=r"invalid suite name '\.\./raw_data'"):
        validate(iris(), suite="../raw_data")
    with pytest.raises(ChecksError, match="take a pandas DataFrame, not list"):
        validate([1, 2], suite="raw_data")
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    with pytest.raises(ChecksError, match=r"no Great Expectations context at .*empty/gx"):
        validate(iris(), suite="raw_data", context_root=elsewhere)
    (gx_project / "gx/expectations/broken.json").write_text('{"name": "broken", "expectations": [{"kwargs": {}}]}')
    with pytest.raises(ChecksError, match="cannot load expectation suite 'broken'"):
        validate(iris(), suite="broken")


def test_context_root_may_be_the_project_or_its_gx_dir(gx_project: Path, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    assert validate(iris(), suite="raw_data", context_root=gx_project).success
    assert validate(iris(), suite="raw_data", context_root=gx_project / "gx").success
    nested = gx_project / "src" / "pkg"
    nested.mkdir(parents=True)
    os.chdir(nested)  # from anywhere inside the project
    assert validate(iris(), suite="raw_data").success


def test_decorator_validates_what_the_function_returns(gx_project: Path) -> None:
    @validated("raw_data")
    def load(broken: bool = False) -> Any:
        frame = iris()
        if broken:
            frame.loc[0, "petal_width"] = -1.0
        return frame

    assert len(load()) == 150
    with pytest.raises(DataChecksFailed, match="expect_column_values_to_be_between on column 'petal_width'"):
        load(broken=True)


def test_checks_do_not_import_mlflow_for_users_who_do_not_track(gx_project: Path) -> None:
    code = (
        "import sys; from tests.checks.conftest import iris; from branchline.checks import validate;"
        "assert validate(iris(), suite='raw_data').success; print('mlflow' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=gx_project,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"
