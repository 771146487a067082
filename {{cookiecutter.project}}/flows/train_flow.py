"""Train an iris classifier: check the data, try a few hyper-parameters in parallel, keep the best,
check its predictions, register it in MLflow and let the promotion gate decide whether it becomes `champion`.

Run it locally:  python flows/train_flow.py run --fast true --max_rows 60
"""

import mlflow
from branchline import FlowSpec, Parameter, current, resources, retry, step
from branchline.checks import validate
from branchline.gate import evaluate_in_flow
from branchline.tracking.models import register_model

from {{ cookiecutter.package }}.data import FEATURES, load_data, split_data
from {{ cookiecutter.package }}.model import build_model, c_grid, fit, predictions_frame, score


class TrainFlow(FlowSpec):
    """Train, check and (in production) promote the iris classifier."""

    max_rows = Parameter("max_rows", default=0, help="Use a stratified sample of this many rows (0: all)")
    fast = Parameter("fast", default=False, help="Try fewer hyper-parameters (tests, smoke runs)")
    seed = Parameter("seed", default=42, help="Random seed of the sample, the split and the model")

    @step
    def start(self):
        """Load the data and stop here if it is not what the model expects (gx/expectations/raw_data.json)."""
        self.data = load_data(max_rows=self.max_rows or None, seed=self.seed)
        self.raw_data_check = validate(self.data, suite="raw_data").as_dict()
        print(f"{current.flow_name}/{current.run_id}: {len(self.data)} rows in namespace {current.namespace}")
        self.next(self.split)

    @step
    def split(self):
        """Train / validation / test, stratified; one foreach branch per value of C."""
        self.split_sets = split_data(self.data, seed=self.seed)
        self.grid = c_grid(fast=self.fast)
        self.next(self.train, foreach="grid")

    @resources(cpu=1, memory=2048)
    @retry(times=1)
    @step
    def train(self):
        """Fit one model; its validation accuracy decides which branch wins."""
        self.c = self.input
        self.model = fit(build_model(self.c, seed=self.seed), self.split_sets.train)
        self.validation_accuracy = score(self.model, self.split_sets.validation)["accuracy"]
        mlflow.log_param("C", self.c)
        mlflow.log_metric("validation_accuracy", self.validation_accuracy)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Keep the model with the best validation accuracy (the smallest C on ties: the simplest model)."""
        best = max(inputs, key=lambda branch: (branch.validation_accuracy, -branch.c))
        self.model, self.best_c, self.validation_accuracy = best.model, best.c, best.validation_accuracy
        self.tried = {branch.c: branch.validation_accuracy for branch in inputs}
        self.merge_artifacts(inputs, exclude=["model", "c", "validation_accuracy"])
        self.next(self.evaluate)

    @step
    def evaluate(self):
        """Test-set metrics and predictions check; register the model (the gate's candidate).

        A run in your own namespace registers only when asked (BRANCHLINE_REGISTER_MODELS=1, or
        [tool.branchline] register_local_models = true); branches and prod always register."""
        test = self.split_sets.test
        predictions = predictions_frame(self.model, test)
        self.predictions_check = validate(predictions, suite="predictions").as_dict()
        self.metrics = score(self.model, test)
        mlflow.log_param("C", self.best_c)
        mlflow.log_metrics(self.metrics)
        version = register_model(self.model, input_example=test[FEATURES].head(5), tags={"C": self.best_c})
        self.model_name = version.name if version else None  # None: not registered (register_model said why)
        self.model_version = str(version.version) if version else None
        if version:
            print(f"registered {self.model_name} v{self.model_version}: {self.metrics}")
        else:
            print(f"test metrics: {self.metrics}")
        self.next(self.end)

    @step
    def end(self):
        """The promotion gate: in `prod` it moves the alias `champion` on pass; elsewhere it is a dry run
        (and, for a local run that registered no model, says there is nothing to judge)."""
        outcome = evaluate_in_flow()
        self.gate = outcome.as_dict()  # the gate printed its verdict (or "nothing to judge") already


if __name__ == "__main__":
    TrainFlow()
