"""Forms of the Synchronizations pages. They only shape input; the services decide what is valid."""
from __future__ import annotations

from django import forms

from invitations.directory import ADDRESS_HINT
from jira.models import IssueType, Project
from synchronizations.models import Scope, SynchronizationType


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


class SynchronizationCreateForm(ScopeForm):
    name = forms.CharField(label="Synchronization name", max_length=120, required=False)
    # Both types are offered as the product does; Data Center is shown disabled.
    sync_type = forms.ChoiceField(
        label="Synchronization type", choices=SynchronizationType.choices,
        initial=SynchronizationType.CLOUD_TO_CLOUD, widget=forms.RadioSelect,
    )
    partner_address = forms.CharField(
        label="Partner Jira URL", max_length=200, required=False, help_text=ADDRESS_HINT,
    )
    field_order = ["name", "sync_type", "partner_address", "scope_mode", "projects", "issue_types"]
