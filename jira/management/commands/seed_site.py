"""Seed this site's projects, issue types, users and signing key; safe to run again."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from jira.models import CustomField, IssueType, Project, SiteConfiguration
from jira.seed import DEFAULT_ISSUE_TYPES, DEFAULT_PROJECTS, SITE_CUSTOM_FIELDS, SITE_ISSUE_TYPES, SITE_PROJECTS
from jira.signals import site_seeded


class Command(BaseCommand):
    help = "Create the demo projects, issue types, admin/admin and member/member (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        name = settings.SITE_NAME
        for key, pname, ptype in SITE_PROJECTS.get(name, DEFAULT_PROJECTS):
            Project.objects.get_or_create(key=key, defaults={"name": pname, "project_type": ptype})
        for tname, subtask, level in SITE_ISSUE_TYPES.get(name, DEFAULT_ISSUE_TYPES):
            IssueType.objects.get_or_create(name=tname, defaults={"subtask": subtask, "hierarchy_level": level})
        for fname, ftype, choices in SITE_CUSTOM_FIELDS.get(name, []):
            CustomField.objects.get_or_create(name=fname, defaults={"field_type": ftype, "options": choices})
        SiteConfiguration.load()
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin", first_name="Site", last_name="Admin")
        if not User.objects.filter(username="member").exists():
            User.objects.create_user("member", "member@example.com", "member", first_name="Team", last_name="Member")
        said = [str(words) for _, words in site_seeded.send(sender=self.__class__) if words]
        self.stdout.write("; ".join([f"{settings.SITE_ADDRESS}: seeded", *said]))
