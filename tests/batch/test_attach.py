"""`--with`, `@batch`, `@pypi` and the per-step compute a laptop run and a deployment share (no servers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from branchline.authoring.attach import DECORATORS, AttachError, DecoratorEntry, attach, parse_all, parse_with, register
from branchline.authoring.compute import pypi_base, pypi_requirements
from branchline.aws.compile.batch import job_definition
from branchline.aws.compile.compute import step_compute
from branchline.aws.compile.context import CompileContext, CompileError
from branchline.runtime.batch_executor import TokenBucket
from branchline.runtime.loader import graph_from_file
from branchline.runtime.placement import environment_lacks

FLOW = '''
from branchline import FlowSpec, batch, pypi, resources, retry, step


class ComputeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.big)

    @resources(cpu=8, memory=2000)
    @batch(cpu=2, memory=16000, gpu=1, shared_memory=512, image="repo/own@sha256:''' + "a" * 64 + '''")
    @step
    def big(self):
        self.next(self.extra)

    @retry(times=5)
    @pypi(packages={"pyjokes": "0.8.3", "tomli-w": ">=1"})
    @step
    def extra(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.fixture
def graph(tmp_path: Path):
    (tmp_path / "flow.py").write_text(FLOW)
    return graph_from_file(tmp_path / "flow.py")


def _ctx(**extra) -> CompileContext:
    return CompileContext(project="p", namespace="user-x", flow_file="flow.py", image="repo/step@sha256:" + "b" * 64,
                          job_queue="q", job_role_arn="arn:aws:iam::123456789012:role/job",
                          datastore_root="s3://bucket/branchline/p", code_package="s3://bucket/code.tgz",
                          **extra)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("nothing", "there is no decorator named 'nothing'"),
        ("batch:mem=16000", "batch has no attribute 'mem'"),
        ("batch:cpu=four", "cpu='four' is not a number"),
        ("retry:times=2.5", "times='2.5' is not a whole number"),
        ("retry:times=12", "must be an integer from 0 to 9"),
        ("catch:print_exception=maybe", "is not true or false"),
        ("environment:vars=[1]", "is not a JSON object"),
        ("batch:cpu", "'cpu' is not key=value"),
        ("conda", "@conda is not supported"),
        ("schedule", "@schedule is a flow decorator"),
    ],
)
def test_with_values_are_checked_with_one_clear_message(text: str, wanted: str) -> None:
    with pytest.raises(AttachError) as caught:
        parse_with(text)
    assert wanted in str(caught.value)


def test_with_values_take_the_decorators_own_defaults_and_types() -> None:
    batch = parse_with("batch:memory=16000,cpu=4,gpu=1")
    assert (batch.name, batch.args["cpu"], batch.args["memory"], batch.args["gpu"]) == ("batch", 4, 16000, 1)
    assert parse_with("retry").args == {"times": 3, "minutes_between_retries": 2}
    assert parse_with('environment:vars={"A":"1","B":"2"}').args == {"vars": {"A": "1", "B": "2"}}
    with pytest.raises(AttachError, match="name the same decorator"):
        parse_all(["batch", "batch:cpu=2"])


def test_the_registry_takes_new_entries() -> None:
    register(DecoratorEntry("project", {}, None, unsupported="@project is a flow decorator: write it above the class"))
    try:
        with pytest.raises(AttachError, match="@project is a flow decorator"):
            parse_with("project")
    finally:
        DECORATORS.pop("project")


def test_a_steps_own_decorator_wins_over_with(graph) -> None:
    attached = attach(graph, parse_all(["batch:cpu=4,memory=8000", "retry:times=1"]))
    assert step_compute(attached["start"])[:4] == (True, 4, 8000, 0)
    big = step_compute(attached["big"])  # its own @batch, and @resources: the larger of each
    assert (big.cpu, big.memory, big.gpu, big.shared_memory) == (8, 16000, 1, 512)
    assert attached["extra"].decorator("retry").args["times"] == 5  # its own @retry
    assert attached["end"].decorator("retry").args["times"] == 1
    assert graph["start"].decorator("batch") is None, "attach returns a new graph"


def test_the_compiler_reads_the_same_per_step_compute(graph) -> None:
    big = job_definition(graph, graph["big"], _ctx()).request["containerProperties"]
    assert big["image"] == "repo/own@sha256:" + "a" * 64
    assert {r["type"]: r["value"] for r in big["resourceRequirements"]} == {"VCPU": "8", "MEMORY": "16000", "GPU": "1"}
    assert big["linuxParameters"] == {"sharedMemorySize": 512}
    with pytest.raises(CompileError, match="declares @pypi but no image was built for it"):
        job_definition(graph, graph["extra"], _ctx())
    extra = job_definition(graph, graph["extra"], _ctx(step_images={"extra": "repo/pypi@sha256:" + "c" * 64}))
    assert extra.request["containerProperties"]["image"] == "repo/pypi@sha256:" + "c" * 64
    own_role = attach(graph, parse_all(["batch:iam_role=arn:aws:iam::210987654321:role/prod-job"]))
    with pytest.raises(CompileError, match="is not the namespace's job role"):
        job_definition(own_role, own_role["start"], _ctx())
    start = job_definition(graph, graph["start"], _ctx()).request["containerProperties"]
    assert start["image"].startswith("repo/step@") and "linuxParameters" not in start
    assert pypi_requirements(dict(step_compute(graph["extra"]).pypi)) == ["pyjokes==0.8.3", "tomli-w>=1"]


@pytest.mark.parametrize(
    ("kwargs", "wanted"),
    [
        ("cpu=0", "@batch(cpu=...) must be a positive number"),
        ("swappiness=101", "from 0 to 100"),
        ("queue=''", "must be a non-empty string"),
    ],
)
def test_batch_arguments_are_checked(kwargs: str, wanted: str) -> None:
    code = f"from branchline import batch\n@batch({kwargs})\ndef f(): pass\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and wanted in done.stderr


def test_pypi_arguments_are_checked() -> None:
    from branchline import pypi

    for bad, wanted in ((["pandas"], "must be a dict"), ({"no pe": "1"}, "is not a package name"),
                        ({"pandas": 2}, "must be a string")):  # fmt: skip
        with pytest.raises(TypeError, match=wanted):
            pypi(packages=bad)
    with pytest.raises(TypeError, match=r"such as '3\.11'"):
        pypi(packages={}, python="three")


BASE_FLOW = """
from branchline import FlowSpec, pypi, pypi_base, step


