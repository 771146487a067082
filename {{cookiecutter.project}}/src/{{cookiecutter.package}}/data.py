"""The iris data set (ships with scikit-learn: no download) and the train/validation/test split."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "target"

# scikit-learn's column names carry units and spaces; ours are plain identifiers.
_RENAME = {
    "sepal length (cm)": "sepal_length",
    "sepal width (cm)": "sepal_width",
    "petal length (cm)": "petal_length",
    "petal width (cm)": "petal_width",
}


@dataclass(frozen=True)
class Split:
    """Train (fit), validation (pick hyper-parameters), test (the metrics the gate judges)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def load_data(max_rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The iris measurements and species as one frame; `max_rows` keeps a stratified sample (small tests)."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.rename(columns=_RENAME)
    frame[TARGET] = frame[TARGET].astype("int64")
    if max_rows and max_rows < len(frame):
        fraction = max_rows / len(frame)
        frame = frame.groupby(TARGET, group_keys=False).sample(frac=fraction, random_state=seed)
    return frame.reset_index(drop=True)


def split_data(frame: pd.DataFrame, seed: int = 0, test_size: float = 0.3, validation_size: float = 0.2) -> Split:
    """Stratified split, so that every species is in every part even on small samples."""
    from sklearn.model_selection import train_test_split

    n_test, n_validation = round(len(frame) * test_size), round(len(frame) * validation_size)
    rest, test = train_test_split(frame, test_size=n_test, random_state=seed, stratify=frame[TARGET])
    train, validation = train_test_split(rest, test_size=n_validation, random_state=seed, stratify=rest[TARGET])
    return Split(train.reset_index(drop=True), validation.reset_index(drop=True), test.reset_index(drop=True))


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame[FEATURES], frame[TARGET]
