"""Issue fields as Jira's REST API names them, and turning what a caller wrote into stored values.

Every value may come as Jira's JSON (`{"name": "High"}`, `{"accountId": "..."}`, ADF) or, from the
site's own pages, as a model instance. Problems are collected per field, as Jira reports them.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.contrib.auth.models import User

from jira.adf import AdfError, adf_from_text, adf_validate
from jira.models import CustomField, IssueType, Priority, Profile, Project

SUMMARY_MAX = 255
LABEL_MAX = 255
TEXT_FIELD_MAX = 32767  # Jira's limit for a text custom field and a description's text
DESCRIPTION_MAX_BYTES = 64 * 1024

# System fields: (id, name, schema type, may be written through `fields`/`update`)
SYSTEM_FIELDS: list[tuple[str, str, str, bool]] = [
    ("summary", "Summary", "string", True),
    ("description", "Description", "string", True),
    ("project", "Project", "project", False),
    ("issuetype", "Issue Type", "issuetype", True),
    ("status", "Status", "status", False),
    ("priority", "Priority", "priority", True),
    ("labels", "Labels", "array", True),
    ("assignee", "Assignee", "user", True),
    ("reporter", "Reporter", "user", True),
    ("duedate", "Due date", "date", True),
    ("created", "Created", "datetime", False),
    ("updated", "Updated", "datetime", False),
    ("comment", "Comment", "comments-page", False),
]
SYSTEM_FIELD_NAMES = {fid: name for fid, name, _, _ in SYSTEM_FIELDS}
WRITABLE = {fid for fid, _, _, writable in SYSTEM_FIELDS if writable}
CUSTOM_ID = re.compile(r"^customfield_(\d+)$")
CUSTOM_SCHEMA = {"text": "string", "select": "option", "number": "number", "date": "date", "user": "user",
                 "labels": "array"}


@dataclass
class FieldErrors(Exception):
    """Jira's error body: per-field problems and general messages."""

    errors: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    status: int = 400

    def __str__(self) -> str:
        return "; ".join(self.messages + [f"{k}: {v}" for k, v in self.errors.items()])

    def __bool__(self) -> bool:
        return bool(self.errors or self.messages)


V = TypeVar("V")


class LazyMapping(Mapping[str, V]):
    """A read-only mapping whose rows are loaded the first time a key outside `known` is asked for.

    An edit of the summary never needs the site's custom fields; a call that names one reads them once.
    """

    def __init__(self, load: Callable[[], dict[str, V]], known: dict[str, V] | None = None) -> None:
        self._load, self._known = load, known or {}
        self._all: dict[str, V] | None = None

    def _rows(self) -> dict[str, V]:
        if self._all is None:
            self._all = {**self._known, **self._load()}
        return self._all

    def __getitem__(self, key: str) -> V:
        return self._known[key] if key in self._known else self._rows()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())


def custom_fields_by_id() -> Mapping[str, CustomField]:
    """The site's custom fields by id (`customfield_10001`), read when one is first looked up."""
    return LazyMapping(lambda: {cf.field_id: cf for cf in CustomField.objects.all()})


def _ref(value: Any) -> tuple[str, str] | None:
    """("id" | "key" | "name", value) from a Jira reference object or a bare string."""
    if isinstance(value, dict):
        for attr in ("id", "key", "name", "value"):
            if value.get(attr) not in (None, ""):
                return attr, str(value[attr])
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return "name", str(value)
    return None


def project_resolve(value: Any) -> Project | None:
    if isinstance(value, Project):
        return value
    ref = _ref(value)
    if ref is None:
        return None
    attr, text = ref
    if attr == "id" or (attr == "name" and text.isdigit()):
        return Project.objects.filter(pk=int(text)).first() if text.isdigit() else None
    return Project.objects.filter(key__iexact=text).first() or Project.objects.filter(name__iexact=text).first()


def issue_type_resolve(value: Any) -> IssueType | None:
    if isinstance(value, IssueType):
        return value
    ref = _ref(value)
    if ref is None:
        return None
    attr, text = ref
    if attr == "id":
        return IssueType.objects.filter(pk=int(text)).first() if text.isdigit() else None
    return IssueType.objects.filter(name__iexact=text).first()


