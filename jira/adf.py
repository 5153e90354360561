"""Atlassian Document Format: the JSON that v3 descriptions and comment bodies are written in.

v2 carries the same fields as plain text; these functions turn one into the other.
"""
from __future__ import annotations

from typing import Any

# The node types a document may hold; anything else is refused as malformed.
BLOCK_TYPES = {"paragraph", "heading", "bulletList", "orderedList", "listItem", "blockquote", "codeBlock", "rule",
               "panel", "table", "tableRow", "tableHeader", "tableCell", "mediaSingle", "mediaGroup", "media",
               "expand", "nestedExpand", "taskList", "taskItem", "decisionList", "decisionItem", "blockCard"}
INLINE_TYPES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "mediaInline"}
MAX_DEPTH = 32


class AdfError(ValueError):
    pass


def adf_from_text(text: str) -> dict[str, Any]:
    """Plain text as a document: one paragraph per line (an empty text is an empty document)."""
    content = [{"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
               for line in text.split("\n")] if text else []
    return {"type": "doc", "version": 1, "content": content}


def adf_validate(value: Any) -> dict[str, Any]:
    """Return the document if it is one; raise AdfError saying what is wrong."""
    if not isinstance(value, dict) or value.get("type") != "doc":
        raise AdfError("The document must be an object with \"type\": \"doc\".")
    if value.get("version", 1) != 1:
        raise AdfError("Only version 1 documents are supported.")
    if not isinstance(value.get("content"), list):
        raise AdfError("The document needs a \"content\" list.")
    _check_nodes(value["content"], 1)
    return value


def _check_nodes(nodes: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise AdfError("The document is nested too deeply.")
    if not isinstance(nodes, list):
        raise AdfError("A node's content must be a list.")
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise AdfError("Every node must be an object with a \"type\".")
        kind = node["type"]
        if kind not in BLOCK_TYPES and kind not in INLINE_TYPES:
            raise AdfError(f"Unknown node type {kind!r}.")
        if kind == "text" and not isinstance(node.get("text"), str):
            raise AdfError("A text node needs a \"text\" string.")
        if "content" in node:
            _check_nodes(node["content"], depth + 1)


def adf_to_text(doc: Any) -> str:
    """The document's text: blocks on their own lines, inline nodes run together."""
    if not isinstance(doc, dict):
        return "" if doc is None else str(doc)
    lines: list[str] = []
    for block in doc.get("content") or []:
        lines.append(_inline_text(block))
    return "\n".join(lines)


def _inline_text(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return str((node.get("attrs") or {}).get("text", ""))
    parts = [_inline_text(child) for child in node.get("content") or [] if isinstance(child, dict)]
    if kind in ("bulletList", "orderedList", "table", "tableRow"):
        return "\n".join(parts)
    return "".join(parts)
