"""Helpers of the compiler tests: a deploy context, compiling a test flow, walking and linting ASL.

`resolve_payload` evaluates the few JSONPath forms our Tasks use, so tests can check what Batch
would receive (job names, container overrides) without a Step Functions service.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

from statelint.linter import Linter

from branchline.aws.compile import (
    CompileContext,
    JobDefinitionSpec,
    compile_job_definitions,
    compile_state_machine,
)
from branchline.graph.model import FlowGraph
from branchline.graph.parse import build_graph
from branchline.runtime.loader import graph_from_file
from tests.flows import flow_path

ACCOUNT = "123456789012"
REGION = "us-east-1"

STATELINT_KNOWN_GAP = re.compile(r'^Field "InputType" not allowed in .*\.ItemReader\.ReaderConfig$')
"""statelint 3.1 models ReaderConfig with MaxItems only; AWS documents `InputType` (CSV/JSON/JSONL/
MANIFEST/PARQUET) and moto needs it to parse a JSON item list. The one finding we accept."""


def make_ctx(**overrides: Any) -> CompileContext:
    base = CompileContext(
        project="demo",
        namespace="br-feature-x-1a2b3c4d",
        flow_file="flows/flow.py",
        image=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo@sha256:{'a' * 64}",
        job_queue=f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/branchline-shared",
        job_role_arn=f"arn:aws:iam::{ACCOUNT}:role/branchline-demo-task",
        datastore_root="s3://demo-bucket/branchline/demo",
        code_package="s3://demo-bucket/branchline/demo/br-feature-x-1a2b3c4d/code/0123abcd.tar.gz",
        max_concurrency=7,
    )
    return dataclasses.replace(base, **overrides)


def fake_arns(specs: dict[str, JobDefinitionSpec]) -> dict[str, str]:
    return {step: f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{spec.name}:3" for step, spec in specs.items()}


@dataclasses.dataclass(frozen=True)
class Compiled:
    graph: FlowGraph
    ctx: CompileContext
    job_definitions: dict[str, JobDefinitionSpec]
    arns: dict[str, str]
    definition: dict[str, Any]


def compile_graph(graph: FlowGraph, ctx: CompileContext | None = None) -> Compiled:
    ctx = ctx or make_ctx()
    specs = compile_job_definitions(graph, ctx)
    arns = fake_arns(specs)
    return Compiled(graph, ctx, specs, arns, compile_state_machine(graph, ctx, arns))


def compile_flow(name: str, ctx: CompileContext | None = None) -> Compiled:
    return compile_graph(graph_from_file(flow_path(name)), ctx)


def graph_from_source(source: str) -> FlowGraph:
    return build_graph(source, "generated_flow.py")


def lint(definition: dict[str, Any]) -> list[str]:
    """statelint's findings, minus the one documented gap."""
    return [p for p in Linter.validate(definition) if not STATELINT_KNOWN_GAP.match(p)]


def walk(states: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, dict]]:
    """(scope path, name, state) of every state, descending into Parallel branches and Map processors."""
    for name, state in states.items():
        yield path, name, state
        for i, branch in enumerate(state.get("Branches", [])):
            yield from walk(branch["States"], (*path, f"{name}[{i}]"))
        if "ItemProcessor" in state:
            yield from walk(state["ItemProcessor"]["States"], (*path, name))


def tasks(definition: dict[str, Any]) -> list[tuple[str, dict]]:
    return [(name, s) for _, name, s in walk(definition["States"]) if s["Type"] == "Task"]


def scope_of(definition: dict[str, Any], state_name: str) -> dict[str, Any]:
    """The `States` object that holds `state_name`."""
    def search(states: dict[str, Any]) -> dict[str, Any] | None:
        if state_name in states:
            return states
        for state in states.values():
            for branch in state.get("Branches", []):
                if (found := search(branch["States"])) is not None:
                    return found
            if "ItemProcessor" in state and (found := search(state["ItemProcessor"]["States"])) is not None:
                return found
        return None

    found = search(definition["States"])
    assert found is not None, f"no state {state_name!r}"
    return found


def env_of(task: dict[str, Any]) -> dict[str, str]:
    """The container override environment of a Task, as name -> value or JSONPath."""
    out = {}
    for item in task["Parameters"]["ContainerOverrides"]["Environment"]:
        out[item["Name"]] = item.get("Value", item.get("Value.$"))
    return out


def _path(expr: str, data: dict[str, Any], context: dict[str, Any]) -> Any:
    root, rest = (context, expr[2:]) if expr.startswith("$$") else (data, expr[1:])
    value: Any = root
    for part in filter(None, rest.split(".")):
        value = value[part]
    return value


def resolve_value(expr: str, data: dict[str, Any], context: dict[str, Any]) -> Any:
    """The JSONPath and intrinsic forms our Tasks use: `$.x`, `$$.X.Y`, JsonToString, Format."""
    if m := re.fullmatch(r"States\.JsonToString\((.+)\)", expr):
        return json.dumps(resolve_value(m.group(1), data, context), separators=(",", ":"))
    if m := re.fullmatch(r"States\.Format\('((?:[^'\\]|\\.)*)'((?:, *[^,]+)*)\)", expr):
        args = [resolve_value(a.strip(), data, context) for a in m.group(2).split(",")[1:]]
        pieces = re.split(r"(?<!\\)\{\}", m.group(1))
        assert len(pieces) == len(args) + 1, expr
        out = pieces[0]
        for arg, piece in zip(args, pieces[1:], strict=True):
            out += str(arg) + piece
        return re.sub(r"\\(.)", r"\1", out)
    return _path(expr, data, context)


def resolve_payload(template: Any, data: dict[str, Any], context: dict[str, Any]) -> Any:
    """A payload template (Parameters, ItemSelector...) evaluated against state data and context."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = resolve_value(value, data, context)
            else:
                out[key] = resolve_payload(value, data, context)
        return out
    if isinstance(template, list):
        return [resolve_payload(v, data, context) for v in template]
    return template