def priority_resolve(value: Any) -> Priority | None:
    if isinstance(value, Priority):
        return value
    ref = _ref(value)
    if ref is None:
        return None
    attr, text = ref
    if attr == "id":
        return Priority.objects.filter(pk=int(text)).first() if text.isdigit() else None
    return Priority.objects.filter(name__iexact=text).first()


def user_resolve(value: Any) -> User | None:
    """A user by accountId (Jira Cloud), or by name/email (what older clients send)."""
    if isinstance(value, User):
        return value
    if isinstance(value, dict):
        if value.get("accountId"):
            profile = Profile.objects.select_related("user").filter(account_id=str(value["accountId"])).first()
            return profile.user if profile else None
        text = value.get("name") or value.get("emailAddress") or value.get("id")
    else:
        text = value
    if not isinstance(text, str) or not text:
        return None
    profile = Profile.objects.select_related("user").filter(account_id=text).first()
    if profile:
        return profile.user
    return User.objects.filter(username=text).first() or User.objects.filter(email__iexact=text).first()


def description_clean(value: Any, *, plain_text: bool) -> dict[str, Any] | None:
    """ADF (v3) or plain text (v2, and accepted on v3) → a stored document; raise ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) > TEXT_FIELD_MAX:
            raise ValueError(f"The text must be {TEXT_FIELD_MAX} characters or fewer.")
        return adf_from_text(value)
    if plain_text:
        raise ValueError("Operation value must be a string")
    try:
        doc = adf_validate(value)
    except AdfError as e:
        raise ValueError(f"Operation value must be an Atlassian Document (see the Atlassian Document Format): {e}")\
            from None
    if len(repr(doc)) > DESCRIPTION_MAX_BYTES:
        raise ValueError("The document is too long.")
    return doc


def labels_clean(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("Labels must be a list of strings.")
    out: list[str] = []
    for label in value:
        if not label or any(c.isspace() for c in label):
            raise ValueError("A label cannot contain spaces and cannot be empty.")
        if len(label) > LABEL_MAX:
            raise ValueError(f"A label must be {LABEL_MAX} characters or fewer.")
        if label not in out:
            out.append(label)
    return out


def date_clean(value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("Error parsing date string: use the yyyy-MM-dd format.")


def custom_value_clean(cf: CustomField, value: Any) -> Any:
    """A custom field's value as stored (option name, number, ISO date, accountId, label list); raise ValueError."""
    if value is None or value == "" or value == []:
        return None
    kind = cf.field_type
    if kind == CustomField.FieldType.TEXT:
        if not isinstance(value, str):
            raise ValueError("Operation value must be a string")
        if len(value) > TEXT_FIELD_MAX:
            raise ValueError(f"The text must be {TEXT_FIELD_MAX} characters or fewer.")
        return value
    if kind == CustomField.FieldType.SELECT:
        ref = _ref(value)
        wanted = ref[1] if ref else None
        if ref and ref[0] == "id" and isinstance(value, dict) and "value" not in value:
            # Option ids are their position, as the field's options list them (see `field_options`).
            index = int(wanted) - option_id_base(cf) if wanted and wanted.isdigit() else -1
            wanted = cf.options[index] if 0 <= index < len(cf.options) else None
        for option in cf.options:
            if wanted is not None and option.casefold() == wanted.casefold():
                return option
        raise ValueError(f"Option value '{ref[1] if ref else value}' is not valid")
    if kind == CustomField.FieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("Operation value must be a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("Operation value must be a number") from None
        if not number.is_finite():
            raise ValueError("Operation value must be a number")
        return float(number)
    if kind == CustomField.FieldType.DATE:
        day = date_clean(value)
        return day.isoformat() if day else None
    if kind == CustomField.FieldType.USER:
        user = user_resolve(value)
        if user is None:
            raise ValueError("Specify a valid user for this field.")
        return profile_for(user).account_id
    if kind == CustomField.FieldType.LABELS:
        return labels_clean(value)
    raise ValueError("This field cannot be set.")


def option_id_base(cf: CustomField) -> int:
    return 10000 + cf.pk * 100


def field_options(cf: CustomField) -> list[dict[str, str]]:
    return [{"id": str(option_id_base(cf) + i), "value": option} for i, option in enumerate(cf.options)]


def profile_for(user: User) -> Profile:
    """The user's Profile, created on first use (users made by createsuperuser or the admin get one too)."""
    try:
        return user.jira_profile
    except Profile.DoesNotExist:
        from jira.services import profile_ensure

        return profile_ensure(user=user)
