"""A small site: two projects, issue types, custom fields, and admin / member / outsider users."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from jira import services
from jira.models import CustomField, IssueType, Project


@dataclass
class Site:
    admin: User
    member: User
    other: User
    alpha: Project
    web: Project
    bug: IssueType
    task: IssueType
    severity: CustomField
    customer: CustomField
    points: CustomField
    golive: CustomField


@pytest.fixture
def site(db: None) -> Site:
    admin = User.objects.create_superuser("admin", "admin@example.com", "admin", first_name="Site", last_name="Admin")
    member = User.objects.create_user("member", "member@example.com", "member", first_name="Team",
                                      last_name="Member")
    other = User.objects.create_user("grace", "grace@example.com", "grace", first_name="Grace", last_name="Hopper")
    # A migration made the priorities and statuses, but a test that flushed the database (one of
    # transaction=True, run before on the same database) took them.
    services.priorities_ensure()
    services.statuses_ensure()
    return Site(
        admin=admin, member=member, other=other,
        alpha=Project.objects.create(key="ALPHA", name="Alpha Platform"),
        web=Project.objects.create(key="WEB", name="Website"),
        bug=IssueType.objects.create(name="Bug"), task=IssueType.objects.create(name="Task"),
        severity=CustomField.objects.create(name="Severity", field_type="select", options=["Critical", "Major"]),
        customer=CustomField.objects.create(name="Customer", field_type="text"),
        points=CustomField.objects.create(name="Story points", field_type="number"),
        golive=CustomField.objects.create(name="Go-live", field_type="date"),
    )