@pypi_base(packages={"pyjokes": "0.8.3", "tomli-w": ""}, python="3.11")
class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.own)

    @pypi(packages={"pyjokes": "0.6.0", "six": ">=1"})
    @step
    def own(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_pypi_base_gives_every_step_its_packages_and_a_steps_own_pypi_wins(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(BASE_FLOW)
    graph = graph_from_file(tmp_path / "flow.py")
    start, own, end = (step_compute(graph[name]) for name in ("start", "own", "end"))
    assert start.pypi == end.pypi == (("pyjokes", "0.8.3"), ("tomli-w", "")) and start.python == "3.11"
    assert own.pypi == (("pyjokes", "0.6.0"), ("six", ">=1"), ("tomli-w", "")) and own.python == "3.11"
    with pytest.raises(TypeError, match=r"@pypi_base\(packages=...\) must be a dict"):
        pypi_base(packages=["pandas"])


def test_a_with_mistake_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "pyproject.toml").write_text('[tool.branchline]\nproject = "p"\n')
    branchline = str(Path(sys.executable).parent / "branchline")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    done = subprocess.run([branchline, "run", "flow.py", "--with", "batch:memroy=1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done
    assert done.stderr.startswith("error: --with batch:memroy=1: batch has no attribute 'memroy'"), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / ".branchline" / "datastore").exists()


def test_the_submit_rate_holds_fifty_per_second_and_pauses_when_throttled() -> None:
    now = [0.0]
    bucket = TokenBucket(50, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(80)) == 50
    now[0] = 0.1
    assert sum(bucket.take() for _ in range(80)) == 5
    bucket.pause(2.0)
    now[0] = 1.5
    assert not bucket.take()
    now[0] = 2.2
    assert bucket.take()


def test_what_a_compute_environment_lacks_is_named() -> None:
    managed = {"computeEnvironmentName": "small", "state": "ENABLED", "type": "MANAGED",
               "computeResources": {"maxvCpus": 4, "instanceTypes": ["m5.xlarge"]}}  # fmt: skip
    assert environment_lacks(managed, None, 8, 1024, 0) == "small has maxvCpus 4"
    big = "small's largest instance type (m5.xlarge) has 16384 MiB"
    assert environment_lacks(managed, (4, 16384, 0), 2, 32000, 0) == big
    assert environment_lacks(managed, (4, 16384, 0), 2, 1024, 1) == "small's instance types (m5.xlarge) have 0 GPUs"
    assert environment_lacks(managed, (4, 16384, 0), 2, 1024, 0) is None
    assert environment_lacks({**managed, "state": "DISABLED"}, None, 1, 1, 0) == "small is DISABLED"
    unmanaged = {"computeEnvironmentName": "u", "state": "ENABLED", "type": "UNMANAGED"}
    assert environment_lacks(unmanaged, None, 64, 1, 0) is None  # its capacity is unknown: only waiting
