"""`[tool.branchline.aws]`: every key the template writes is read, an unknown key is an error naming it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from branchline.aws.deploy.desired import desired_flow
from branchline.aws.deploy.settings import AWS_KEYS, aws_settings
from branchline.config import Config, load_config
from branchline.errors import ConfigError
from branchline.namespaces import Names
from branchline.runtime.loader import graph_from_file
from tests.aws_compile.support import walk
from tests.flows import flow_path
from tests.template.rendering import render

ROLE = "arn:aws:iam::123456789012:role/x"
IMAGE = "repo@sha256:" + "a" * 64


def config(tmp_path: Path, **aws: Any) -> Config:
    table = {"states_role_arn": ROLE, "job_role_arn": ROLE, "job_queue": "q", "bucket": "b", **aws}
    return Config(root=tmp_path, data={"project": "demo", "aws": table})


def foreach_machine(settings_config: Config) -> dict[str, Any]:
    settings = aws_settings(settings_config, "br-x")
    flow = desired_flow(graph_from_file(flow_path("foreach_flow")), Names("demo", "br-x"), settings,
                        flow_file="flows/f.py", image=IMAGE, code_package="s3://b/c.tgz", git_sha="s")
    return flow.definition


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("render"))


def test_every_key_the_template_writes_is_known_and_read(rendered: Path) -> None:
    written = tomllib.loads((rendered / "pyproject.toml").read_text())["tool"]["branchline"]["aws"]
    assert set(written) <= set(AWS_KEYS)
    settings = aws_settings(load_config(rendered), "br-x")
    assert settings.max_concurrency == written["max_concurrency"] == 16
    assert settings.step_timeout_seconds == written["step_timeout_seconds"]
    assert settings.queue_timeout_seconds == written["queue_timeout_seconds"]
    assert settings.keep_versions == written["keep_versions"]


def test_max_concurrency_reaches_every_map(tmp_path: Path) -> None:
    definition = foreach_machine(config(tmp_path, max_concurrency=7))
    maps = [s for _, _, s in walk(definition["States"]) if s["Type"] == "Map"]
    assert maps and {m["MaxConcurrency"] for m in maps} == {7}


def test_timeouts_reach_the_job_definitions_and_the_task_states(tmp_path: Path) -> None:
    settings = aws_settings(config(tmp_path, step_timeout_seconds=600, queue_timeout_seconds=120), "br-x")
    flow = desired_flow(graph_from_file(flow_path("linear_flow")), Names("demo", "br-x"), settings,
                        flow_file="flows/f.py", image=IMAGE, code_package="s3://b/c.tgz", git_sha="s")
    assert {jd.request["timeout"]["attemptDurationSeconds"] for jd in flow.job_definitions} == {600}
    tasks = [s for _, _, s in walk(flow.definition["States"]) if s["Type"] == "Task"]
    assert {t["TimeoutSeconds"] for t in tasks} == {120 + 3 * 600}


def test_an_unknown_key_is_an_error_naming_it_and_the_likely_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting tool\.branchline\.aws\.max_concurency") as caught:
        aws_settings(config(tmp_path, max_concurency=4))
    assert "did you mean max_concurrency?" in str(caught.value)
    with pytest.raises(ConfigError, match=r"aws\.colour \(and shape\)"):
        aws_settings(config(tmp_path, colour="red", shape="round"))


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_concurrency", -1), ("max_concurrency", 10_001), ("max_concurrency", "16"), ("max_concurrency", True),
     ("step_timeout_seconds", 59), ("step_timeout_seconds", 1.5), ("queue_timeout_seconds", 0)],
)
def test_bad_values_are_errors_with_an_example(tmp_path: Path, key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"tool\.branchline\.aws\.{key} must be a whole number") as caught:
        aws_settings(config(tmp_path, **{key: value}))
    assert f"e.g. {key} = " in str(caught.value)


def test_defaults_bound_every_step_without_configuration(tmp_path: Path) -> None:
    settings = aws_settings(config(tmp_path))
    assert (settings.max_concurrency, settings.step_timeout_seconds, settings.queue_timeout_seconds) == (
        16, 5 * 24 * 3600, 24 * 3600)
