"""Local runtime overhead: branchline vs Metaflow on the same trivial flows, measured in the same run.

    python benchmarks/bench_local_runtime.py [--repeat 5] [--metaflow-version 2.19.39]

Metaflow is installed from the package index into its own virtual environment (the test bed's cache,
shared with tests/metaflow_compat) the first time. Each flow is written twice, identical but for the import
line. Prints a table: wall time of a 2-step flow (start-up: interpreter, imports, tracking, first task),
a 6-step linear flow, foreach fan-outs of 2 and 32 trivial tasks, and the marginal cost of each further task.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.metaflow_compat.reference import METAFLOW_VERSION, metaflow_python  # noqa: E402

TWO_STEP = """
class TwoStep(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""

LINEAR = (
    """
class Linear(FlowSpec):
    @step
    def start(self):
        self.x = 0
        self.next(self.s1)
"""
    + "".join(
        f"""
    @step
    def s{i}(self):
        self.x += 1
        self.next(self.{"s" + str(i + 1) if i < 4 else "end"})
"""
        for i in range(1, 5)
    )
    + """
    @step
    def end(self):
        pass
"""
)

FOREACH = """
class Fan(FlowSpec):
    width = Parameter("width", default=2)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.y = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def write_flow(directory: Path, name: str, body: str, framework: str) -> Path:
    path = directory / f"{name}.py"
    cls = body.split("class ")[1].split("(")[0]
    path.write_text(
        f"from {framework} import FlowSpec, Parameter, step\n{body}\n\nif __name__ == '__main__':\n    {cls}()\n"
    )
    return path


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--metaflow-version", default=METAFLOW_VERSION)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--tracking", choices=["on", "off"], default="on", help="branchline's MLflow tracking")
    args = parser.parse_args()

    mf_python = metaflow_python(args.metaflow_version)
    work = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    base_env = {**os.environ, "USER": os.environ.get("USER", "bench"), "METAFLOW_DEFAULT_METADATA": "local"}
    base_env.pop("BRANCHLINE_DATASTORE", None)
    frameworks = {
        "branchline": (
            Path(sys.executable),
            {**base_env, "BRANCHLINE_TRACKING": "1" if args.tracking == "on" else "0"},
        ),
        "metaflow": (mf_python, base_env),
    }
    scenarios = [
        ("2-step flow (start-up)", "two", TWO_STEP, []),
        ("6-step linear flow", "linear", LINEAR, []),
        ("foreach of 2", "fan", FOREACH, ["--width", "2"]),
        ("foreach of 32", "fan", FOREACH, ["--width", "32"]),
    ]
    results: dict[tuple[str, str], float] = {}
    for framework, (python, env) in frameworks.items():
        directory = work / framework
        directory.mkdir()
        (directory / "pyproject.toml").write_text('[tool.branchline]\nproject = "bench"\n')
        for label, name, body, extra in scenarios:
            flow = write_flow(directory, name, body, framework)
            cmd = [str(python), str(flow), "run", "--max-workers", str(args.max_workers), *extra]
            timed(cmd, directory, env)  # warm-up: file-system caches, first store creation
            samples = [timed(cmd, directory, env) for _ in range(args.repeat)]
            results[(framework, label)] = statistics.median(samples)
    shutil.rmtree(work, ignore_errors=True)

    def marginal(framework: str) -> float:
        return (results[(framework, "foreach of 32")] - results[(framework, "foreach of 2")]) / 30

    def per_linear_task(framework: str) -> float:
        return (results[(framework, "6-step linear flow")] - results[(framework, "2-step flow (start-up)")]) / 4

    rows = [(label, results[("branchline", label)], results[("metaflow", label)]) for label, *_ in scenarios]
    rows.append(("marginal cost per foreach task", marginal("branchline"), marginal("metaflow")))
    rows.append(("marginal cost per linear task", per_linear_task("branchline"), per_linear_task("metaflow")))
    print(
        f"median of {args.repeat} runs, max-workers {args.max_workers}, branchline tracking {args.tracking}, "
        f"metaflow {args.metaflow_version}, {os.cpu_count()} cores"
    )
    print(f"| {'scenario':34} | {'branchline (s)':>14} | {'metaflow (s)':>12} | {'metaflow / branchline':>21} |")
    print(f"|{'-' * 36}|{'-' * 16}:|{'-' * 14}:|{'-' * 23}:|")
    for label, ours, theirs in rows:
        ratio = theirs / ours if ours > 0 else float("inf")
        print(f"| {label:34} | {ours:14.3f} | {theirs:12.3f} | {ratio:20.1f}x |")


if __name__ == "__main__":
    main()
