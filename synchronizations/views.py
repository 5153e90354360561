"""The Synchronizations pages (Settings > Apps > Synchronizations).

Views only parse input and render; every change goes through `services`,
every read through `selectors` or the model's own relations.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, TypedDict
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import quote_etag, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from invitations.outbox import outbox_retry_failed
from issuesync.web import jira_admin_required
from synchronizations import services
from synchronizations.extensions import detail_context, row_notes, scope_dependents
from synchronizations.forms import ScopeForm, SynchronizationCreateForm
from synchronizations.models import Synchronization
from synchronizations.presentation import MAPPING_REFUSALS, delivery_label, site_host, told_when_reachable
from synchronizations.selectors import (
    DeliveryInfo,
    synchronization_deliveries,
    synchronization_delivery,
    synchronization_history,
    synchronization_search,
    synchronization_status_counts,
)
from synchronizations.states import InvitationStatus, allowed_actions

PAGE_SIZE = 50
LIST_COLUMNS = ("id", "name", "partner_address", "sync_type", "status", "updated_at")
View = Callable[..., HttpResponse]


def home(request: HttpRequest) -> HttpResponse:
    return redirect("synchronizations:list")


def _form_errors(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errs in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errs)
    else:
        form.add_error(None, error)


def _refused(request: HttpRequest, error: services.ActionRefused, sync: Synchronization) -> HttpResponse:
    messages.error(request, str(error))
    return redirect(sync.get_absolute_url())


SORTS = ("name", "-name", "partner", "-partner", "status", "-status", "updated", "-updated")
SORT_COLUMNS = (("name", "Name"), ("partner", "Partner Jira"), ("status", "Status"), ("updated", "Last change"))


def _list_context(request: HttpRequest) -> dict[str, Any]:
    status = request.GET.get("status") or ""
    if status not in InvitationStatus.values:
        status = ""
    query = (request.GET.get("q") or "").strip()[:120]
    sort = request.GET.get("sort") or "-updated"
    if sort not in SORTS:
        sort = "-updated"
    # Only the columns the rows show: the partner's key and visible scope stay in the database.
    rows_qs = synchronization_search(status=status or None, query=query, sort=sort).only(*LIST_COLUMNS)
    page = Paginator(rows_qs, PAGE_SIZE).get_page(request.GET.get("page"))
    syncs = list(page.object_list)
    deliveries = synchronization_deliveries(syncs)
    now = timezone.now()
    notes = row_notes(syncs)
    rows = [_list_row(s, deliveries[s.pk], now, notes.get(str(s.pk), [])) for s in syncs]
    counts = synchronization_status_counts(query=query)
    params = {"q": query, "status": status, "sort": "" if sort == "-updated" else sort}

    def link(**changes: Any) -> str:
        kept = {k: v for k, v in {**params, **changes}.items() if v not in ("", None, 1)}
        return "?" + urlencode(kept) if kept else "?"

    columns = []
    for key, label in SORT_COLUMNS:
        if sort == key:
            target, aria_sort = "-" + key, "ascending"
        elif sort == "-" + key:
            target, aria_sort = key, "descending"
        else:  # a first click sorts names A to Z and changes newest first
            target, aria_sort = ("-" + key if key == "updated" else key), ""
        columns.append({"label": label, "aria_sort": aria_sort,
                         "url": link(sort="" if target == "-updated" else target, page=None)})
    return {
        "page": page, "rows": rows, "status": status, "query": query, "sort": sort, "columns": columns,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in InvitationStatus.choices],
        "total": sum(counts.values()), "pages": _page_links(page, link),
        "previous_url": link(page=page.previous_page_number()) if page.has_previous() else "",
        "next_url": link(page=page.next_page_number()) if page.has_next() else "",
    }


def _page_links(page: Any, link: Callable[..., str]) -> list[dict[str, Any]]:
    """Numbered pages as Jira shows them: the first, the last and two either side of the current one,
    with a gap ("…") where pages are left out."""
    last = page.paginator.num_pages
    if last <= 1:
        return []
    shown = sorted({1, last, *range(max(1, page.number - 2), min(last, page.number + 2) + 1)})
    links: list[dict[str, Any]] = []
    for i, n in enumerate(shown):
        if i and n != shown[i - 1] + 1:
            links.append({"gap": True})
        links.append({"number": n, "url": link(page=n), "current": n == page.number})
    return links


def _url_for(name: str) -> Callable[[Any], str]:
    """reverse() once per page, not per row: rows differ only in their id."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    url = reverse(name, kwargs={"pk": placeholder})
    return lambda pk: url.replace(placeholder, str(pk))


