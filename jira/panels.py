"""The issue page's side panel slot: where apps show themselves next to an issue.

The site does not know which apps exist. An app registers a *panel provider* once, from its
`AppConfig.ready()`:

    from jira.panels import IssuePanel, issue_panel_register

    def sync_panel(request, issue):
        if not request.user.is_staff:
            return None                      # nothing to show: no panel
        return IssuePanel(title="Issue Sync", template="issue_sync/panel.html",
                          context={"links": ...})

    issue_panel_register(sync_panel)

For every issue page, each provider is called with the request and the issue and returns an
`IssuePanel` or None. The page draws each panel in the side column, in registration order, as a
labelled region titled `title`, rendering `template` with `issue`, `panel`, the request's context
(`user`, `csrf_token`, ...) and the provider's `context`. A provider or template that raises is
logged and skipped: an app's fault never breaks the issue page.
Providers should cost a fixed number of queries.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

if TYPE_CHECKING:
    from jira.models import Issue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuePanel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


PanelProvider = Callable[[HttpRequest, "Issue"], "IssuePanel | None"]
_providers: list[PanelProvider] = []


def issue_panel_register(provider: PanelProvider) -> PanelProvider:
    """Add a provider (once: registering the same function again does nothing); usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def issue_panel_unregister(provider: PanelProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def issue_panels(request: HttpRequest, issue: Issue) -> list[IssuePanel]:
    """The panels to draw for this issue, from every provider that has something to show."""
    panels: list[IssuePanel] = []
    for provider in list(_providers):
        try:
            panel = provider(request, issue)
        except Exception:
            logger.exception("issue panel provider %r failed for %s", provider, issue.key)
            continue
        if panel is not None:
            panels.append(panel)
    return panels


def issue_panels_render(request: HttpRequest, issue: Issue) -> list[tuple[IssuePanel, SafeString]]:
    """Each panel with its HTML, ready for the page's side column."""
    rendered: list[tuple[IssuePanel, SafeString]] = []
    for panel in issue_panels(request, issue):
        try:
            html = render_to_string(panel.template, {**panel.context, "issue": issue, "panel": panel}, request=request)
        except Exception:
            logger.exception("issue panel %r failed to render for %s", panel.title, issue.key)
            continue
        rendered.append((panel, SafeString(html)))
    return rendered
