"""Data Docs that render offline (pure): GX's page loads Bootstrap, jQuery, Vega and fonts from CDNs and its
logo from S3. The page is logged to MLflow and opened later, often where the internet is not (or should not
be) reachable, and a page that fetches third-party code when a reviewer opens it is a tracking and supply-chain
risk. So the logged page references nothing outside itself:

- external stylesheets, scripts and images are removed (the inline scripts need jQuery, so they go too);
  an image keeps its alt text, a link to another site keeps its text;
- relative links into a Data Docs site that does not exist here (`../../index.html`, the favicon) are removed;
  in-page `#anchors` stay;
- `url(...)` to another site inside a stylesheet is dropped;
- a small stylesheet stands in for the Bootstrap rules the page relies on (grid, tables, badges, hidden
  modals and collapsed sections), so the content stays readable. GX's own inline styles are kept.

Parsing is the standard library's HTML tokenizer: every tag and attribute is seen as the browser will see it.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

_CSS_URL = re.compile(r"url\(\s*(['\"]?)(?P<url>[^)'\"]*)\1\s*\)", re.IGNORECASE)
_URL_ATTRS = ("href", "src", "srcset", "action", "poster", "data", "background", "formaction")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

OFFLINE_CSS = """
/* branchline: the Bootstrap basics this page relies on, so it renders without loading anything */
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
       color: #212529; line-height: 1.5; font-size: 15px; }
.container-fluid, .container { padding: 16px 24px; box-sizing: border-box; }
.row { display: flex; flex-wrap: wrap; margin: 0 -12px; }
[class^="col"], [class*=" col"] { padding: 0 12px; box-sizing: border-box; flex: 1 1 0; min-width: 0; }
.col-12, .col-md-12 { flex: 0 0 100%; } .col-md-2, .col-lg-2 { flex: 0 0 16.66%; }
.col-md-10, .col-lg-10 { flex: 0 0 83.33%; } .col-md-6 { flex: 0 0 50%; } .col-md-4 { flex: 0 0 33.33%; }
.col-md-8 { flex: 0 0 66.66%; } .col-md-3 { flex: 0 0 25%; } .col-md-9 { flex: 0 0 75%; }
table, .table { border-collapse: collapse; width: 100%; margin-bottom: 12px; }
.table td, .table th, table td, table th { border-top: 1px solid #dee2e6; padding: 6px 8px; text-align: left;
                                          vertical-align: top; }
.table-sm td, .table-sm th { padding: 4px 6px; }
.card { border: 1px solid #dee2e6; border-radius: 4px; margin-bottom: 16px; }
.card-header { background: #f7f7f9; padding: 8px 12px; border-bottom: 1px solid #dee2e6; }
.card-body { padding: 12px; }
.badge { display: inline-block; padding: 2px 6px; border-radius: 4px; font-size: 85%; font-weight: 600; }
.badge-success, .text-success { color: #155724; } .badge-success { background: #d4edda; }
.badge-danger, .text-danger { color: #721c24; } .badge-danger { background: #f8d7da; }
.badge-info { background: #d1ecf1; color: #0c5460; } .badge-secondary { background: #e2e3e5; color: #383d41; }
.alert { padding: 8px 12px; border-radius: 4px; border: 1px solid transparent; margin-bottom: 12px; }
.alert-success { background: #d4edda; } .alert-danger { background: #f8d7da; } .alert-info { background: #d1ecf1; }
.modal, .d-none, .navbar, button, .btn, .ge-walkthrough-modal { display: none !important; }
.collapse { display: block; }
.list-group { padding-left: 0; list-style: none; }
.list-group-item { padding: 4px 8px; border: 1px solid #dee2e6; margin-bottom: -1px; }
.sticky { position: static; }
.container { padding-top: 16px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 90%; }
a { color: #0056b3; }
"""


def is_external(url: str) -> bool:
    """A reference the browser would fetch from elsewhere (any scheme, or protocol-relative `//host`)."""
    text = url.strip().lower()
    has_scheme = bool(re.match(r"^[a-z][a-z0-9+.-]*:", text)) and not text.startswith("data:")
    return text.startswith("//") or has_scheme


def is_dangling(url: str) -> bool:
    """A relative link into a Data Docs site that is not there: only in-page anchors survive."""
    text = url.strip()
    return bool(text) and not text.startswith("#") and not text.startswith("data:")


def _strip_css_urls(css: str) -> str:
    return _CSS_URL.sub(lambda m: "none" if is_external(m["url"]) or is_dangling(m["url"]) else m[0], css)


class _Offline(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.skip: str | None = None  # inside a removed element: <script>, or a <style>'s text to clean
        self.in_style = False
        self.dropped_anchor_depth: list[bool] = []

    # --- tags
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, closed: bool) -> None:
        if self.skip:
            return
        if tag == "script":
            if not closed:
                self.skip = "script"
            return
        if tag == "link":
            return  # stylesheets, icons, preloads: all point elsewhere
        if tag == "img":
            alt = dict(attrs).get("alt") or ""
            self.out.append(f"<span>{escape(alt)}</span>" if alt else "")
            return
        if tag == "head" and not closed:
            self.out.append("<head>")
            self.out.append(f"<style>{OFFLINE_CSS}</style>")
            return
        kept = []
        for name, value in attrs:
            if value is not None and name in _URL_ATTRS and (is_external(value) or is_dangling(value)):
                continue
            if value is not None and name == "style":
                value = _strip_css_urls(value)
            kept.append((name, value))
        if tag == "style":
            self.in_style = not closed
        self.out.append(_tag(tag, kept, closed))

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag == self.skip:
                self.skip = None
            return
        if tag in ("link", "img") or tag in _VOID:
            return
        if tag == "style":
            self.in_style = False
        self.out.append(f"</{tag}>")

    # --- content
    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.out.append(_strip_css_urls(data) if self.in_style else data)

    def handle_entityref(self, name: str) -> None:
        if not self.skip:
            self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if not self.skip:
            self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        return  # comments may hold conditional includes; nothing in them is needed

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")


def _tag(tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> str:
    parts = [tag] + [name if value is None else f'{name}="{escape(value, quote=True)}"' for name, value in attrs]
    return f"<{' '.join(parts)}{' /' if closed else ''}>"


def offline_html(html: str) -> str:
    """`html` with every reference outside the page removed and a stand-in stylesheet added (see module doc)."""
    parser = _Offline()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)

