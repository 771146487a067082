"""Unit tests of the project's own code: data loading, the split, the model and its predictions."""

import pytest

from {{ cookiecutter.package }}.data import FEATURES, TARGET, load_data, split_data
from {{ cookiecutter.package }}.model import FAST_GRID, FULL_GRID, build_model, c_grid, fit, predictions_frame, score


def test_load_data_has_the_columns_the_raw_data_suite_expects():
    frame = load_data()
    assert list(frame.columns) == [*FEATURES, TARGET]
    assert len(frame) == 150 and frame[TARGET].dtype == "int64"
    assert set(frame[TARGET]) == {0, 1, 2}


def test_a_small_sample_keeps_every_class_and_is_reproducible():
    small = load_data(max_rows=30, seed=1)
    assert len(small) == 30 and small[TARGET].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    assert small.equals(load_data(max_rows=30, seed=1))
    assert not small.equals(load_data(max_rows=30, seed=2))


def test_split_is_disjoint_and_stratified():
    frame = load_data()
    parts = split_data(frame, seed=0)
    sizes = [len(parts.train), len(parts.validation), len(parts.test)]
    assert sum(sizes) == len(frame) and sizes == [75, 30, 45]
    for part in (parts.train, parts.validation, parts.test):
        assert set(part[TARGET]) == {0, 1, 2}
    rows = {tuple(r) for p in (parts.train, parts.validation, parts.test) for r in p.itertuples(index=False)}
    assert len(rows) == len({tuple(r) for r in frame.itertuples(index=False)})


def test_grid():
    assert c_grid() == FULL_GRID and c_grid(fast=True) == FAST_GRID
    assert set(FAST_GRID) <= set(FULL_GRID)


def test_the_model_clears_the_gate_thresholds_on_the_full_data():
    parts = split_data(load_data(), seed=42)
    model = fit(build_model(1.0, seed=42), parts.train)
    metrics = score(model, parts.test)
    assert set(metrics) == {"accuracy", "f1_macro"}
    assert metrics["accuracy"] >= 0.90 and metrics["f1_macro"] >= 0.85


@pytest.mark.parametrize("c", FULL_GRID)
def test_predictions_frame_is_what_the_predictions_suite_checks(c):
    parts = split_data(load_data(), seed=0)
    predictions = predictions_frame(fit(build_model(c), parts.train), parts.test)
    assert list(predictions.columns) == ["target", "prediction", "confidence"]
    assert len(predictions) == len(parts.test)
    assert predictions["confidence"].between(0, 1).all()
    assert set(predictions["prediction"]) <= {0, 1, 2}


def test_the_project_suites_accept_the_real_data():
    from branchline.checks import validate

    parts = split_data(load_data(), seed=0)
    assert validate(load_data(), suite="raw_data").success
    predictions = predictions_frame(fit(build_model(1.0), parts.train), parts.test)
    assert validate(predictions, suite="predictions").success
