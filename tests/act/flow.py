"""The act series' flow: the end-to-end flow's shape (tests/e2e/project.py), tracked in MLflow and gated.

Its `validate` step logs the headline metric and registers a model (a small `pyfunc` model, so the step image
needs only `mlflow-skinny` and pandas, not scikit-learn); its `end` step runs the promotion gate, as the
template's TrainFlow does: in `prod` the gate moves `champion`, in a branch namespace it is a dry run.
"""

from __future__ import annotations

from tests.e2e import project as proj

FLOW_CLASS = "E2EFlow"
STEPS = ("start", "square", "join", "validate", "end")
METRIC = "accuracy"

_FLOW = '''"""The act series' flow: a foreach over `count` items, a join, a tracked model and the promotion gate."""

import mlflow

from branchline import FlowSpec, Parameter, step
from branchline.gate import evaluate_in_flow
from branchline.tracking.models import register_model

from __PACKAGE__.e2e_math import square

''' + proj.FANOUT_STEPS + '''
    @step
    def validate(self):
        """The model's metric and the model itself, registered: the gate's candidate."""
        if self.fail:
            raise RuntimeError("e2e validate refused the run (fail=True)")
        from mlflow.pyfunc import PythonModel

        class Squares(PythonModel):
            def predict(self, context, model_input, params=None):
                return [square(value) for value in model_input]

        self.metrics = {"__METRIC__": 0.9 + 0.01 * len(self.values)}
        mlflow.log_metrics(self.metrics)
        version = register_model(Squares(), flavor="pyfunc", tags={"marker": MARKER}, pip_requirements=["branchline"])
        self.model_version = str(version.version)
        print(f"e2e registered {version.name} v{version.version}: {self.metrics}")
        self.next(self.end)

    @step
    def end(self):
        """The promotion gate: `champion` moves in prod on a pass; a branch's run only dry-runs."""
        self.gate = evaluate_in_flow().as_dict()
        print(f"e2e end total={self.total} marker={MARKER}")
'''


def flow_source(package: str, marker: str) -> str:
    """The flow's source; `marker` is what a code-only change changes."""
    return proj.flow_source(package, marker, _FLOW).replace("__METRIC__", METRIC)


def gate_policy(model: str) -> str:
    """pyproject's gate of the flow: the metric's threshold, no data checks (the flow runs none)."""
    return (f'\n[tool.branchline.gates.{FLOW_CLASS}]\nmodel = "{model}"\nthresholds = {{ {METRIC} = ">= 0.9" }}\n'
            "tolerance = 0.05\nrequired_checks = []\n")
