"""Data Docs render offline: the page logged to MLflow references nothing outside itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from branchline.checks import validate
from branchline.checks.offline import offline_html
from tests.checks.conftest import iris
from tests.checks.test_record_mlflow import artifact, tracked

__all__ = ["tracked"]  # the fixture, used below

# Anything a browser would fetch or follow off the page: a scheme (http:, https:, javascript:, file:...) or a
# protocol-relative //host, in any attribute, or in CSS url(...) / @import. Deliberately stricter than the
# code under test: it scans the raw text, not parsed tags.
OFF_PAGE = re.compile(r"""(?:href|src|srcset|action|poster|formaction)\s*=\s*["']?\s*(?!#|data:)[^"'\s>]+"""
                      r"""|url\(\s*['"]?\s*(?!data:)[a-z/]|@import|https?://|//[a-z0-9.-]+\.[a-z]{2,}/""", re.I)


def off_page(html: str) -> list[str]:
    return [m.group(0) for m in OFF_PAGE.finditer(html)]


@pytest.mark.mlflow
def test_the_logged_data_docs_page_references_nothing_outside_itself(gx_project: Path, tracked: Any,
                                                                    mlflow_server: str) -> None:
    frame = iris()
    frame.loc[0, "petal_length"] = None  # a failed expectation: its details must be readable too
    with tracked.start_run() as run:
        validate(frame, suite="raw_data", raise_on_failure=False)
    page = artifact(mlflow_server, run.info.run_id, "checks/raw_data.html")
    assert off_page(page) == []
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "petal_length" in page and "raw_data" in page  # the content is all still there
    assert "branchline: the Bootstrap basics" in page  # the stand-in stylesheet


@pytest.mark.parametrize("html", [
    '<link rel="stylesheet" href="https://cdn.example/b.css"><p>x</p>',
    '<script src="//cdn.example/j.js"></script><script>$(".a").modal()</script><p>x</p>',
    '<img src="https://s3.example/logo.png" alt="logo"><p>x</p>',
    '<a href="https://greatexpectations.io/newsletter">news</a><a href="../../../index.html">home</a><p>x</p>',
    '<style>.a{background:url("https://s3.example/l.png")} .b{background:url(//x.example/y)}</style><p>x</p>',
    '<div style="background-image: url(https://x.example/i.png)">x</div>',
    '<a href="javascript:alert(1)">x</a><img srcset="https://a.example/1x.png 1x">',
    '<form action="https://evil.example/"><input formaction="http://evil.example/"></form><p>x</p>',
])
def test_every_kind_of_off_page_reference_is_removed(html: str) -> None:
    assert off_page(html)  # the checker sees it
    cleaned = offline_html(f"<!DOCTYPE html><html><head></head><body>{html}</body></html>")
    assert off_page(cleaned) == [], cleaned
    assert "<script" not in cleaned


def test_in_page_anchors_and_text_stay() -> None:
    cleaned = offline_html('<html><head></head><body><a href="#section-1">jump</a> a &amp; b &#39;c&#39;'
                           '<img src="https://x.example/l.png" alt="Great Expectations"></body></html>')
    assert '<a href="#section-1">jump</a>' in cleaned and "a &amp; b &#39;c&#39;" in cleaned
    assert "<span>Great Expectations</span>" in cleaned
