"""seed_site: the demo data and users, safe to run again."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import Client

from invitations.models import SiteKey
from jira.models import CustomField, IssueType, Project, SiteConfiguration

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count()
            for m in (Project, IssueType, CustomField, SiteConfiguration, SiteKey, get_user_model())}


def test_it_is_idempotent() -> None:
    call_command("seed_site", stdout=None)
    first = _counts()
    assert first["Project"] > 0 and first["IssueType"] > 0 and first["User"] == 7 and first["SiteKey"] == 1
    call_command("seed_site")
    assert _counts() == first


def test_it_keeps_what_an_admin_changed() -> None:
    call_command("seed_site")
    Project.objects.filter(key="ALPHA").update(name="Renamed in the admin")
    call_command("seed_site")
    assert Project.objects.get(key="ALPHA").name == "Renamed in the admin"


def test_the_sites_seed_different_data(settings: object) -> None:
    call_command("seed_site")
    alpha = set(Project.objects.values_list("key", flat=True))
    alpha_types = set(IssueType.objects.values_list("name", flat=True))
    assert {"Epic", "Story", "Task", "Bug", "Sub-task"} <= alpha_types
    Project.objects.all().delete()
    IssueType.objects.all().delete()
    settings.SITE_NAME = "beta"  # type: ignore[attr-defined]
    call_command("seed_site")
    assert set(Project.objects.values_list("key", flat=True)).isdisjoint(alpha)
    assert set(IssueType.objects.values_list("name", flat=True)) != alpha_types


def test_admin_is_a_site_administrator_and_member_is_not() -> None:
    call_command("seed_site")
    admin = authenticate(username="admin", password="admin")
    member = authenticate(username="member", password="member")
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert member is not None and not member.is_staff and not member.is_superuser
    assert authenticate(username="member", password="admin") is None


def test_only_the_administrator_may_use_the_synchronizations_api(client: Client) -> None:
    call_command("seed_site")
    assert client.get("/api/synchronizations/").status_code in (401, 403)
    assert client.login(username="member", password="member")
    assert client.get("/api/synchronizations/").status_code == 403
    assert client.login(username="admin", password="admin")
    assert client.get("/api/synchronizations/").status_code == 200


def test_anonymous_visitors_get_a_login_page_with_labelled_fields(client: Client) -> None:
    r = client.get("/", follow=True)
    assert r.redirect_chain and "login/" in r.redirect_chain[-1][0]
    for page in (r, client.get("/login/")):
        html = page.content.decode()
        assert re.search(r'<label for="id_username"[^>]*>Username', html)
        assert re.search(r'<label for="id_password"[^>]*>Password', html)


def _issues() -> list[tuple[str, str, str]]:
    from jira.models import Issue

    return list(Issue.objects.order_by("key").values_list("key", "summary", "status__name"))


def test_each_project_gets_a_few_dozen_issues_with_comments_in_several_statuses() -> None:
    from jira.models import Comment, Issue

    call_command("seed_site")
    for project in Project.objects.all():
        assert 20 <= Issue.objects.filter(project=project).count() <= 60
    assert len({status for _, _, status in _issues()}) >= 3
    assert Comment.objects.count() > Issue.objects.count() // 2
    before = _issues()
    call_command("seed_site")
    assert _issues() == before  # idempotent


def test_the_demo_issues_are_deterministic_and_differ_between_sites(settings: object) -> None:
    from jira.models import Issue

    call_command("seed_site")
    first = _issues()
    Issue.objects.all().delete()
    from jira.models import IssueCounter

    IssueCounter.objects.all().delete()
    call_command("seed_site")
    assert _issues() == first
    settings.SITE_NAME = "beta"  # type: ignore[attr-defined]
    Project.objects.all().delete()
    call_command("seed_site")
    assert {summary for _, summary, _ in _issues()} != {summary for _, summary, _ in first}


def test_it_fills_a_site_for_load_tests() -> None:
    from jira.models import Comment, Issue

    call_command("seed_site")
    seeded = Issue.objects.count()
    call_command("seed_site", issues=1200, comments=300, seed=7)
    assert Issue.objects.count() == seeded + 1200 and Comment.objects.filter(body__isnull=False).count() >= 300
    keys = set(Issue.objects.values_list("key", flat=True))
    assert len(keys) == seeded + 1200  # numbering continues per project, no key twice
