"""The Add mapping / edit mapping form, from this site's side."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django import forms
from django.forms import formset_factory

from mappings.fields import COMPATIBLE, KIND_LABELS, OPTION_KINDS, compatibility_error, site_fields
from mappings.services import LOCAL_DIRECTIONS, MappingInput
from synchronizations.models import Synchronization

BLANK = [("", "—")]


def _choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class _SyncForm(forms.Form):
    def __init__(self, *args: Any, sync: Synchronization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sync = sync
        self.setup(sync)

    def setup(self, sync: Synchronization) -> None:
        pass


class IssueTypePairForm(_SyncForm):
    local = forms.ChoiceField(required=False, label="This site's issue type")
    partner = forms.ChoiceField(required=False, label="Partner's issue type")

    def setup(self, sync: Synchronization) -> None:
        _choices(self, "local", BLANK + [(t.name, t.name) for t in sync.scope.visible_issue_types()])
        _choices(self, "partner", BLANK + [
            (t["name"], t["name"]) for t in (sync.partner_visible or {}).get("issue_types", [])
        ])


class KindSelect(forms.Select):
    """A select whose options carry their field's kind (data-kind) and the kinds they accept
    (data-accepts), so the editor offers only partner fields that can take the chosen field."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: dict[str, str] = {}

    def create_option(self, name: str, value: Any, label: Any, selected: Any, index: int,
                      subindex: int | None = None, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        kind = self.kinds.get(str(value))
        if kind:
            option["attrs"]["data-kind"] = kind
            option["attrs"]["data-accepts"] = " ".join(sorted(COMPATIBLE.get(kind, set())))
        return option


def _typed_fields(form: forms.Form, name: str, fields: list[dict[str, Any]]) -> None:
    """Each field option shows its type: "Customer (text)", "Estimate (number)"."""
    _choices(form, name, BLANK + [(f["id"], f"{f['name']} ({KIND_LABELS.get(f['kind'], f['kind'])})")
                                  for f in fields])
    widget = form.fields[name].widget
    assert isinstance(widget, KindSelect)
    widget.kinds = {f["id"]: f["kind"] for f in fields}


class FieldPairForm(_SyncForm):
    local = forms.ChoiceField(required=False, label="This site's field",
                              widget=KindSelect(attrs={"data-local-field": ""}))
    partner = forms.ChoiceField(required=False, label="Partner's field",
                                widget=KindSelect(attrs={"data-partner-field": ""}))
    direction = forms.ChoiceField(choices=list(LOCAL_DIRECTIONS.items()), initial="both", label="Direction")

    def setup(self, sync: Synchronization) -> None:
        self.local_fields = {f["id"]: f for f in site_fields()}
        self.partner_fields = {f["id"]: f for f in (sync.partner_visible or {}).get("mappable_fields", [])}
        _typed_fields(self, "local", list(self.local_fields.values()))
        _typed_fields(self, "partner", list(self.partner_fields.values()))

    def row_problem(self) -> tuple[str, str] | None:
        """What the service refuses about this pair, in its words, and the select to point at: so the
        refusal shows on this row rather than at the top of the section."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        local, partner = data.get("local"), data.get("partner")
        if local and not partner:
            return "partner", f"Pair {self.local_fields[local]['name']} with a field of the other site."
        if partner and not local:
            return "local", f"Pair {self.partner_fields[partner]['name']} with a field of the other site."
        if local and partner:
            problem = compatibility_error(self.local_fields[local], self.partner_fields[partner])
            if problem:
                return "partner", problem
        return None

    def add_row_error(self, name: str, message: str) -> None:
        self.add_error(name, message)
        # The select says it is invalid and reads the message as its description (mappings/_field_row.html).
        self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": f"{self.prefix}-error"})


def _values_by_field(fields: list[dict[str, Any]]) -> list[Any]:
    """A select's choices: each select or status field's values, grouped under the field's name
    (mappings.js shows only the group of the field the row maps)."""
    return BLANK + [(f["name"], [(v, v) for v in f["options"]]) for f in fields
                    if f["kind"] in OPTION_KINDS and f.get("options")]


class ValueMapForm(_SyncForm):
    """One value pair, picked from both sides' option lists rather than typed."""

    field = forms.ChoiceField(required=False, label="Field", widget=forms.Select(attrs={"data-value-field": ""}))
    partner = forms.ChoiceField(required=False, label="Partner's value",
                                widget=forms.Select(attrs={"data-partner-value": ""}))
    local = forms.ChoiceField(required=False, label="This site's value",
                              widget=forms.Select(attrs={"data-local-value": ""}))

    def setup(self, sync: Synchronization) -> None:
        own = site_fields()
        _choices(self, "field", BLANK + [(f["id"], f["name"]) for f in own if f["kind"] in OPTION_KINDS])
        _choices(self, "local", _values_by_field(own))
        _choices(self, "partner", _values_by_field((sync.partner_visible or {}).get("mappable_fields", [])))


# As many rows as the mapping has, plus one to fill in; the editor adds and removes rows (pages' JS).
IssueTypePairFormSet = formset_factory(IssueTypePairForm, extra=0, min_num=1)
FieldPairFormSet = formset_factory(FieldPairForm, extra=1, min_num=1)
ValueMapFormSet = formset_factory(ValueMapForm, extra=0, min_num=1)


class MappingForm(_SyncForm):
    name = forms.CharField(max_length=120, label="Mapping name", required=False)
    local_project = forms.ChoiceField(label="This site's project", required=False)
    partner_project = forms.ChoiceField(label="Partner's project", required=False)
    comments = forms.ChoiceField(
        choices=[("off", "Don't sync comments"), *LOCAL_DIRECTIONS.items()], initial="both",
        widget=forms.RadioSelect, label="Comments",
    )
    filter = forms.CharField(
        required=False, max_length=500, label="Filter",
        help_text="Optional. Which issues sync, for example: issuetype = Bug AND labels in (customer, urgent)",
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The mapping as the admin opened it (JSON), so a refused stale save can say what the partner changed.
    started_from = forms.CharField(required=False, widget=forms.HiddenInput)

    def setup(self, sync: Synchronization) -> None:
        _choices(self, "local_project", BLANK + [(p.key, f"{p.name} ({p.key})")
                                                        for p in sync.scope.visible_projects()])
        _choices(self, "partner_project", BLANK + [
            (p["key"], f"{p['name']} ({p['key']})") for p in (sync.partner_visible or {}).get("projects", [])
        ])


def mapping_input(form: MappingForm, types: Any, field_pairs: Any, values: Any) -> MappingInput:
    d = form.cleaned_data
    value_maps: dict[str, list[tuple[str, str]]] = {}
    for row in values.cleaned_data:
        if row.get("field") and (row.get("partner") or row.get("local")):
            value_maps.setdefault(row["field"], []).append((row["partner"], row["local"]))
    return MappingInput(
        name=d["name"], local_project=d["local_project"], partner_project=d["partner_project"],
        issue_types=[(r["local"], r["partner"]) for r in types.cleaned_data if r.get("local") or r.get("partner")],
        fields=[(r["local"], r["partner"], r["direction"]) for r in field_pairs.cleaned_data
                if r.get("local") or r.get("partner")],
        value_maps=value_maps, comments=d["comments"], filter=d["filter"], enabled=d["enabled"],
    )


CHANGE_LABELS = {"name": "Mapping name", "local_project": "This site's project",
                 "partner_project": "Partner's project", "issue_types": "Issue types", "fields": "Fields",
                 "value_maps": "Values", "comments": "Comments", "filter": "Filter", "enabled": "Enabled"}
_SHOWN_AS_IS = {"name", "local_project", "partner_project", "filter"}


def mapping_snapshot(data: MappingInput) -> str:
    """A mapping as the editor opened it, for the hidden `started_from` field."""
    return json.dumps(asdict(data), sort_keys=True)


def mapping_changes(started_from: str, now: MappingInput) -> list[str]:
    """What differs between the mapping the admin opened and the one stored now, in the editor's
    words: "Mapping name: now “Bugs, renamed on beta”", "Fields". Unreadable input: no list."""
    try:
        before = json.loads(started_from)
    except ValueError:
        return []
    if not isinstance(before, dict):
        return []
    current = json.loads(mapping_snapshot(now))
    changes = []
    for key, label in CHANGE_LABELS.items():
        if before.get(key) == current[key]:
            continue
        if key in _SHOWN_AS_IS:
            changes.append(f"{label}: now “{current[key]}”" if current[key] else f"{label}: now empty")
        elif key == "enabled":
            changes.append(f"{label}: now {'yes' if current[key] else 'no'}")
        else:
            changes.append(label)
    return changes


def initial_rows(data: MappingInput | None) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]],
                                                      list[dict[str, Any]]]:
    if data is None:
        return ({"comments": "both", "enabled": True}, [],
                [{"local": "summary", "partner": "summary", "direction": "both"},
                 {"local": "description", "partner": "description", "direction": "both"}], [])
    main = {"name": data.name, "local_project": data.local_project, "partner_project": data.partner_project,
            "comments": data.comments, "filter": data.filter, "enabled": data.enabled}
    types = [{"local": a, "partner": b} for a, b in data.issue_types]
    fields = [{"local": a, "partner": b, "direction": d} for a, b, d in data.fields]
    values = [{"field": f, "partner": p, "local": lv} for f, pairs in data.value_maps.items() for p, lv in pairs]
    return main, types, fields, values
