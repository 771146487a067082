"""The model: a scaled logistic regression, its hyper-parameter grid, its metrics and its predictions."""

from __future__ import annotations

from typing import Any

import pandas as pd

from {{ cookiecutter.package }}.data import features_and_target

FULL_GRID = [0.01, 0.1, 1.0, 10.0]
FAST_GRID = [0.1, 1.0]


def c_grid(fast: bool = False) -> list[float]:
    """Values of the inverse regularisation strength `C` to try (one foreach branch each)."""
    return list(FAST_GRID if fast else FULL_GRID)


def build_model(c: float, seed: int = 0) -> Any:
    """Standardise, then multinomial logistic regression: fast, deterministic, a sound baseline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000, random_state=seed))


def fit(model: Any, frame: pd.DataFrame) -> Any:
    features, target = features_and_target(frame)
    return model.fit(features, target)


def score(model: Any, frame: pd.DataFrame) -> dict[str, float]:
    """The metrics the promotion gate reads (see [tool.branchline.gates] in pyproject.toml)."""
    from sklearn.metrics import accuracy_score, f1_score

    features, target = features_and_target(frame)
    predicted = model.predict(features)
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "f1_macro": float(f1_score(target, predicted, average="macro")),
    }


def predictions_frame(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Truth, prediction and the model's confidence per row: what gx/expectations/predictions.json checks."""
    features, target = features_and_target(frame)
    return pd.DataFrame(
        {
            "target": target.to_numpy(),
            "prediction": model.predict(features).astype("int64"),
            "confidence": model.predict_proba(features).max(axis=1),
        }
    )
