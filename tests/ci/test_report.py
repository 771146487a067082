"""The Markdown of the PR comment / job summary, and the runner's output file format (pure)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from branchline.ci.actions import format_outputs, write_outputs, write_summary
from branchline.ci.context import CIError
from branchline.ci.report import DeployReport, FlowLine, SmokeOutcome, VerdictLine, code, render


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "`edge", "pipe|in|it", 'zzz";echo${IFS}"hi";#', "<b>@team"])
def test_code_spans_keep_any_branch_name_inside_one_cell(text: str) -> None:
    span = code(text)
    fence = re.match(r"`+", span).group(0)
    assert span.endswith(fence)
    inner = span[len(fence):-len(fence)]
    assert fence not in inner  # nothing in the name closes the span early
    assert "|" not in inner.replace("\\|", "")  # a pipe cannot end the table cell
    assert inner.strip(" ").replace("\\|", "|") == text


def _report(**changes: object) -> DeployReport:
    base = dict(title="branchline · pull request #5", namespace="br-x-12345678", git_sha="a" * 40,
                image="r@sha256:" + "b" * 64, image_source="given", code_package="s3://b/c.tar.gz",
                code_uploaded=True, changes=0, branch="x|y",
                flows=(FlowLine("TrainFlow", "p-br-x-TrainFlow", "arn:sm:live", "https://console/sm", 2),))
    return DeployReport(**{**base, **changes})  # type: ignore[arg-type]


def test_render_shows_what_was_deployed_and_the_marker_only_for_comments() -> None:
    body = render(_report())
    assert body.startswith("<!-- branchline:pr -->\n### branchline · pull request #5 — namespace `br-x-12345678`")
    assert "| branch | `x\\|y` |" in body
    assert "| `TrainFlow` | `p-br-x-TrainFlow` | 2 | [open](https://console/sm) |" in body
    assert "| deploy | up to date (no change) |" in body
    assert "Smoke run**: not requested" in body
    assert "Gate" not in body
    assert not render(_report(), marker=None).startswith("<!--")


def test_render_smoke_and_verdicts() -> None:
    smoke = SmokeOutcome("TrainFlow", "r1", "arn:ex", "FAILED", "https://console/ex", mlflow_url="http://m/#/r")
    body = render(_report(changes=4, smoke=smoke, verdicts=(VerdictLine("TrainFlow", "fail", ("f1 0.7 < 0.85",)),)))
    assert "| deploy | 4 AWS changes |" in body
    assert "**Smoke run** of `TrainFlow`: ❌ FAILED (run `r1`; [execution](https://console/ex), " \
           "[MLflow run](http://m/#/r))" in body
    assert "- `TrainFlow`: ❌ fail — f1 0.7 < 0.85" in body


def test_outputs_use_a_delimiter_no_value_can_forge(tmp_path: Path) -> None:
    text = format_outputs({"namespace": "br-x", "image": "r@sha256:1"}, delimiter="EOF_1")
    assert text == "namespace<<EOF_1\nbr-x\nEOF_1\nimage<<EOF_1\nr@sha256:1\nEOF_1\n"
    with pytest.raises(CIError, match="cannot be written safely"):
        format_outputs({"namespace": "x\nEOF_1\nevil<<y"}, delimiter="EOF_1")
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": str(tmp_path / "sum")}
    assert write_outputs(env, {"a": "1"}) and write_outputs(env, {"b": "2"})
    assert (tmp_path / "out").read_text().count("<<ghadelimiter_") == 2
    assert write_summary(env, "# one") and write_summary(env, "# two\n")
    assert (tmp_path / "sum").read_text() == "# one\n# two\n"
    assert not write_outputs({}, {"a": "1"}) and not write_summary({}, "x")


GATE_REPORT = {
    "passed": False,
    "policy": {"thresholds": {"accuracy": ">= 0.9", "loss": "<= 0.3", "rows": "== 150"}},
    "candidate": {"model": "m-dev", "version": "7", "metrics": {"accuracy": 0.93, "loss": 0.35, "rows": 150.0},
                  "checks": {"raw_data": {"success": True, "failed": 0}, "pred|x": {"success": False, "failed": 2}}},
    "champion": {"model": "m", "version": "4", "metrics": {"accuracy": 0.95, "loss": 0.2}},
}


def test_the_comment_shows_the_judged_metrics_against_the_champion() -> None:
    from branchline.ci.verdict import judged_line

    line = judged_line("TrainFlow", "fail", ("loss 0.35 > 0.3",), GATE_REPORT, "http://mlflow:5000")
    assert [(m.name, m.judgement()) for m in line.metrics] == [("accuracy", "worse"), ("loss", "worse"), ("rows", "")]
    body = render(_report(verdicts=(line,)))
    assert "| metric | this pull request | champion v4 | difference |" in body
    assert "| `accuracy` | 0.93 | 0.95 | -0.02 ▼ worse |" in body
    assert "| `loss` | 0.35 | 0.2 | +0.15 ▼ worse |" in body
    assert "| `rows` | 150 | — | — |" in body  # the champion never logged it: no difference is invented
    assert "model [`m-dev` v7](http://mlflow:5000/#/models/m-dev/versions/7)" in body
    assert "✅ `raw_data`" in body and "❌ `pred|x` (2 failed)" in body
    no_champion = judged_line("TrainFlow", "pass", (), {**GATE_REPORT, "champion": None})
    assert "champion (none yet)" in render(_report(verdicts=(no_champion,)))
    assert judged_line("TrainFlow", "unavailable", ("x",), None).metrics == ()
