"""Issue sync's pages: the Errors view of a synchronization, the issue view's Issue Sync panel, and the
detail page's "Synchronize existing issues" actions."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from issuesync.web import jira_admin_required
from jira.models import Issue
from jira.panels import IssuePanel
from replication import runs, selectors, services
from replication.models import IssueLink, SyncRun
from replication.runs import RunRefused
from synchronizations.models import Synchronization


@jira_admin_required
def issue_errors_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization, pk=pk)
    rows = [selectors.link_row(link) for link in selectors.issue_errors(sync)[:200]]
    return render(request, "replication/errors.html", {
        "sync": sync, "rows": rows, "summary": selectors.issue_sync_summary(sync)})


@require_POST
@jira_admin_required
def issue_error_action_view(request: HttpRequest, pk: str, link_pk: int, action: str) -> HttpResponse:
    link = get_object_or_404(IssueLink, pk=link_pk, synchronization_id=pk)
    if action == "retry":
        link = services.link_retry(link=link)
        messages.success(request, f"{link.local_key}: retried ({link.get_state_display()}).")
    else:
        services.link_skip(link=link)
        messages.success(request, f"{link.local_key}: skipped; its next changes sync normally.")
    return redirect("replication:errors", pk=pk)


@require_POST
@jira_admin_required
def pause_view(request: HttpRequest, pk: str, paused: bool) -> HttpResponse:
    sync = get_object_or_404(Synchronization, pk=pk)
    if paused:
        services.synchronization_pause(synchronization=sync)
        messages.success(request, "Issue synchronization paused: changes are recorded and flow on resume.")
    else:
        sent = services.synchronization_resume(synchronization=sync)
        messages.success(request, f"Issue synchronization resumed: {sent} issue(s) sent.")
    return redirect("replication:errors", pk=pk)


def issue_panel(request: HttpRequest, issue: Issue) -> Any:
    """The panel provider for the issue view's app slot: every signed-in person sees it."""
    return IssuePanel(title="Issue Sync", template="replication/panel.html",
                      context={"links": selectors.issue_panel(issue)})


@login_required
def issue_panel_view(request: HttpRequest, key: str) -> HttpResponse:
    """The Issue Sync panel of an issue (a fragment for the issue view's app slot); members see it too."""
    issue = get_object_or_404(Issue, key=key)
    return render(request, "replication/panel.html", {"issue": issue, "links": selectors.issue_panel(issue)})


@require_POST
@login_required
def issue_sync_now_view(request: HttpRequest, key: str) -> HttpResponse:
    issue = get_object_or_404(Issue, key=key)
    services.issue_sync_now(issue=issue)
    return render(request, "replication/panel.html", {"issue": issue, "links": selectors.issue_panel(issue),
                                                      "synced_now": True})


@require_POST
@jira_admin_required
def run_start_view(request: HttpRequest, pk: str) -> HttpResponse:
    """"Synchronize existing issues" on a mapping: Dry run or Start (the button pressed says which)."""
    sync = get_object_or_404(Synchronization, pk=pk)
    dry_run = request.POST.get("dry_run") == "1"
    try:
        run = runs.run_start(synchronization=sync, mapping_id=request.POST.get("mapping", ""),
                             mode=request.POST.get("mode", ""), dry_run=dry_run,
                             match_by=request.POST.get("match_by", ""),
                             started_by=request.user.get_username())
    except RunRefused as e:
        messages.error(request, str(e))
    else:
        what = "Dry run" if dry_run else run.get_mode_display()
        messages.success(request, f"{what} of “{run.mapping_name}” started: {run.total} issue(s) to look at.")
    return redirect(reverse("synchronizations:detail", kwargs={"pk": pk}) + "#existing-issues")


@require_POST
@jira_admin_required
def run_action_view(request: HttpRequest, pk: str, run_pk: str, action: str) -> HttpResponse:
    run = get_object_or_404(SyncRun, pk=run_pk, synchronization_id=pk)
    acts = {"pause": runs.run_pause, "resume": runs.run_resume, "cancel": runs.run_cancel}
    if action not in acts:
        raise Http404("No such action")
    try:
        run = acts[action](run=run)
    except RunRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"{run.get_mode_display()} of “{run.mapping_name}”: {run.get_state_display()}.")
    return redirect(reverse("synchronizations:detail", kwargs={"pk": pk}) + "#existing-issues")
