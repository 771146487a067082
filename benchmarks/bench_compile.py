"""Size of compiled state machines: bytes per Task state, and how far from Step Functions' 1 MB cap.

Run:  .venv/bin/python benchmarks/bench_compile.py
Prints a Markdown table for linear flows of 12, 50 and 150 steps (and a foreach flow of the same
size), compiled with the longest realistic names (a 40-character project, a hashed branch
namespace). Reference: Metaflow's Step Functions compiler embeds a ~6 KB bash bootstrap in every
Task state: 129 KB for a 12-step flow, so its definitions reach 1 MB near 150 tasks.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from typing import Any

from branchline.aws.compile import (
    DEFINITION_MAX_BYTES,
    CompileContext,
    compile_job_definitions,
    compile_state_machine,
    definition_json,
)
from branchline.graph.model import FlowGraph
from branchline.graph.parse import build_graph
from branchline.namespaces import namespace_for_branch

METAFLOW_BYTES_PER_TASK = 6_000
METAFLOW_12_STEPS_BYTES = 129_000


def linear_source(n: int, foreach: bool = False) -> str:
    """A flow of `n` steps; with `foreach`, every step but start/join/end runs inside one foreach."""
    middle = [f"step_{i:03d}" for i in range(n - (3 if foreach else 2))]
    order = ["start", *middle, *(["join"] if foreach else []), "end"]
    lines = ["from branchline import FlowSpec, step", "", "class BenchmarkFlow(FlowSpec):"]
    for a, b in itertools.pairwise(order):
        args = "self, inputs" if (foreach and a == "join") else "self"
        nxt = f"self.next(self.{b}, foreach='items')" if (foreach and a == "start") else f"self.next(self.{b})"
        lines += ["    @step", f"    def {a}({args}):", "        self.items = [1]", f"        {nxt}"]
    lines += ["    @step", "    def end(self):", "        pass"]
    return "\n".join(lines) + "\n"


def context() -> CompileContext:
    ns = namespace_for_branch("feature/" + "a-very-long-branch-name-" * 10)
    project = "p" * 40
    return CompileContext(
        project=project,
        namespace=ns,
        flow_file="flows/benchmark_flow.py",
        image=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{project}@sha256:{'a' * 64}",
        job_queue="arn:aws:batch:us-east-1:123456789012:job-queue/branchline-shared",
        job_role_arn="arn:aws:iam::123456789012:role/branchline-task",
        datastore_root=f"s3://{project}-artifacts/branchline/{project}",
        code_package=f"s3://{project}-artifacts/branchline/{project}/{ns}/code/{'c' * 64}.tar.gz",
    )


def _all_states(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        yield state
        for branch in state.get("Branches", []):
            yield from _all_states(branch["States"])
        if "ItemProcessor" in state:
            yield from _all_states(state["ItemProcessor"]["States"])


def measure(graph: FlowGraph, ctx: CompileContext) -> dict[str, float]:
    specs = compile_job_definitions(graph, ctx)
    arns = {s: f"arn:aws:batch:us-east-1:123456789012:job-definition/{j.name}:1" for s, j in specs.items()}
    definition = compile_state_machine(graph, ctx, arns)
    size = len(definition_json(definition).encode())
    task_sizes = [len(json.dumps(state, separators=(",", ":")).encode()) for state in _all_states(definition["States"])
                  if state["Type"] == "Task"]
    return {
        "steps": len(graph.steps),
        "bytes": size,
        "per_step": size / len(graph.steps),
        "per_task": sum(task_sizes) / len(task_sizes),
        "pct_of_cap": 100 * size / DEFINITION_MAX_BYTES,
    }


def main() -> int:
    ctx = context()
    print("| flow | steps | definition bytes | bytes/step | bytes/Task state | % of 1 MB | Metaflow est. bytes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in (12, 50, 150):
        for foreach in (False, True):
            graph = build_graph(linear_source(n, foreach), "benchmark_flow.py")
            m = measure(graph, ctx)
            kind = "foreach" if foreach else "linear"
            print(
                f"| {kind} | {m['steps']:.0f} | {m['bytes']:,.0f} | {m['per_step']:,.0f} | {m['per_task']:,.0f} "
                f"| {m['pct_of_cap']:.1f} | {METAFLOW_12_STEPS_BYTES * n / 12:,.0f} |"
            )
    per_step = measure(build_graph(linear_source(150), "benchmark_flow.py"), ctx)["per_step"]
    print()
    print(f"1 MB holds about {DEFINITION_MAX_BYTES / per_step:,.0f} linear steps "
          f"(Metaflow: about {DEFINITION_MAX_BYTES / (METAFLOW_12_STEPS_BYTES / 12):,.0f}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