class ListRow(TypedDict):
    """One row of the list with its text ready, so the template only prints strings: with 50 rows a
    page, every lookup, comparison and filter in the row's markup counts (a dict, because the
    template language tries `row[name]` before `row.name`)."""

    pk: str
    name: str
    partner_address: str
    status: str
    status_label: str
    type_label: str
    updated_iso: str
    updated_label: str
    url: str
    next_url: str  # only when the next step is ours (invitation received)
    retry_url: str  # only when a message failed
    delivery_label: str  # "" when everything was delivered
    notes: list[tuple[str, str]]  # (text, url) added by apps above (issue sync: issues in error)


def _list_row(
    sync: Synchronization, delivery: DeliveryInfo, now: datetime, notes: list[tuple[str, str]],
) -> ListRow:
    detail, next_step, retry = _row_urls()
    pk = str(sync.pk)
    updated = timezone.localtime(sync.updated_at)
    return ListRow(
        pk=pk, name=sync.name, partner_address=sync.partner_address, status=sync.status,
        status_label=STATUS_LABELS[sync.status], type_label=TYPE_LABELS[sync.sync_type],
        updated_iso=updated.isoformat(), updated_label=f"{updated:%b} {updated.day}, {updated:%Y %H:%M}",
        url=detail(pk), next_url=next_step(pk) if sync.status == InvitationStatus.INVITATION_RECEIVED else "",
        retry_url=retry(pk) if delivery.state == "failed" else "",
        delivery_label=_delivery_label(delivery, sync.partner_address, now), notes=notes,
    )


def _delivery_label(delivery: DeliveryInfo, partner: str, now: datetime | None = None) -> str:
    return delivery_label(state=delivery.state, attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at,
                          last_error=delivery.error, partner=partner, now=now)


@cache
def _row_urls() -> tuple[Callable[[Any], str], ...]:
    return tuple(_url_for(f"synchronizations:{n}") for n in ("detail", "next", "retry"))


STATUS_LABELS = dict(InvitationStatus.choices)
TYPE_LABELS = dict(Synchronization._meta.get_field("sync_type").choices or [])


@jira_admin_required
def synchronization_list_view(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    if not request.headers.get("X-Live-Rows"):
        return render(request, "synchronizations/list.html", context)
    # The open list asks for its rows every two seconds (static/js/list.js). The rows carry no
    # per-render token (the Retry buttons submit one form outside them), so equal rows are equal
    # bytes: an unchanged list answers 304 with no body instead of the whole table again.
    response = render(request, "synchronizations/_rows.html", context)
    return _not_modified_if_unchanged(request, response, vary="X-Live-Rows, Cookie")


@jira_admin_required
def synchronization_create_view(request: HttpRequest) -> HttpResponse:
    form = SynchronizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            sync = services.synchronization_create(
                name=d["name"], partner_address=d["partner_address"], sync_type=d["sync_type"],
                scope_mode=d["scope_mode"], projects=d["projects"], issue_types=d["issue_types"],
                user=request.user,
            )
        except ValidationError as e:
            _form_errors(form, e)
        else:
            host = site_host(sync.partner_address)
            # Queued, not sent: the worker delivers it; the list says when it has not arrived yet.
            messages.success(request, f"Invitation to {host} queued. The list shows it until {host} has it.")
            return redirect("synchronizations:list")
    return render(request, "synchronizations/create.html", {"form": form}, status=400 if form.errors else 200)


@jira_admin_required
def synchronization_detail_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization.listed.select_related("scope"), pk=pk)
    if sync.status == InvitationStatus.INVITATION_RECEIVED:
        return redirect("synchronizations:next", pk=sync.pk)
    # The open page polls its content (static/js/detail.js) so a partner's change shows without a reload.
    live = bool(request.headers.get("X-Live-Detail"))
    template = "synchronizations/_detail.html" if live else "synchronizations/detail.html"
    delivery = synchronization_delivery(sync)
    response = render(request, template, {
        "sync": sync, "delivery": delivery, "delivery_label": _delivery_label(delivery, sync.partner_address),
        "actions": {a.name.lower() for a in allowed_actions(sync.status_enum)},
        "history": synchronization_history(sync, page=_page_number(request, "history")),
        "projects": sync.scope.projects.all(), "issue_types": sync.scope.issue_types.all(),
        "mappings_url": _mappings_url(sync), "refused": _refused_mapping(request), **detail_context(sync),
    })
    return _not_modified_if_unchanged(request, response, vary="X-Live-Detail, Cookie") if live else response


