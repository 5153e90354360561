"""Template filters of the Jira pages: documents as safe HTML, status colours, people's names."""
from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from jira.adf import adf_to_text
from jira.adf_html import adf_to_html, safe_href
from jira.browse import person_name
from jira.models import StatusCategory

register = template.Library()

# Jira's lozenges: To Do is grey, In Progress blue, Done green.
CATEGORY_LOZENGE = {StatusCategory.TO_DO: "default", StatusCategory.IN_PROGRESS: "inprogress",
                    StatusCategory.DONE: "success"}


@register.filter
def adf(doc: Any) -> SafeString:
    return adf_to_html(doc)


@register.filter
def status_lozenge(category: str) -> str:
    return CATEGORY_LOZENGE.get(category, "default")  # type: ignore[call-overload]


@register.filter
def person(user: Any) -> str:
    return person_name(user)


@register.filter
def adf_text(doc: Any) -> str:
    """The document's plain text (what the comment's edit box starts with)."""
    return adf_to_text(doc)


@register.filter
def safe_url(url: Any) -> str:
    """The address if it is http(s) or mailto; otherwise "#" (never a javascript: link)."""
    return safe_href(url) or "#"
