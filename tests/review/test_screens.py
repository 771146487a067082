"""What a reviewer sees: the PR comment rendered from its Markdown, and the flow's run page served by the real
`mlflow server`, each loaded in headless Chromium; the assertions read the rendered DOM's text."""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from branchline.ci.report import DeployReport, FlowLine, SmokeOutcome, render
from branchline.ci.verdict import judged_line
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage
from branchline.tracking.connect import connect
from branchline.tracking.links import mlflow_experiment_fragment, mlflow_run_url
from branchline.tracking.runs import open_parent
from branchline.tracking.summary import write_summary
from tests.ci.test_report import GATE_REPORT
from tests.review.chromium import dump_dom, screenshot, screenshots_dir
from tests.tracking.conftest import make_run_doc

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
"""GitHub's dialect where the comment depends on it: tables, and `\\|` inside a code span in a cell is a pipe."""

HOSTILE_BRANCH = "feat/`x`|<img src=x onerror=alert(1)>@team"

# GitHub's comment look, roughly: enough for the picture to show what a reviewer would trip on
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font: 14px -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 900px; margin: 24px; }}
table {{ border-collapse: collapse; margin: 8px 0; }} td, th {{ border: 1px solid #d0d7de; padding: 4px 10px; }}
code {{ background: #eff1f3; padding: 1px 4px; border-radius: 4px; }}
</style></head><body>{body}</body></html>"""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.hidden += tag in ("script", "style", "noscript")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style", "noscript")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = _Text()
    parser.feed(dom)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def test_the_pr_comment_as_a_reviewer_sees_it(tmp_path: Path) -> None:
    verdict = judged_line("TrainFlow", "fail", ("loss 0.35 > 0.3",), GATE_REPORT, "http://mlflow.internal:5000")
    report = DeployReport(
        title="branchline · pull request #5", namespace="br-feat-x-1a2b3c", git_sha="a" * 40,
        image="1.dkr.ecr.eu-west-1.amazonaws.com/p@sha256:" + "b" * 64, image_source="built",
        code_package="s3://bucket/code.tar.gz", code_uploaded=True, changes=3, branch=HOSTILE_BRANCH,
        flows=(FlowLine("TrainFlow", "p-br-feat-x-TrainFlow", "arn:sm:live", "https://console/sm", 2),),
        smoke=SmokeOutcome("TrainFlow", "r1", "arn:ex", "SUCCEEDED", "https://console/ex",
                           mlflow_url="http://mlflow.internal:5000/#/experiments/1/runs/abc"),
        verdicts=(verdict,),
    )  # fmt: skip
    body = GFM.render(render(report))
    page = tmp_path / "comment.html"
    page.write_text(PAGE.format(body=body))
    text = visible_text(dom := dump_dom(page.as_uri()))
    assert "<img src=x" not in dom and "onerror" not in re.sub(r"<code>.*?</code>", "", dom, flags=re.S)
    assert html.unescape("feat/`x`|<img src=x onerror=alert(1)>@team") in text  # shown as text, in one code span
    assert "TrainFlow : ❌ fail — loss 0.35 > 0.3" in text.replace("TrainFlow:", "TrainFlow :")
    assert "accuracy 0.93 0.95 -0.02 ▼ worse" in text  # one table row: metric, PR, champion, difference
    assert "loss 0.35 0.2 +0.15 ▼ worse" in text
    assert "champion v4" in text and "m-dev v7" in text and "pred|x (2 failed)" in text
    screenshot(page.as_uri(), screenshots_dir(tmp_path) / "pr-comment.png", height=1000)


@pytest.mark.mlflow
def test_the_flow_run_page_answers_what_the_change_did(tmp_path: Path, mlflow_server: str) -> None:
    project = f"review-{uuid.uuid4().hex[:8]}"
    ds = FlowDatastore(LocalStorage(tmp_path / "ds"), "br-feature-x-1a2b3c")
    run_doc = make_run_doc(project, git={"sha": "c" * 40, "branch": "feature/x", "dirty": False},
                           ci={"pr_number": 42, "event": "pull_request", "run_id": "7", "repository": "acme/ml",
                               "server_url": "https://github.example"})
    session = connect(mlflow_server)
    link = open_parent(session, ds, run_doc, project)
    ds.put_json(f"{ds.task_key('TrainFlow', 'r1', 'evaluate', '0')}/evidence/e.json", {
        "step": "evaluate", "task_id": "0", "mlflow_run_id": "e", "recorded": "2026-01-02T10:00:03+00:00",
        "runs": {"e": {"metrics": {"accuracy": 0.9667, "f1_macro": 0.9665},
                       "checks": {"branchline.checks.predictions.success": "true",
                                  "branchline.checks.predictions.failed": "0"}}},
        "model_versions": [{"name": f"{project}-trainflow-dev", "version": "3", "run_id": "e"}],
    })  # fmt: skip
    session.client.log_text(link["run_id"], '{"passed": true, "dry_run": true, "summary": "3 of 3 criteria passed"}',
                            "gate/report.json")
    write_summary(session, ds, link, run_doc, headline=["accuracy", "f1_macro"])
    session.client.set_terminated(link["run_id"], "FINISHED")

    url = mlflow_run_url(mlflow_server, link["experiment_id"], link["run_id"])
    text = visible_text(dump_dom(url))
    assert "gate passed (dry run)" in text  # the description, rendered as Markdown
    assert f"{project}-trainflow-dev v3" in text
    assert "0.9667" in text and "accuracy" in text and "f1_macro" in text
    assert "predictions passed" in text
    assert "pull request" in text and "feature/x" in text
    shots = screenshots_dir(tmp_path)
    screenshot(url, shots / "mlflow-run-page.png", height=1600)
    table = f"{mlflow_server}/{mlflow_experiment_fragment(link['experiment_id'])}"
    screenshot(table, shots / "mlflow-run-table.png", width=1600, height=900)
