"""Atlassian Document Format as safe HTML, for the issue page (descriptions and comments).

Every text is escaped, links keep only http(s) and mailto addresses, and a node type this renderer
does not know shows its text content, so that no stored document can inject markup or script.
"""
from __future__ import annotations

import datetime
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SAFE_SCHEMES = ("http://", "https://", "mailto:")
MAX_DEPTH = 40  # stored documents were validated on write (32 levels); this only guards the recursion

_BLOCK_TAGS = {"paragraph": "p", "bulletList": "ul", "orderedList": "ol", "listItem": "li",
               "blockquote": "blockquote", "tableRow": "tr", "tableHeader": "th", "tableCell": "td",
               "taskList": "ul", "decisionList": "ul", "mediaSingle": "div", "mediaGroup": "div"}
_MARK_TAGS = {"strong": "strong", "em": "em", "code": "code", "strike": "s", "underline": "u"}


def safe_href(url: Any) -> str | None:
    if isinstance(url, str) and url.strip().lower().startswith(SAFE_SCHEMES):
        return url.strip()
    return None


def adf_to_html(doc: Any) -> SafeString:
    """The document as HTML; an empty or missing document is an empty string."""
    if not isinstance(doc, dict):
        return mark_safe("")  # noqa: S308 (a constant)
    out: list[str] = []
    _nodes(doc.get("content"), out, 0)
    return mark_safe("".join(out))  # noqa: S308 (every piece of text went through escape())


def _nodes(nodes: Any, out: list[str], depth: int) -> None:
    if not isinstance(nodes, list) or depth > MAX_DEPTH:
        return
    for node in nodes:
        if isinstance(node, dict):
            _node(node, out, depth)


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _node(node: dict[str, Any], out: list[str], depth: int) -> None:  # noqa: C901 (one branch per node type)
    kind = node.get("type")
    attrs = _attrs(node)
    if kind == "text":
        out.append(_text(node))
    elif kind == "hardBreak":
        out.append("<br>")
    elif kind == "rule":
        out.append("<hr>")
    elif kind == "heading":
        level = attrs.get("level")
        # Two below the page's own h1/h2: the description's headings stay under the issue's.
        tag = f"h{min(max(level if isinstance(level, int) else 1, 1) + 2, 6)}"
        out.append(f"<{tag}>")
        _nodes(node.get("content"), out, depth + 1)
        out.append(f"</{tag}>")
    elif kind == "codeBlock":
        out.append("<pre><code>")
        _nodes(node.get("content"), out, depth + 1)
        out.append("</code></pre>")
    elif kind == "panel":
        out.append(f'<div class="adf-panel adf-panel--{escape(str(attrs.get("panelType", "info")))}">')
        _nodes(node.get("content"), out, depth + 1)
        out.append("</div>")
    elif kind == "table":
        out.append('<table class="adf-table">')
        _nodes(node.get("content"), out, depth + 1)
        out.append("</table>")
    elif kind in ("expand", "nestedExpand"):
        out.append(f"<details><summary>{escape(str(attrs.get('title') or 'Details'))}</summary>")
        _nodes(node.get("content"), out, depth + 1)
        out.append("</details>")
    elif kind in ("taskItem", "decisionItem"):
        mark = "☑ " if attrs.get("state") in ("DONE", "DECIDED") else "☐ "
        out.append(f"<li>{mark}")
        _nodes(node.get("content"), out, depth + 1)
        out.append("</li>")
    elif kind == "mention":
        out.append(f'<span class="adf-mention">{escape(str(attrs.get("text") or "@someone"))}</span>')
    elif kind == "emoji":
        out.append(escape(str(attrs.get("text") or attrs.get("shortName") or "")))
    elif kind == "status":
        out.append(f'<span class="lozenge lozenge--default">{escape(str(attrs.get("text") or ""))}</span>')
    elif kind == "date":
        out.append(escape(_date(attrs.get("timestamp"))))
    elif kind in ("inlineCard", "blockCard"):
        href = safe_href(attrs.get("url"))
        out.append(f'<a href="{escape(href)}" rel="noopener noreferrer">{escape(href)}</a>' if href else "")
    elif kind in ("media", "mediaInline"):
        out.append('<span class="subtle">[attachment]</span>')
    elif kind in _BLOCK_TAGS:
        tag = _BLOCK_TAGS[kind]
        out.append(f"<{tag}>")
        _nodes(node.get("content"), out, depth + 1)
        out.append(f"</{tag}>")
    else:
        _nodes(node.get("content"), out, depth + 1)  # unknown: its text only


def _text(node: dict[str, Any]) -> str:
    html: str = escape(str(node.get("text", "")))
    marks = node.get("marks")
    for mark in marks if isinstance(marks, list) else []:
        if not isinstance(mark, dict):
            continue
        kind = mark.get("type")
        if kind in _MARK_TAGS:
            tag = _MARK_TAGS[kind]
            html = f"<{tag}>{html}</{tag}>"
        elif kind == "link":
            href = safe_href(_attrs(mark).get("href"))
            if href:
                html = f'<a href="{escape(href)}" rel="noopener noreferrer">{html}</a>'
    return html


def _date(timestamp: Any) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(int(timestamp) / 1000, tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.date().isoformat()
