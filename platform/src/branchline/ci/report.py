"""What a CI job deployed, as data, and its Markdown (the PR comment and the job summary). Pure.

Branch names are hostile and can hold backticks, pipes and HTML: they are rendered only inside code
spans whose fence is longer than any backtick run in them, with table pipes escaped, so they can
neither break the layout nor mention anyone nor inject HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from branchline.ci.github import PR_MARKER


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
class VerdictLine:
    """The PR comment's line for one gated flow: the gate's dry-run answer, `pass`, `fail` or `unavailable`
    (with why). Not the gate's own `Verdict`, which it is made from."""

    flow: str
    status: str
    reasons: tuple[str, ...] = ()


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


# ----------------------------------------------------------------------------- links


def console_base(region: str) -> str:
    domain = "console.amazonaws.cn" if region.startswith("cn-") else "console.aws.amazon.com"
    return f"https://{region}.{domain}/states/home?region={region}"


def state_machine_console_url(region: str, arn: str) -> str:
    return f"{console_base(region)}#/statemachines/view/{quote(arn, safe='')}"


def execution_console_url(region: str, execution_arn: str) -> str:
    return f"{console_base(region)}#/v2/executions/details/{quote(execution_arn, safe='')}"


def mlflow_run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """A link into the MLflow UI, only for servers a browser can open (http/https)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/experiments/{quote(experiment_id)}/runs/{quote(run_id)}"


def mlflow_home_url(tracking_uri: str | None) -> str | None:
    if not tracking_uri or not tracking_uri.startswith(("http://", "https://")):
        return None
    return tracking_uri.rstrip("/") + "/"


# ----------------------------------------------------------------------------- Markdown


def code(text: str, *, in_table: bool = True) -> str:
    """`text` as a code span that no content can break out of."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


_STATUS_ICON = {"SUCCEEDED": "✅", "FAILED": "❌", "TIMED_OUT": "❌", "ABORTED": "❌", "RUNNING": "⏳",
                "pass": "✅", "fail": "❌", "unavailable": "⚪"}


def _icon(status: str) -> str:
    return _STATUS_ICON.get(status, "❔")


def _short(sha: str) -> str:
    return sha[:12] if re.fullmatch(r"[0-9a-f]{40}", sha) else sha


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
    if report.run_url:
        lines += ["", f"<sub>Written by `branchline ci` in [this workflow run]({report.run_url}).</sub>"]
    return "\n".join(lines) + "\n"
