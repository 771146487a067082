"""Mistakes in what the compiler is given are reported in one line that names the fix."""

from __future__ import annotations

import pytest

from branchline.aws.compile import CompileError, compile_state_machine
from branchline.runtime.loader import graph_from_file
from tests.aws_compile.support import make_ctx
from tests.flows import flow_path


def test_a_missing_job_definition_arn_names_the_step() -> None:
    graph = graph_from_file(flow_path("linear_flow"))
    with pytest.raises(CompileError, match=r"no job definition ARN for step.*b") as err:
        compile_state_machine(graph, make_ctx(), {"start": "arn:1", "a": "arn:2", "end": "arn:4"})
    assert "compile_job_definitions" in str(err.value)


@pytest.mark.parametrize("root", ["/tmp/branchline", "s3://", "file:///x"])
def test_a_local_datastore_cannot_be_deployed(root: str) -> None:
    with pytest.raises(CompileError, match="is not an S3 URL"):
        make_ctx(datastore_root=root)


@pytest.mark.parametrize("value", [-1, True, 2.5])
def test_max_concurrency_must_be_a_count(value: object) -> None:
    with pytest.raises(CompileError, match="max_concurrency"):
        make_ctx(max_concurrency=value)


def test_placeholder_arns_are_kept_verbatim_for_the_deployer_to_resolve() -> None:
    graph = graph_from_file(flow_path("linear_flow"))
    arns = {step: f"<<ref:jobdef-{step}>>" for step in graph.steps}
    definition = compile_state_machine(graph, make_ctx(), arns)
    assert definition["States"]["a"]["Parameters"]["JobDefinition"] == "<<ref:jobdef-a>>"
