"""The generated sample flow (TrainFlow, iris): branchline vs a Metaflow port of it, measured in the same run.

    python benchmarks/bench_sample_flow.py [--repeat 1] [--metaflow-version 2.19.39]

Renders the template with its defaults, then runs, one after the other and `--repeat` times each:
- branchline, as a person runs it (`python flows/train_flow.py run`: tracking to the project's sqlite
  store, GX checks, the gate; in the user's namespace no model is logged or registered unless asked),
  with the pre-fork warm-up (runtime/warmup.py);
- the same, asked to register (`BRANCHLINE_REGISTER_MODELS=1`: logs and registers the model, the gate judges
  it in dry run), the like-for-like comparison with the Metaflow port;
- registering, without the warm-up (`BRANCHLINE_WARM_IMPORTS=0`) and with `--wait-tracking`: before issue 11;
- Metaflow: the same steps calling the same project code, logging to its own sqlite MLflow store from each
  step and registering the model, validating the same GX suites (through the platform's GX wrapper, the
  same GX work); no gate. Metaflow comes from its own virtual environment (tests/metaflow_compat), put on
  this interpreter's path so both sides share scikit-learn, pandas, MLflow and GX.
Prints wall time and CPU time (user+sys of the run's processes that were waited for) per variant.
The machine may be shared: compare the ratios within one run, not absolute seconds across runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cookiecutter.main import cookiecutter  # noqa: E402

from tests.metaflow_compat.reference import METAFLOW_VERSION, metaflow_env, metaflow_python  # noqa: E402

METAFLOW_PORT = '''
"""TrainFlow as a Metaflow user writes it: MLflow and GX called from the steps."""

import os

import mlflow
import mlflow.sklearn
from metaflow import FlowSpec, Parameter, current, step

from branchline.checks.gx_run import load_suite, run_suite
from {package}.data import FEATURES, load_data, split_data
from {package}.model import build_model, c_grid, fit, predictions_frame, score

GX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gx")


def check(frame, suite):
    return run_suite(frame, load_suite(__import__("pathlib").Path(GX), suite)).raw["success"]


def tracked(name):
    mlflow.set_experiment("TrainFlowMetaflow")
    return mlflow.start_run(run_name=f"{{current.run_id}}/{{name}}/{{current.task_id}}")


class TrainFlow(FlowSpec):
    max_rows = Parameter("max_rows", default=0)
    fast = Parameter("fast", default=False)
    seed = Parameter("seed", default=42)

    @step
    def start(self):
        with tracked("start"):
            self.data = load_data(max_rows=self.max_rows or None, seed=self.seed)
            self.raw_data_check = check(self.data, "raw_data")
        self.next(self.split)

    @step
    def split(self):
        with tracked("split"):
            self.split_sets = split_data(self.data, seed=self.seed)
            self.grid = c_grid(fast=self.fast)
        self.next(self.train, foreach="grid")

    @step
    def train(self):
        with tracked("train"):
            self.c = self.input
            self.model = fit(build_model(self.c, seed=self.seed), self.split_sets.train)
            self.validation_accuracy = score(self.model, self.split_sets.validation)["accuracy"]
            mlflow.log_param("C", self.c)
            mlflow.log_metric("validation_accuracy", self.validation_accuracy)
        self.next(self.join)

    @step
    def join(self, inputs):
        with tracked("join"):
            best = max(inputs, key=lambda branch: (branch.validation_accuracy, -branch.c))
            self.model, self.best_c = best.model, best.c
            self.merge_artifacts(inputs, exclude=["model", "c", "validation_accuracy", "input"])
        self.next(self.evaluate)

    @step
    def evaluate(self):
        with tracked("evaluate"):
            test = self.split_sets.test
            self.predictions_check = check(predictions_frame(self.model, test), "predictions")
            self.metrics = score(self.model, test)
            mlflow.log_metrics(self.metrics)
            mlflow.sklearn.log_model(
                self.model, name="model", input_example=test[FEATURES].head(5),
                registered_model_name="iris-metaflow",
            )
        self.next(self.end)

    @step
    def end(self):
        with tracked("end"):
            self.passed = self.metrics["accuracy"] >= 0.9 and self.raw_data_check and self.predictions_check
        print("passed" if self.passed else "failed")


if __name__ == "__main__":
    TrainFlow()
'''


def render(into: Path) -> Path:
    source = f"branchline @ {(REPO / 'platform').as_uri()}"
    context = {"branchline_source": source}
    return Path(cookiecutter(str(REPO), no_input=True, output_dir=str(into), extra_context=context))


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the waited-for processes) of one run; exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--metaflow-version", default=METAFLOW_VERSION)
    args = parser.parse_args()

    mf_python = metaflow_python(args.metaflow_version)
    mf_site = subprocess.run(
        [str(mf_python), "-c", "import metaflow, os; print(os.path.dirname(os.path.dirname(metaflow.__file__)))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="bench-sample-"))
    project = render(work)
    package = next(p.name for p in (project / "src").iterdir() if (p / "__init__.py").exists())
    (project / "flows" / "train_flow_metaflow.py").write_text(METAFLOW_PORT.format(package=package))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_"))}
    ours = {**clean, "PYTHONPATH": str(project / "src")}
    mf_env = metaflow_env(work / "metaflow-home", "bench")
    mf_env.update(PYTHONPATH=os.pathsep.join([str(project / "src"), mf_site]),
                  MLFLOW_TRACKING_URI=f"sqlite:///{work / 'metaflow-mlflow.db'}")  # fmt: skip
    py = sys.executable
    registering = {**ours, "BRANCHLINE_REGISTER_MODELS": "1"}
    variants = [
        ("branchline (make demo's default)", [py, "flows/train_flow.py", "run"], ours),
        ("branchline, registering", [py, "flows/train_flow.py", "run"], registering),
        ("branchline before issue 11", [py, "flows/train_flow.py", "run", "--wait-tracking"],
         {**registering, "BRANCHLINE_WARM_IMPORTS": "0"}),
        ("metaflow port", [py, "flows/train_flow_metaflow.py", "run"], mf_env),
    ]  # fmt: skip
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in variants}
    for _ in range(args.repeat):
        for label, cmd, env in variants:  # interleaved: a load spike hits every variant alike
            samples[label].append(timed(cmd, project, env))
    shutil.rmtree(work, ignore_errors=True)

    print(f"median of {args.repeat} run(s), metaflow {args.metaflow_version}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"| {'variant':32} | {'wall (s)':>8} | {'CPU (s)':>7} | {'wall / metaflow':>15} |")
    print(f"|{'-' * 34}|{'-' * 9}:|{'-' * 8}:|{'-' * 16}:|")
    mf_wall = statistics.median(w for w, _ in samples["metaflow port"])
    for label, runs in samples.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        print(f"| {label:32} | {wall:8.1f} | {cpu:7.1f} | {wall / mf_wall:14.2f}x |")


if __name__ == "__main__":
    main()
