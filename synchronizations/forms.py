"""Forms of the Synchronizations pages. They shape input and find every mistake a person can fix at
once (a blank name, a malformed address, an empty selection); the services still decide what is
valid and check what needs the partner (reachable, app installed and active)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from invitations.directory import ADDRESS_HINT, InvalidAddress, SiteDirectory, normalize_address
from jira.models import IssueType, Project
from synchronizations.models import Scope, SynchronizationType
from synchronizations.services import scope_validate

EXAMPLE = "https://yourinstancename.atlassian.net"


class ScopeForm(forms.Form):
    scope_mode = forms.ChoiceField(
        label="Synchronization Scope", choices=Scope.Mode.choices, initial=Scope.Mode.SHOW_ALL,
        widget=forms.RadioSelect,
    )
    projects = forms.ModelMultipleChoiceField(
        label="Projects", queryset=Project.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    issue_types = forms.ModelMultipleChoiceField(
        label="Issue types", queryset=IssueType.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "scope_mode" in data:
            try:
                scope_validate(data["scope_mode"], data.get("projects") or [], data.get("issue_types") or [])
            except ValidationError as e:
                for field, errors in e.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        return data


def address_problem(value: str) -> str:
    """What is wrong with a typed partner address, in words a person can act on; "" when nothing is."""
    typed = value.strip()
    if not typed:
        return f"Enter your partner's Jira URL, like {EXAMPLE}."
    try:
        address = normalize_address(typed)
    except InvalidAddress:
        parts = urlsplit(typed if "://" in typed else "//" + typed)
        host = (parts.hostname or "").lower()
        if "://" not in typed:
            return f"Start the address with https://, like {EXAMPLE}."
        if parts.scheme.lower() != "https":
            return f"Use https://, not {parts.scheme}://: Jira Cloud sites are only reached over HTTPS."
        if not host.endswith(".atlassian.net"):
            return f"{host or 'This'} is not an atlassian.net address. Enter it like {EXAMPLE}."
        if parts.path.strip("/") or parts.query or parts.fragment:
            return f"Enter the site's address only, without a path: https://{host}."
        return ADDRESS_HINT
    if address == settings.SITE_ADDRESS:
        return "This is your own Jira site. Enter your partner's address."
    if address not in SiteDirectory.load():
        return f"{address} is not a Jira site we can reach. Check the name for typing mistakes."
    return ""


class SynchronizationCreateForm(ScopeForm):
    name = forms.CharField(label="Synchronization name", max_length=120, required=False)
    # Both types are offered as the product does; Data Center is shown disabled.
    sync_type = forms.ChoiceField(
        label="Synchronization type", choices=SynchronizationType.choices,
        initial=SynchronizationType.CLOUD_TO_CLOUD, widget=forms.RadioSelect,
        error_messages={"required": "Choose a synchronization type."},
    )
    partner_address = forms.CharField(
        label="Partner Jira URL", max_length=200, required=False, help_text=ADDRESS_HINT,
    )
    field_order = ["name", "sync_type", "partner_address", "scope_mode", "projects", "issue_types"]

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            raise ValidationError("Enter a name for the synchronization.")
        return name

    def clean_partner_address(self) -> str:
        value = self.cleaned_data.get("partner_address") or ""
        problem = address_problem(value)
        if problem:
            raise ValidationError(problem)
        return value.strip()