# Every render masks the CSRF token afresh: the same content in different bytes. Left out of the ETag.
_CSRF_VALUE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def _not_modified_if_unchanged(request: HttpRequest, response: HttpResponse, *, vary: str) -> HttpResponse:
    """A 304 with no body when the content is what the page already shows (its If-None-Match)."""
    etag = quote_etag(hashlib.blake2b(_CSRF_VALUE.sub(b"", response.content), digest_size=12).hexdigest())
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = vary
    if etag in (request.headers.get("If-None-Match") or "").split(", "):
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        return not_modified
    return response


def _refused_mapping(request: HttpRequest) -> dict[str, str]:
    """An action refused on one mapping: its id and reason, shown next to its control."""
    mapping_id = request.GET.get("refused", "")
    reason = (request.session.get(MAPPING_REFUSALS) or {}).get(mapping_id)
    return {"id": mapping_id, "reason": reason} if reason else {}


def _page_number(request: HttpRequest, name: str) -> int:
    try:
        return max(1, min(int(request.GET.get(name, 1)), 10_000))
    except ValueError:
        return 1


def _mappings_url(sync: Synchronization) -> str:
    """The next step after accepting; the mappings pages live in their own app."""
    return reverse("mappings:add", kwargs={"pk": sync.pk})


@jira_admin_required
def synchronization_next_view(request: HttpRequest, pk: str) -> HttpResponse:
    """Invitation received -> Next: see what the partner offers, choose our scope, Accept or Reject."""
    sync = get_object_or_404(Synchronization.listed.select_related("scope"), pk=pk)
    if sync.status != InvitationStatus.INVITATION_RECEIVED:
        return redirect(sync.get_absolute_url())
    form = ScopeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.synchronization_accept(synchronization=sync, scope_mode=d["scope_mode"],
                                            projects=d["projects"], issue_types=d["issue_types"],
                                            user=request.user)
        except ValidationError as e:
            _form_errors(form, e)
        except services.ActionRefused as e:
            return _refused(request, e, sync)
        else:
            messages.success(request, f"You accepted “{sync.name}”. {told_when_reachable(sync.partner_address)} "
                                      "Now map your fields.")
            return redirect(sync.get_absolute_url())
    return render(request, "synchronizations/next.html", {"sync": sync, "form": form},
                  status=400 if form.errors else 200)


class _DryRun(Exception):
    """Rolls back a save made only to see what it would do."""


