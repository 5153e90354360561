"""The mapping pages: Add mapping, edit, enable/disable, delete."""
from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from issuesync.web import jira_admin_required
from mappings.forms import (
    FieldPairFormSet,
    IssueTypePairFormSet,
    MappingForm,
    ValueMapFormSet,
    initial_rows,
    mapping_changes,
    mapping_input,
    mapping_snapshot,
)
from mappings.models import Mapping
from mappings.services import StaleMapping, mapping_delete, mapping_local_view, mapping_save, mapping_set_enabled
from synchronizations.models import Synchronization
from synchronizations.presentation import MAPPING_REFUSALS, told_when_reachable
from synchronizations.services import ActionRefused
from synchronizations.states import ACCEPTED

SECTIONS = ("issue_types", "fields", "value_maps")


def _sync(pk: Any) -> Synchronization:
    return get_object_or_404(Synchronization.listed.select_related("scope"), pk=pk)


def _mapping(sync: Synchronization, mapping_id: Any) -> Mapping:
    return get_object_or_404(Mapping, pk=mapping_id, synchronization=sync, deleted_at__isnull=True)


def _version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST["version"])
    except (KeyError, ValueError):
        return None


@jira_admin_required
def mapping_edit_view(request: HttpRequest, pk: Any, mapping_id: Any = None) -> HttpResponse:
    sync = _sync(pk)
    if sync.status not in ACCEPTED:
        messages.error(request, "Mappings can be configured once the invitation is accepted.")
        return redirect(sync.get_absolute_url())
    mapping = _mapping(sync, mapping_id) if mapping_id else None
    kw = {"form_kwargs": {"sync": sync}}
    section_errors: dict[str, list[str]] = {}
    stale: dict[str, Any] = {}
    if request.method == "POST":
        form = MappingForm(request.POST, sync=sync)
        types = IssueTypePairFormSet(request.POST, prefix="types", **kw)  # type: ignore[arg-type]
        pairs = FieldPairFormSet(request.POST, prefix="fields", **kw)  # type: ignore[arg-type]
        values = ValueMapFormSet(request.POST, prefix="values", **kw)  # type: ignore[arg-type]
        if all(f.is_valid() for f in (form, types, pairs, values)):
            try:
                saved = mapping_save(
                    synchronization=sync, data=mapping_input(form, types, pairs, values),
                    mapping_id=mapping.pk if mapping else None,
                    base_version=form.cleaned_data.get("version") if mapping else None, user=request.user,
                )
            except ValidationError as e:
                for key, errors in e.message_dict.items():
                    if key == "fields":
                        errors = _errors_on_rows(pairs, errors)
                    if key in SECTIONS:
                        if errors:
                            section_errors[key] = errors
                    else:
                        form.add_error(key if key in form.fields else None, errors)
            except StaleMapping:
                assert mapping is not None
                stale = _stale_edit(form, mapping, sync)
            except ActionRefused as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"Mapping “{saved.name}” saved. {told_when_reachable(sync.partner_address)}")
                return redirect(sync.get_absolute_url() + "#mappings")
    else:
        main, type_rows, field_rows, value_rows = initial_rows(
            mapping_local_view(mapping, sync.role) if mapping else None
        )
        if mapping:
            main["version"] = mapping.version
            main["started_from"] = mapping_snapshot(mapping_local_view(mapping, sync.role))
        form = MappingForm(initial=main, sync=sync)
        types = IssueTypePairFormSet(initial=type_rows, prefix="types", **kw)  # type: ignore[arg-type]
        pairs = FieldPairFormSet(initial=field_rows, prefix="fields", **kw)  # type: ignore[arg-type]
        values = ValueMapFormSet(initial=value_rows, prefix="values", **kw)  # type: ignore[arg-type]
    return render(request, "mappings/edit.html", {
        "sync": sync, "mapping": mapping, "form": form, "types": types, "pairs": pairs, "values": values,
        "section_errors": section_errors, "stale": stale,
    }, status=409 if stale else 200)


def _errors_on_rows(pairs: Any, errors: list[str]) -> list[str]:
    """Put each refused field pair's error on its own row; return what belongs to no row."""
    left = list(errors)
    for row in pairs.forms:
        problem = row.row_problem()
        if problem and problem[1] in left:
            left.remove(problem[1])
            row.add_row_error(*problem)
    return left


def _stale_edit(form: MappingForm, mapping: Mapping, sync: Synchronization) -> dict[str, Any]:
    """A save made on an older version was refused: what was typed stays in the form, and the admin is
    told what the partner changed since the editor opened. The form now carries the stored version, so
    saving again applies what was typed over those changes, knowingly."""
    mapping.refresh_from_db()
    now = mapping_local_view(mapping, sync.role)
    data = cast(QueryDict, form.data).copy()
    data["version"], data["started_from"] = str(mapping.version), mapping_snapshot(now)
    form.data = data
    return {
        "by": mapping.updated_by or "the partner", "at": mapping.updated_at,
        "changes": mapping_changes(form.cleaned_data.get("started_from") or "", now),
    }


@jira_admin_required
@require_POST
def mapping_enable_view(request: HttpRequest, pk: Any, mapping_id: Any) -> HttpResponse:
    sync = _sync(pk)
    mapping = _mapping(sync, mapping_id)
    enabled = request.POST.get("enabled") == "1"
    try:
        mapping_set_enabled(mapping=mapping, enabled=enabled, base_version=_version(request), user=request.user)
    except ValidationError as e:
        return _refused_next_to_control(request, sync, mapping, "This mapping cannot be enabled: " + " ".join(
            m for ms in e.message_dict.values() for m in ms))
    except ActionRefused as e:
        return _refused_next_to_control(request, sync, mapping, str(e))
    messages.success(request, f"Mapping “{mapping.name}” {'enabled' if enabled else 'disabled'}. "
                              f"{told_when_reachable(sync.partner_address)}")
    return redirect(sync.get_absolute_url() + "#mappings")


def _refused_next_to_control(request: HttpRequest, sync: Synchronization, mapping: Mapping,
                             reason: str) -> HttpResponse:
    """The reason shows next to that mapping's Enable/Disable button, not in a flag far from it: the
    detail page reads it from the session while its address names the mapping (`?refused=<id>`), so
    its live refresh keeps it and a later visit does not."""
    request.session[MAPPING_REFUSALS] = {str(mapping.pk): reason}
    # No "#fragment": Chromium's scroll to a fragment would take the focus from the button (pages.js
    # focuses it, which scrolls it into view as well).
    return redirect(f"{sync.get_absolute_url()}?{urlencode({'refused': mapping.pk})}")


@jira_admin_required
@require_POST
def mapping_delete_view(request: HttpRequest, pk: Any, mapping_id: Any) -> HttpResponse:
    sync = _sync(pk)
    mapping = _mapping(sync, mapping_id)
    try:
        mapping_delete(mapping=mapping, base_version=_version(request), user=request.user)
    except ActionRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Mapping “{mapping.name}” deleted. {told_when_reachable(sync.partner_address)}")
    return redirect(sync.get_absolute_url() + "#mappings")

