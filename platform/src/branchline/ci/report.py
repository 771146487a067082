"""What a CI job deployed, as data, and its Markdown (the PR comment and the job summary). Pure.

Branch names are hostile and can hold backticks, pipes and HTML: they are rendered only inside code
spans whose fence is longer than any backtick run in them, with table pipes escaped, so they can
neither break the layout nor mention anyone nor inject HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from branchline.ci.github import PR_MARKER
from branchline.tracking.links import (  # noqa: F401 (the CI's link builders, re-exported for its jobs)
    console_base,
    execution_console_url,
    mlflow_home_url,
    mlflow_run_url,
    state_machine_console_url,
)
from branchline.tracking.markdown import code, number, signed


@dataclass(frozen=True)
class FlowLine:
    flow: str
    state_machine: str
    alias_arn: str
    console_url: str
    version: int | None = None


@dataclass(frozen=True)
class SmokeOutcome:
    flow: str
    run_id: str
    execution_arn: str
    status: str
    console_url: str
    params: dict[str, object] = field(default_factory=dict)
    mlflow_url: str | None = None


@dataclass(frozen=True)
class MetricLine:
    """One headline metric of the PR's run next to production's champion (None: that side has none)."""

    name: str
    candidate: float | None
    champion: float | None
    higher_is_better: bool | None = None

    @property
    def difference(self) -> float | None:
        if self.candidate is None or self.champion is None:
            return None
        return self.candidate - self.champion

    def judgement(self) -> str:
        """`better` / `worse` / `same` when the gate's threshold gives the metric a direction, else ``."""
        diff = self.difference
        if diff is None or self.higher_is_better is None:
            return ""
        if diff == 0:
            return "same"
        return "better" if (diff > 0) == self.higher_is_better else "worse"


@dataclass(frozen=True)
class VerdictLine:
    """The PR comment's part for one gated flow: the gate's dry-run answer, `pass`, `fail` or `unavailable`
    (with why), and what it judged: headline metrics against the champion, the model version, the checks.
    Not the gate's own `Verdict`, which it is made from."""

    flow: str
    status: str
    reasons: tuple[str, ...] = ()
    metrics: tuple[MetricLine, ...] = ()
    model: str | None = None
    version: str | None = None
    champion_version: str | None = None
    checks: tuple[tuple[str, bool, int], ...] = ()
    model_url: str | None = None


@dataclass(frozen=True)
class DeployReport:
    title: str
    namespace: str
    git_sha: str
    image: str
    image_source: str
    code_package: str
    code_uploaded: bool
    changes: int
    flows: tuple[FlowLine, ...]
    branch: str | None = None
    head_sha: str | None = None
    smoke: SmokeOutcome | None = None
    verdicts: tuple[VerdictLine, ...] = ()
    mlflow_url: str | None = None
    run_url: str | None = None


# ----------------------------------------------------------------------------- Markdown


_STATUS_ICON = {"SUCCEEDED": "✅", "FAILED": "❌", "TIMED_OUT": "❌", "ABORTED": "❌", "RUNNING": "⏳",
                "pass": "✅", "fail": "❌", "unavailable": "⚪"}


def _icon(status: str) -> str:
    return _STATUS_ICON.get(status, "❔")


def _short(sha: str) -> str:
    return sha[:12] if re.fullmatch(r"[0-9a-f]{40}", sha) else sha


_JUDGEMENT = {"better": "▲ better", "worse": "▼ worse", "same": "= same", "": ""}


def _judged(verdict: VerdictLine) -> list[str]:
    """What the gate judged for one flow: its model version, checks and headline metrics vs the champion."""
    if not (verdict.metrics or verdict.model or verdict.checks):
        return []
    lines = ["", f"**{code(verdict.flow, in_table=False)}**"]
    facts = []
    if verdict.model:
        name = f"{code(verdict.model, in_table=False)} v{verdict.version}"
        facts.append("model " + (f"[{name}]({verdict.model_url})" if verdict.model_url else name))
    if verdict.checks:
        facts.append("data checks " + ", ".join(
            f"{'✅' if ok else '❌'} {code(suite, in_table=False)}" + ("" if ok else f" ({failed} failed)")
            for suite, ok, failed in verdict.checks))
    if facts:
        lines += ["", " · ".join(facts)]
    if verdict.metrics:
        champion = f"champion v{verdict.champion_version}" if verdict.champion_version else "champion (none yet)"
        lines += ["", f"| metric | this pull request | {champion} | difference |", "| --- | ---: | ---: | --- |"]
        for m in verdict.metrics:
            judged = _JUDGEMENT[m.judgement()]
            lines.append(f"| {code(m.name)} | {number(m.candidate)} | {number(m.champion)} | "
                         f"{signed(m.difference)}{' ' + judged if judged else ''} |")
    return lines


def render(report: DeployReport, marker: str | None = PR_MARKER) -> str:
    """The Markdown of `report`; with `marker` first (the PR comment), without it for summaries."""
    lines = [marker] if marker else []
    lines += [f"### {report.title} — namespace {code(report.namespace, in_table=False)}", ""]
    lines += ["| | |", "| --- | --- |"]
    if report.branch is not None:
        lines.append(f"| branch | {code(report.branch)} |")
    commit = code(_short(report.git_sha))
    if report.head_sha and report.head_sha != report.git_sha:
        commit += f" (head {code(_short(report.head_sha))})"
    lines.append(f"| commit | {commit} |")
    lines.append(f"| image | {code(report.image)} ({report.image_source}) |")
    uploaded = "uploaded" if report.code_uploaded else "already there"
    lines.append(f"| code package | {code(report.code_package)} ({uploaded}) |")
    deployed = f"{report.changes} AWS changes" if report.changes else "up to date (no change)"
    lines.append(f"| deploy | {deployed} |")
    if report.mlflow_url:
        lines.append(f"| MLflow | [tracking server]({report.mlflow_url}) |")
    lines += ["", "| flow | state machine | live version | console |", "| --- | --- | --- | --- |"]
    for flow in report.flows:
        version = str(flow.version) if flow.version is not None else "?"
        lines.append(f"| {code(flow.flow)} | {code(flow.state_machine)} | {version} | [open]({flow.console_url}) |")
    lines.append("")
    if report.smoke is None:
        lines.append("**Smoke run**: not requested.")
    else:
        smoke = report.smoke
        links = f"[execution]({smoke.console_url})"
        if smoke.mlflow_url:
            links += f", [MLflow run]({smoke.mlflow_url})"
        lines.append(f"**Smoke run** of {code(smoke.flow, in_table=False)}: {_icon(smoke.status)} {smoke.status} "
                     f"(run {code(smoke.run_id, in_table=False)}; {links})")
    if report.verdicts:
        lines += ["", "**Gate (dry run against production's champion)**:", ""]
        for verdict in report.verdicts:
            why = "; ".join(verdict.reasons)
            lines.append(f"- {code(verdict.flow, in_table=False)}: {_icon(verdict.status)} {verdict.status}"
                         + (f" — {why}" if why else ""))
        for verdict in report.verdicts:
            lines += _judged(verdict)
    if report.run_url:
        lines += ["", f"<sub>Written by `branchline ci` in [this workflow run]({report.run_url}).</sub>"]
    return "\n".join(lines) + "\n"