def _scope_would_disable(sync: Synchronization, data: dict[str, Any], user: Any) -> dict[Any, str]:
    """The mappings that saving this scope would disable, by id: the save itself runs and is rolled
    back (with its outgoing message, before any doorbell rings), so the warning can never disagree
    with what saving does."""
    before = scope_dependents(sync)
    if not before:
        return {}
    after: dict[Any, str] = {}
    try:
        with transaction.atomic():
            services.synchronization_scope_update(synchronization=sync, scope_mode=data["scope_mode"],
                                                  projects=data["projects"], issue_types=data["issue_types"],
                                                  user=user)
            after = scope_dependents(sync)
            raise _DryRun
    except (_DryRun, ValidationError, services.ActionRefused):
        pass  # refusals are reported by the real save
    return {pk: name for pk, name in before.items() if pk not in after}


@jira_admin_required
def synchronization_scope_view(request: HttpRequest, pk: str) -> HttpResponse:
    """Edit scope. A narrower scope may disable mappings: they are listed before anything is saved,
    and saving needs a second, explicit click that names how many."""
    sync = get_object_or_404(Synchronization.listed.select_related("scope"), pk=pk)
    initial = {"scope_mode": sync.scope.mode, "projects": list(sync.scope.projects.all()),
               "issue_types": list(sync.scope.issue_types.all())}
    form = ScopeForm(request.POST or None, initial=initial)
    disables: dict[Any, str] = {}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        disables = _scope_would_disable(sync, d, request.user)
        accepted = set(request.POST.getlist("disable"))
        if not disables or {str(pk) for pk in disables} <= accepted:
            before = scope_dependents(sync)
            try:
                services.synchronization_scope_update(synchronization=sync, scope_mode=d["scope_mode"],
                                                      projects=d["projects"], issue_types=d["issue_types"],
                                                      user=request.user)
            except ValidationError as e:
                _form_errors(form, e)
            except services.ActionRefused as e:
                return _refused(request, e, sync)
            else:
                after = scope_dependents(sync)
                disabled = [name for pk, name in before.items() if pk not in after]
                if disabled:
                    messages.warning(request, "Synchronization Scope saved. {} disabled: {}. Widen the scope or edit "
                                     "{}, then enable {} again.".format(
                                         _count(len(disabled), "mapping"), ", ".join(f"“{n}”" for n in disabled),
                                         "it" if len(disabled) == 1 else "them",
                                         "it" if len(disabled) == 1 else "them")
                                     + " " + told_when_reachable(sync.partner_address))
                else:
                    messages.success(request, "Synchronization Scope saved. "
                                     + told_when_reachable(sync.partner_address))
                return redirect(sync.get_absolute_url())
    return render(request, "synchronizations/scope.html", {
        "sync": sync, "form": form, "disables": sorted(disables.items(), key=lambda item: item[1]),
        "disables_label": _count(len(disables), "mapping"),
    }, status=400 if form.errors else 200)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _action(service: Callable[..., Any], done: str, to_list: bool, tells_partner: bool = True) -> View:
    @jira_admin_required
    @require_POST
    def view(request: HttpRequest, pk: str) -> HttpResponse:
        sync = get_object_or_404(Synchronization.listed, pk=pk)
        try:
            service(synchronization=sync, user=request.user)
        except services.ActionRefused as e:
            return _refused(request, e, sync)
        told = " " + told_when_reachable(sync.partner_address) if tells_partner else ""
        messages.success(request, done.format(name=sync.name) + told)
        return redirect("synchronizations:list" if to_list else sync.get_absolute_url())

    return view


synchronization_reject_view = _action(services.synchronization_reject, "You rejected “{name}”.", True)
synchronization_delete_view = _action(services.synchronization_delete, "“{name}” was deleted.", False)
# Removing a record is local: the partner is not told.
synchronization_remove_view = _action(services.synchronization_remove, "“{name}” was removed from the list.", True,
                                      tells_partner=False)


@jira_admin_required
@require_POST
def synchronization_retry_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization.listed, pk=pk)
    if outbox_retry_failed(link_id=sync.pk):
        messages.success(request, f"Sending “{sync.name}” again.")
    else:
        messages.info(request, "Nothing is waiting to be sent again.")
    back = request.POST.get("next", "")
    # Only back to a page of this site: "next" comes from the form and could be tampered with.
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("synchronizations:list")
    return redirect(back)


