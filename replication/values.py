"""Field values as they travel: read from an issue, translated for the partner's field, written back.

A value on the wire is the sender's own representation: a name for priority, status and
select options, an email for a user, ISO dates, the ADF document for a description. The
receiver translates it into its own field: option values through the mapping's value map,
else by equal name; a value with no translation is not guessed (`Untranslatable`).
"""
from __future__ import annotations

import collections.abc
from typing import Any

from django.contrib.auth.models import User

from jira.fields import LazyMapping
from jira.models import CustomField, Issue, Priority, Profile, Status
from mappings.fields import OPTION_KINDS, custom_fields, system_fields
from mappings.models import Mapping, sides

ACCOUNT_PREFIX = "712020:"


class Untranslatable(ValueError):
    """A value the receiving site has no counterpart for; the field is left as it is and reported."""


def read(issue: Issue, field_id: str) -> Any:
    """The issue's value of one field, in the wire's representation."""
    if field_id == "summary":
        return issue.summary
    if field_id == "description":
        return issue.description
    if field_id == "priority":
        return issue.priority.name if issue.priority_id and issue.priority else None
    if field_id == "labels":
        return sorted(issue.labels)
    if field_id == "status":
        return issue.status.name
    if field_id in ("assignee", "reporter"):
        user = getattr(issue, field_id)
        return (user.email or user.username).lower() if user else None
    if field_id == "duedate":
        return issue.due_date.isoformat() if issue.due_date else None
    value = issue.custom_fields.get(field_id)
    if isinstance(value, str) and value.startswith(ACCOUNT_PREFIX):  # a user picker holds an accountId
        profile = Profile.objects.select_related("user").filter(account_id=value).first()
        return (profile.user.email or profile.user.username).lower() if profile else None
    return value


def field_kinds() -> collections.abc.Mapping[str, dict[str, Any]]:
    """This site's fields by id; the custom fields are read only when one is asked for."""
    return LazyMapping(lambda: {f["id"]: f for f in custom_fields()}, known={f["id"]: f for f in system_fields()})


def translate(*, mapping: Mapping, role: str, local_field: str, partner_field: str, value: Any,
              local_kinds: collections.abc.Mapping[str, dict[str, Any]]) -> Any:
    """The partner's value of `partner_field` as a value of this site's `local_field`."""
    if value is None or value == [] or value == "":
        return value if local_field != "labels" else []
    kind = local_kinds.get(local_field, {}).get("kind")
    me, partner = sides(role)
    if kind in OPTION_KINDS:
        inviter_field = local_field if me == "inviter" else partner_field
        for pair in mapping.value_maps.get(inviter_field, []):
            if pair.get(partner) == value:
                return pair.get(me)
        options = _options(local_field, local_kinds)
        by_name = {o.casefold(): o for o in options}
        found = by_name.get(str(value).casefold())
        if found is None:
            name = local_kinds.get(local_field, {}).get("name", local_field)
            raise Untranslatable(f"{name}: the partner's value “{value}” has no value here "
                                 f"(map it in the mapping's values, or add it).")
        return found
    if kind == "user":
        user = User.objects.filter(email__iexact=str(value), is_active=True).first()
        if user is None:
            name = local_kinds.get(local_field, {}).get("name", local_field)
            raise Untranslatable(f"{name}: no active user here has the email {value}.")
        return (user.email or user.username).lower()
    return value


def _options(field_id: str, local_kinds: collections.abc.Mapping[str, dict[str, Any]]) -> list[str]:
    if field_id == "priority":
        return list(Priority.objects.values_list("name", flat=True))
    if field_id == "status":
        return list(Status.objects.values_list("name", flat=True))
    return list(local_kinds.get(field_id, {}).get("options") or [])


def jira_input(field_id: str, value: Any) -> Any:
    """A wire value as the `fields` input of jira's issue services."""
    if field_id == "priority":
        return {"name": value} if value else None
    if field_id in ("assignee", "reporter"):
        if not value:
            return None
        user = User.objects.filter(email__iexact=str(value)).first()
        return user.username if user else value
    if field_id.startswith("customfield_") and value is not None:
        cf = CustomField.objects.filter(pk=int(field_id.removeprefix("customfield_")) - 10000).first()
        if cf is not None and cf.field_type == CustomField.FieldType.USER:
            user = User.objects.filter(email__iexact=str(value)).first()
            return user.username if user else value
    return value
