"""Seed this site's projects, issue types, people, issues and signing key; safe to run again.

`--issues N --comments M` instead fills the site with N more issues (and M comments) for load tests,
deterministic from `--seed`, written with bulk inserts.
"""
from __future__ import annotations

import datetime
import random
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from jira import services
from jira.adf import adf_from_text
from jira.models import (
    Changelog,
    Comment,
    CustomField,
    Issue,
    IssueCounter,
    IssueType,
    Priority,
    Project,
    SiteConfiguration,
    Status,
    Transition,
)
from jira.seed import (
    COMMENTS,
    DEFAULT_ISSUE_TYPES,
    DEFAULT_PROJECTS,
    ISSUES_PER_PROJECT,
    LABELS,
    PROBLEMS,
    SITE_CUSTOM_FIELDS,
    SITE_ISSUE_TYPES,
    SITE_PEOPLE,
    SITE_PROJECTS,
    SUBJECTS,
)
from jira.signals import site_seeded

EPOCH = datetime.datetime(2026, 9, 1, 9, 0, tzinfo=datetime.UTC)  # seeded issues are dated from here on


class Command(BaseCommand):
    help = "Create the demo projects, issue types, people and issues; admin/admin and member/member (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issues", type=int, default=0, help="Add this many issues (load tests).")
        parser.add_argument("--comments", type=int, default=0, help="With --issues: add this many comments.")
        parser.add_argument("--seed", type=int, default=1, help="With --issues: the random seed.")

    @transaction.atomic  # one commit: on SQLite each commit waits for the disk
    def handle(self, *args: Any, **options: Any) -> None:
        name = settings.SITE_NAME
        for key, pname, ptype in SITE_PROJECTS.get(name, DEFAULT_PROJECTS):
            Project.objects.get_or_create(key=key, defaults={"name": pname, "project_type": ptype})
        for tname, subtask, level in SITE_ISSUE_TYPES.get(name, DEFAULT_ISSUE_TYPES):
            IssueType.objects.get_or_create(name=tname, defaults={"subtask": subtask, "hierarchy_level": level})
        for fname, ftype, choices in SITE_CUSTOM_FIELDS.get(name, []):
            CustomField.objects.get_or_create(name=fname, defaults={"field_type": ftype, "options": choices})
        SiteConfiguration.load()
        services.priorities_ensure()
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin", first_name="Site", last_name="Admin")
        if not User.objects.filter(username="member").exists():
            User.objects.create_user("member", "member@example.com", "member", first_name="Team", last_name="Member")
        for username, first, last in SITE_PEOPLE:
            if not User.objects.filter(username=username).exists():
                person = User(username=username, email=f"{username}@example.com", first_name=first, last_name=last)
                person.set_unusable_password()
                person.save()
        for project in Project.objects.all():
            services.workflow_ensure(project=project)
        if options["issues"]:
            made = self.fill(options["issues"], options["comments"], options["seed"])
            self.stdout.write(f"{settings.SITE_ADDRESS}: added {made} issues")
            return
        for project in Project.objects.all():
            if not IssueCounter.objects.filter(project=project).exists():
                self.demo_issues(project, random.Random(f"{name}:{project.key}"))
        said = [str(words) for _, words in site_seeded.send(sender=self.__class__) if words]
        self.stdout.write("; ".join([f"{settings.SITE_ADDRESS}: seeded", *said]))

    def people(self) -> list[Any]:
        return list(get_user_model().objects.filter(is_active=True).order_by("pk"))

    @transaction.atomic
    def demo_issues(self, project: Project, rng: random.Random) -> None:
        """A few dozen issues in several statuses, with comments and the history of how they got there."""
        people = self.people()
        types = list(IssueType.objects.filter(subtask=False))
        priorities = list(Priority.objects.all())
        steps = {t.name: t for t in Transition.objects.select_related("to_status").filter(project=project)}
        start = project.workflow.initial_status
        paths = [[], [], ["Start progress"], ["Start progress", "Request review"], ["Start progress", "Resolve"]]
        custom = list(CustomField.objects.all())
        issues: list[Issue] = []
        histories: list[tuple[int, list[Transition], datetime.datetime, Any]] = []
        counter, _ = IssueCounter.objects.get_or_create(project=project)
        for n in range(counter.last_number + 1, counter.last_number + ISSUES_PER_PROJECT + 1):
            created = EPOCH + datetime.timedelta(hours=rng.randint(0, 24 * 80), minutes=rng.randint(0, 59))
            path = [steps[s] for s in rng.choice(paths) if s in steps]
            reporter, assignee = rng.choice(people), rng.choice(people + [None])
            description = (f"Reported by {reporter.get_full_name()}.\n"
                           "Steps to reproduce are in the first comment.")
            issue = Issue(project=project, number=n, key=f"{project.key}-{n}", issue_type=rng.choice(types),
                          summary=f"{rng.choice(SUBJECTS)} {rng.choice(PROBLEMS)}",
                          description=adf_from_text(description), description_text=description,
                          status=path[-1].to_status if path else start, priority=rng.choice(priorities),
                          labels_text=_labels(rng.sample(LABELS, rng.randint(0, 2))), reporter=reporter,
                          assignee=assignee, created=created, updated=created + datetime.timedelta(days=len(path)),
                          version=1 + len(path), custom_fields=_custom_values(custom, rng))
            issues.append(issue)
            histories.append((n, path, created, assignee or reporter))
        counter.last_number += ISSUES_PER_PROJECT
        counter.save(update_fields=["last_number"])
        Issue.objects.bulk_create(issues)
        saved = {i.number: i for i in Issue.objects.filter(project=project, number__in=[i.number for i in issues])}
        comments, changelog = [], []
        for number, path, created, actor in histories:
            issue = saved[number]
            status = start
            for day, step in enumerate(path, start=1):
                changelog.append(Changelog(issue=issue, author=actor, created=created + datetime.timedelta(days=day),
                                           origin_kind="person", items=[{
                                               "field": "status", "fieldtype": "jira", "fieldId": "status",
                                               "from": str(status.pk), "fromString": status.name,
                                               "to": str(step.to_status_id), "toString": step.to_status.name}]))
                status = step.to_status
            for k in range(rng.randint(0, 3)):
                when = created + datetime.timedelta(hours=3 + 5 * k)
                comments.append(Comment(issue=issue, author=rng.choice(people), created=when, updated=when,
                                        body=adf_from_text(rng.choice(COMMENTS))))
        Changelog.objects.bulk_create(changelog)
        Comment.objects.bulk_create(comments)

    @transaction.atomic
    def fill(self, count: int, comment_count: int, seed: int) -> int:
        """Many issues fast, spread over the projects, all in the workflow's first status or later."""
        rng = random.Random(seed)
        people = self.people()
        projects = list(Project.objects.all())
        types = list(IssueType.objects.filter(subtask=False))
        priorities = list(Priority.objects.all())
        statuses = list(Status.objects.all())
        custom = list(CustomField.objects.all())
        per_project = {p.pk: 0 for p in projects}
        plan = [rng.choice(projects) for _ in range(count)]
        for project in plan:
            per_project[project.pk] += 1
        next_number = {}
        for project in projects:
            numbers = services._next_numbers(project, per_project[project.pk]) if per_project[project.pk] else range(0)
            next_number[project.pk] = iter(numbers)
        batch: list[Issue] = []
        made = 0
        for i, project in enumerate(plan):
            number = next(next_number[project.pk])
            created = EPOCH + datetime.timedelta(seconds=i * 37 + rng.randint(0, 30))
            batch.append(Issue(project=project, number=number, key=f"{project.key}-{number}",
                               issue_type=rng.choice(types), summary=f"{rng.choice(SUBJECTS)} {rng.choice(PROBLEMS)}",
                               description=adf_from_text(f"Load test issue {i}."),
                               description_text=f"Load test issue {i}.", status=rng.choice(statuses),
                               priority=rng.choice(priorities),
                               labels_text=_labels(rng.sample(LABELS, rng.randint(0, 2))),
                               reporter=rng.choice(people), assignee=rng.choice(people + [None]), created=created,
                               updated=created, custom_fields=_custom_values(custom, rng)))
            if len(batch) == 5000:
                Issue.objects.bulk_create(batch)
                made += len(batch)
                batch = []
        Issue.objects.bulk_create(batch)
        made += len(batch)
        if comment_count:
            ids = list(Issue.objects.order_by("-pk").values_list("pk", flat=True)[:count])
            rows = []
            for k in range(comment_count):
                when = EPOCH + datetime.timedelta(seconds=k * 53)
                rows.append(Comment(issue_id=rng.choice(ids), author=rng.choice(people),
                                    body=adf_from_text(rng.choice(COMMENTS)), created=when, updated=when))
                if len(rows) == 5000:
                    Comment.objects.bulk_create(rows)
                    rows = []
            Comment.objects.bulk_create(rows)
        return made


def _labels(labels: list[str]) -> str:
    return f" {' '.join(labels)} " if labels else ""


def _custom_values(custom: list[CustomField], rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for cf in custom:
        if rng.random() < 0.5:
            continue
        if cf.field_type == CustomField.FieldType.SELECT and cf.options:
            values[cf.field_id] = rng.choice(cf.options)
        elif cf.field_type == CustomField.FieldType.NUMBER:
            values[cf.field_id] = float(rng.choice([1, 2, 3, 5, 8, 13]))
        elif cf.field_type == CustomField.FieldType.TEXT:
            values[cf.field_id] = rng.choice(["ACME Corp", "Globex", "Initech", "Umbrella"])
        elif cf.field_type == CustomField.FieldType.DATE:
            values[cf.field_id] = (EPOCH.date() + datetime.timedelta(days=rng.randint(30, 120))).isoformat()
    return values
