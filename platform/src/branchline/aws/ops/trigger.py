"""Start a run of a deployed flow: `start_execution` on its `live` alias, parameters checked first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from branchline.authoring.parameters import convert
from branchline.aws.compile import PARAMS_MAX_JSON_CHARS
from branchline.aws.deploy.observe import deployed_marker, scope_of
from branchline.aws.session import ClientFactory
from branchline.datastore.records import new_run_id
from branchline.errors import BranchlineError, FlowError
from branchline.graph.model import FlowGraph
from branchline.namespaces import Names


class NotDeployed(BranchlineError):
    """The flow has no state machine in that namespace."""


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`["a=1", "b=x"]` → {"a": "1", "b": "x"} (values stay strings until typed against the flow)."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FlowError(f"--param {pair!r} is not NAME=VALUE", hint="e.g. --param alpha=0.5")
        params[key.strip()] = value
    return params


def typed_params(graph: FlowGraph, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Type the values against the flow's Parameters; unknown names and missing required ones are errors."""
    known = {p.name: p for p in graph.parameters}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        listed = ", ".join(sorted(known)) or "(none)"
        raise FlowError(f"{graph.name} has no parameter {', '.join(unknown)}", hint=f"its parameters: {listed}")
    typed = {}
    for name, spec in known.items():
        if name in raw:
            typed[name] = convert(spec.type, raw[name], name)
        elif spec.required and spec.default is None:
            raise FlowError(f"parameter {name} of {graph.name} is required", hint=f"pass --param {name}=VALUE")
    return typed


def alias_arn(clients: ClientFactory, names: Names, flow: str) -> str:
    """The flow's `live` alias in the namespace (by exact name, from the caller's account and region)."""
    arn = f"{scope_of(clients).state_machine_arn(names.state_machine(flow))}:{names.alias()}"
    if deployed_marker(clients, arn) is None:
        raise NotDeployed(
            f"flow {flow} is not deployed in namespace {names.namespace}",
            hint=f"deploy it first: branchline deploy --namespace {names.namespace}",
        )
    return arn


def start_run(
    clients: ClientFactory, names: Names, flow: str, params: Mapping[str, Any], run_id: str | None = None
) -> str:
    """Start an execution named `run_id` with input {"run_id", "params"}; returns the execution ARN."""
    encoded = json.dumps(dict(params))
    if len(encoded) > PARAMS_MAX_JSON_CHARS:
        raise FlowError(
            f"parameters take {len(encoded)} characters as JSON; at most {PARAMS_MAX_JSON_CHARS} travel to a run",
            hint="pass a pointer (an S3 URL or a file name) instead of the data itself",
        )
    run_id = names.execution(run_id or new_run_id())
    target = alias_arn(clients, names, flow)
    response = clients("stepfunctions").start_execution(
        stateMachineArn=target, name=run_id, input=json.dumps({"run_id": run_id, "params": dict(params)})
    )
    return str(response["executionArn"])
