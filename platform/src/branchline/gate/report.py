"""The gate's report: one JSON document, rendered as Markdown (MLflow artifact, PR comment) and Rich (terminal)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

REPORT_MD = "gate/report.md"
REPORT_JSON = "gate/report.json"


def build_report(
    *,
    verdict: dict[str, Any],
    policy: dict[str, Any],
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    namespace: str | None,
    dry_run: bool,
    action: str,
) -> dict[str, Any]:
    """Everything a reader needs to re-check the decision, as plain JSON."""
    return {
        "passed": verdict["passed"],
        "summary": verdict["summary"],
        "action": action,
        "dry_run": dry_run,
        "namespace": namespace,
        "model": policy["model"],
        "flow": policy["flow"],
        "candidate": candidate,
        "champion": champion,
        "policy": policy,
        "criteria": verdict["criteria"],
        "notes": verdict.get("notes", []),
    }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, default=str)


def to_markdown(report: dict[str, Any]) -> str:
    mark = "✅ passed" if report["passed"] else "❌ failed"
    cand, champ = report["candidate"], report.get("champion")
    run = cand.get("branchline_run_id") or cand.get("run_id")
    lines = [
        f"### Promotion gate of `{report['flow']}`: {mark}{' (dry run)' if report['dry_run'] else ''}",
        "",
        f"- model: `{report['model']}`, candidate version **{cand.get('version')}**"
        f" (namespace `{report.get('namespace') or 'unknown'}`, run `{run}`)",
        f"- champion: {('version **' + str(champ['version']) + '**') if champ else 'none yet'}",
        f"- outcome: {report['action']}",
        "",
        "| | criterion | detail |",
        "| --- | --- | --- |",
    ]
    for c in report["criteria"]:
        lines.append(f"| {'✅' if c['passed'] else '❌'} | {_cell(c['name'])} | {_cell(c['detail'])} |")
    for note in report.get("notes") or []:
        lines.append(f"\n> {note}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def print_report(console: Console, report: dict[str, Any]) -> None:
    cand, champ = report["candidate"], report.get("champion")
    title = (
        f"gate {report['flow']}: {report['model']} v{cand.get('version')}"
        f" vs {'champion v' + str(champ['version']) if champ else 'no champion'}"
        f"{' (dry run)' if report['dry_run'] else ''}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("", "criterion", "detail"):
        table.add_column(column, overflow="fold")
    for c in report["criteria"]:
        table.add_row("[green]pass[/]" if c["passed"] else "[red]FAIL[/]", c["name"], c["detail"])
    console.print(table)
    for note in report.get("notes") or []:
        console.print(f"  note: {note}", markup=False)
    colour = "green" if report["passed"] else "red"
    console.print(f"[{colour}]{report['summary']}[/] -> {report['action']}")
