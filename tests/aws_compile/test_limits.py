"""Service limits, whatever the names: container overrides < 8,192 chars, names within limits, size per state."""

from __future__ import annotations

import itertools
import json

from branchline.aws.compile import (
    CONTAINER_OVERRIDES_MAX_CHARS,
    PARAMS_MAX_JSON_CHARS,
    SourceContext,
    definition_json,
)
from branchline.namespaces import namespace_for_branch
from branchline.namespaces.limits import BATCH, PROJECT_MAX_LENGTH
from tests.aws_compile.support import compile_graph, graph_from_source, lint, make_ctx, resolve_payload, tasks, walk

LONG = "x" * 120


def _longest_flow_source() -> str:
    """Every construct, with identifiers far longer than any service name: flow, steps, foreach depth 2."""
    s = f"S{LONG}"
    return f'''
from branchline import FlowSpec, catch, step
class F{LONG}(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.{s}_a, foreach="items")
    @step
    def {s}_a(self):
        self.inner = [1]
        self.next(self.{s}_b, foreach="inner")
    @catch(var="e")
    @step
    def {s}_b(self):
        self.next(self.{s}_c, self.{s}_d)
    @step
    def {s}_c(self):
        self.next(self.{s}_j)
    @step
    def {s}_d(self):
        self.next(self.{s}_j)
    @step
    def {s}_j(self, inputs):
        self.next(self.{s}_k)
    @step
    def {s}_k(self, inputs):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
'''


def _hostile_ctx():
    branch = ('zzz";echo${IFS}"hi";#' + "é/" * 115)[:250]  # 250 characters of hostile branch name
    source = SourceContext(branch=branch, repository=f"{'o' * 39}/{'r' * 100}",  # GitHub's longest owner/name
                           server_url="https://" + "g" * 240)  # the start task carries them as literals
    return make_ctx(project="p" * PROJECT_MAX_LENGTH, namespace=namespace_for_branch(branch), git_sha="f" * 40,
                    source=source)


def test_longest_container_override_stays_far_below_batchs_limit() -> None:
    compiled = compile_graph(graph_from_source(_longest_flow_source()), _hostile_ctx())
    assert lint(compiled.definition) == []
    data = {
        "run_id": "r" * 80,  # an execution name: at most 80 characters
        "task_id": "0-" + "-".join(["99999"] * 6),  # depth-6 foreach, 100,000 items each level
        "params": {"p": "v" * (PARAMS_MAX_JSON_CHARS - len('{"p":""}'))},
        "retry": {"n": 9},  # the last of Batch's at most 10 attempts
    }
    assert len(json.dumps(data["params"], separators=(",", ":"))) == PARAMS_MAX_JSON_CHARS
    context = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:" + "e" * 2000}}
    longest = 0
    for name, task in tasks(compiled.definition):
        rendered = resolve_payload(task["Parameters"], data, context)
        overrides = json.dumps(rendered["ContainerOverrides"], separators=(",", ":"))
        longest = max(longest, len(overrides))
        assert len(overrides) < CONTAINER_OVERRIDES_MAX_CHARS, name
        assert BATCH.accepts(rendered["JobName"]), rendered["JobName"]
    assert longest > PARAMS_MAX_JSON_CHARS  # the start task was measured with its parameters


def test_state_names_fit_step_functions_limit_and_stay_distinct() -> None:
    compiled = compile_graph(graph_from_source(_longest_flow_source()), _hostile_ctx())
    names = [name for _, name, _ in walk(compiled.definition["States"])]
    assert all(len(n) <= 80 for n in names)
    assert len(names) == len(set(names))


def _linear_source(n: int) -> str:
    steps = ["start", *[f"s{i:03d}" for i in range(n - 2)], "end"]
    body = "".join(
        f"    @step\n    def {a}(self):\n        self.x = {i}\n        self.next(self.{b})\n"
        for i, (a, b) in enumerate(itertools.pairwise(steps))
    )
    return f"from branchline import FlowSpec, step\nclass Long(FlowSpec):\n{body}    @step\n    def end(self):\n" \
           "        pass\n"


def test_a_hundred_step_flow_costs_about_a_kilobyte_per_step() -> None:
    compiled = compile_graph(graph_from_source(_linear_source(100)))
    size = len(definition_json(compiled.definition).encode())
    per_step = size / 100
    assert lint(compiled.definition) == []
    assert per_step < 1_500, f"{per_step:.0f} bytes per step (Metaflow: ~6,000 per Task state)"
