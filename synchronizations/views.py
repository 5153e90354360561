"""The Synchronizations pages (Settings > Apps > Synchronizations).

Views only parse input and render; every change goes through `services`,
every read through `selectors` or the model's own relations.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any, TypedDict

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from invitations.models import OutboxMessage
from invitations.outbox import outbox_retry
from mappings.selectors import mapping_rows
from synchronizations import services
from synchronizations.extensions import detail_context, row_notes
from synchronizations.forms import ScopeForm, SynchronizationCreateForm
from synchronizations.models import Synchronization
from synchronizations.selectors import (
    DeliveryInfo,
    synchronization_deliveries,
    synchronization_delivery,
    synchronization_history,
    synchronization_list,
)
from synchronizations.states import InvitationStatus

PAGE_SIZE = 50
LIST_COLUMNS = ("id", "name", "partner_address", "sync_type", "status", "updated_at")
View = Callable[..., HttpResponse]


def jira_admin_required(view: View) -> View:
    """Anonymous -> login page; signed-in non-admin -> a clear 403 page (not a redirect)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            return render(request, "synchronizations/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


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


def _list_context(request: HttpRequest) -> dict[str, Any]:
    status = request.GET.get("status") or ""
    if status not in InvitationStatus.values:
        status = ""
    # Only the columns the rows show: the partner's key and visible scope stay in the database.
    rows_qs = synchronization_list(status=status or None).only(*LIST_COLUMNS)
    page = Paginator(rows_qs, PAGE_SIZE).get_page(request.GET.get("page"))
    syncs = list(page.object_list)
    deliveries = synchronization_deliveries(syncs)
    notes = row_notes(syncs)
    rows = [_list_row(s, deliveries[s.pk], notes.get(str(s.pk), [])) for s in syncs]
    return {"page": page, "rows": rows, "status": status, "statuses": InvitationStatus.choices}


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


def _list_row(sync: Synchronization, delivery: DeliveryInfo, notes: list[tuple[str, str]]) -> ListRow:
    detail, next_step, retry = _row_urls()
    pk = str(sync.pk)
    updated = timezone.localtime(sync.updated_at)
    return ListRow(
        pk=pk, name=sync.name, partner_address=sync.partner_address, status=sync.status,
        status_label=STATUS_LABELS[sync.status], type_label=TYPE_LABELS[sync.sync_type],
        updated_iso=updated.isoformat(), updated_label=f"{updated:%b} {updated.day}, {updated:%Y %H:%M}",
        url=detail(pk), next_url=next_step(pk) if sync.status == InvitationStatus.INVITATION_RECEIVED else "",
        retry_url=retry(pk) if delivery.state == "failed" else "", delivery_label=_delivery_label(delivery),
        notes=notes,
    )


def _delivery_label(delivery: DeliveryInfo) -> str:
    if delivery.state == "failed":
        return f"Not delivered: {Truncator(delivery.error).chars(60)}" if delivery.error else "Not delivered"
    if delivery.state == "pending":
        return f"Sending (attempt {delivery.attempts + 1})…" if delivery.attempts else "Sending…"
    return ""


@cache
def _row_urls() -> tuple[Callable[[Any], str], ...]:
    return tuple(_url_for(f"synchronizations:{n}") for n in ("detail", "next", "retry"))


STATUS_LABELS = dict(InvitationStatus.choices)
TYPE_LABELS = dict(Synchronization._meta.get_field("sync_type").choices or [])


@jira_admin_required
def synchronization_list_view(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    # htmx polls this fragment every second so statuses change without a reload.
    template = "synchronizations/_rows.html" if request.headers.get("HX-Request") else "synchronizations/list.html"
    return render(request, template, context)


@jira_admin_required
def synchronization_create_view(request: HttpRequest) -> HttpResponse:
    form = SynchronizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.synchronization_create(
                name=d["name"], partner_address=d["partner_address"], sync_type=d["sync_type"],
                scope_mode=d["scope_mode"], projects=d["projects"], issue_types=d["issue_types"],
                user=request.user,
            )
        except ValidationError as e:
            _form_errors(form, e)
        else:
            messages.success(request, f"Invitation sent to {d['partner_address'].strip()}.")
            return redirect("synchronizations:list")
    return render(request, "synchronizations/create.html", {"form": form}, status=400 if form.errors else 200)


@jira_admin_required
def synchronization_detail_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization.listed.select_related("scope"), pk=pk)
    if sync.status == InvitationStatus.INVITATION_RECEIVED:
        return redirect("synchronizations:next", pk=sync.pk)
    # htmx polls the page's content so a partner's change shows without a reload.
    template = "synchronizations/_detail.html" if request.headers.get("HX-Request") else "synchronizations/detail.html"
    return render(request, template, {
        "sync": sync, "delivery": synchronization_delivery(sync), "history": synchronization_history(sync),
        "projects": sync.scope.projects.all(), "issue_types": sync.scope.issue_types.all(),
        "mappings_url": _mappings_url(sync), "mappings": mapping_rows(sync), **detail_context(sync),
    })


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
            messages.success(request, f"You accepted “{sync.name}”. Now map your fields.")
            return redirect(sync.get_absolute_url())
    return render(request, "synchronizations/next.html", {"sync": sync, "form": form},
                  status=400 if form.errors else 200)


@jira_admin_required
def synchronization_scope_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization.listed.select_related("scope"), pk=pk)
    initial = {"scope_mode": sync.scope.mode, "projects": list(sync.scope.projects.all()),
               "issue_types": list(sync.scope.issue_types.all())}
    form = ScopeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.synchronization_scope_update(synchronization=sync, scope_mode=d["scope_mode"],
                                                  projects=d["projects"], issue_types=d["issue_types"],
                                                  user=request.user)
        except ValidationError as e:
            _form_errors(form, e)
        except services.ActionRefused as e:
            return _refused(request, e, sync)
        else:
            messages.success(request, "Synchronization Scope saved.")
            return redirect(sync.get_absolute_url())
    return render(request, "synchronizations/scope.html", {"sync": sync, "form": form},
                  status=400 if form.errors else 200)


def _action(service: Callable[..., Any], done: str, to_list: bool) -> View:
    @jira_admin_required
    @require_POST
    def view(request: HttpRequest, pk: str) -> HttpResponse:
        sync = get_object_or_404(Synchronization.listed, pk=pk)
        try:
            service(synchronization=sync, user=request.user)
        except services.ActionRefused as e:
            return _refused(request, e, sync)
        messages.success(request, done.format(name=sync.name))
        return redirect("synchronizations:list" if to_list else sync.get_absolute_url())

    return view


synchronization_reject_view = _action(services.synchronization_reject, "You rejected “{name}”.", True)
synchronization_delete_view = _action(services.synchronization_delete, "“{name}” was deleted.", False)
synchronization_remove_view = _action(services.synchronization_remove, "“{name}” was removed from the list.", True)


@jira_admin_required
@require_POST
def synchronization_retry_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization.listed, pk=pk)
    retried = [outbox_retry(message=m) for m in OutboxMessage.objects.filter(synchronization_id=sync.pk,
                                                                              state="failed")]
    if any(retried):
        messages.success(request, f"Sending “{sync.name}” again.")
    else:
        messages.info(request, "Nothing is waiting to be sent again.")
    back = request.POST.get("next", "")
    # Only back to a page of this site: "next" comes from the form and could be tampered with.
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("synchronizations:list")
    return redirect(back)


