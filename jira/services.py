"""Every change to the site's issues happens here: pages, the REST API and issue sync call these.

Each function validates first (raising FieldErrors with Jira's error shape and changing nothing),
writes in one transaction, and after commit sends `issue_changed` once, with the change's origin.

Permissions (the site's simple model): any active user may browse, create, edit, transition and
comment; only site administrators (staff) delete issues; a comment is edited or deleted by its
author or an administrator. A change with no actor (issue sync acting for the site) is allowed.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from issuesync.prepared import Param, Prepared
from jira import fields as jf
from jira.adf import adf_to_text
from jira.fields import FieldErrors
from jira.models import (
    ApiToken,
    Changelog,
    Comment,
    CustomField,
    Issue,
    IssueCounter,
    IssueType,
    Priority,
    Profile,
    Project,
    RemoteLink,
    Status,
    StatusCategory,
    Transition,
    Workflow,
)
from jira.signals import IssueChange, IssueEvent, Origin, issue_changed

logger = logging.getLogger(__name__)

# The default workflow every project gets: statuses, where issues start, and the named steps.
DEFAULT_STATUSES = [("To Do", StatusCategory.TO_DO), ("In Progress", StatusCategory.IN_PROGRESS),
                    ("In Review", StatusCategory.IN_PROGRESS), ("Done", StatusCategory.DONE)]
DEFAULT_TRANSITIONS = [  # (name, from, to); from None = from any status
    ("Start progress", "To Do", "In Progress"),
    ("Stop progress", "In Progress", "To Do"),
    ("Request review", "In Progress", "In Review"),
    ("Back to progress", "In Review", "In Progress"),
    ("Done", "In Review", "Done"),
    ("Resolve", "In Progress", "Done"),
    ("Reopen", "Done", "To Do"),
]
DEFAULT_PRIORITIES = [("Highest", "#FF5630"), ("High", "#FF7452"), ("Medium", "#FFAB00"), ("Low", "#2684FF"),
                      ("Lowest", "#0065FF")]
DEFAULT_PRIORITY = "Medium"
TOKEN_BYTES = 24


# --- People and tokens ------------------------------------------------------------------------


def account_id_for(username: str) -> str:
    """A stable, opaque accountId (Jira Cloud's shape), different on every site."""
    return "712020:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.SITE_ADDRESS}/{username}"))


def profile_ensure(*, user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(
        user=user, defaults={"account_id": account_id_for(user.username),
                             "display_name": user.get_full_name() or user.username})
    return profile


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user: User, label: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the token itself is returned once and never stored."""
    label = label.strip()[:100] or "API token"
    token = "ISP" + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken.objects.create(user=user, label=label, digest=api_token_digest(token), prefix=token[:7])
    return row, token


def api_token_revoke(*, user: User, token_id: int) -> bool:
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


# --- Workflow and reference data --------------------------------------------------------------


def priorities_ensure() -> None:
    for position, (name, colour) in enumerate(DEFAULT_PRIORITIES, start=1):
        Priority.objects.get_or_create(name=name, defaults={"position": position, "colour": colour})


def statuses_ensure() -> dict[str, Status]:
    """The default statuses (a migration makes them), by name."""
    return {name: Status.objects.get_or_create(name=name, defaults={"category": cat})[0]
            for name, cat in DEFAULT_STATUSES}


def workflow_ensure(*, project: Project) -> Workflow:
    """The project's workflow, created as the default one when it has none."""
    existing = Workflow.objects.select_related("initial_status").filter(project=project).first()
    if existing:
        return existing
    statuses = statuses_ensure()
    with transaction.atomic():
        workflow, created = Workflow.objects.get_or_create(project=project,
                                                           defaults={"initial_status": statuses["To Do"]})
        if created:
            Transition.objects.bulk_create(
                Transition(project=project, name=name, from_status=statuses[src] if src else None,
                           to_status=statuses[dst]) for name, src, dst in DEFAULT_TRANSITIONS)
    return workflow


def transitions_available(issue: Issue) -> list[Transition]:
    """The transitions the issue's workflow allows from its current status (never to itself)."""
    rows = Transition.objects.select_related("to_status").filter(project_id=issue.project_id)
    return [t for t in rows if (t.from_status_id in (None, issue.status_id)) and t.to_status_id != issue.status_id]


# --- Changing issues --------------------------------------------------------------------------


def _check_actor(actor: User | None) -> None:
    if actor is not None and not actor.is_active:
        raise FieldErrors(messages=["You do not have permission to do this."], status=403)


def _emit(change: IssueChange) -> None:
    def send() -> None:
        for receiver, result in issue_changed.send_robust(sender=Issue, change=change):
            if isinstance(result, Exception):
                logger.error("issue_changed receiver %r failed", receiver, exc_info=result)

    transaction.on_commit(send)


def _display(user: User | None) -> str | None:
    if user is None:
        return None
    return jf.profile_for(user).display_name or user.username


def _account(user: User | None) -> str | None:
    return jf.profile_for(user).account_id if user is not None else None


def _item(field_id: str, name: str, old: tuple[str | None, str | None], new: tuple[str | None, str | None],
          *, custom: bool = False) -> dict[str, Any]:
    return {"field": name, "fieldtype": "custom" if custom else "jira", "fieldId": field_id,
            "from": old[0], "fromString": old[1], "to": new[0], "toString": new[1]}


def _collect(fields: dict[str, Any], update: dict[str, Any], current: Callable[[str], Any],
             errors: FieldErrors) -> dict[str, Any]:
    """The raw value of every field the caller sets, from `fields` (set) and `update` (operations)."""
    raw: dict[str, Any] = {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        errors.messages.append("The request body is not valid: 'fields' and 'update' must be objects.")
        return raw
    raw.update(fields)
    for field_id, operations in update.items():
        if field_id in fields:
            errors.errors[field_id] = f"Field '{field_id}' cannot be set in both 'fields' and 'update'."
            continue
        if not isinstance(operations, list):
            errors.errors[field_id] = "The update of a field is a list of operations."
            continue
        value = current(field_id)
        for operation in operations:
            if not isinstance(operation, dict) or len(operation) != 1:
                errors.errors[field_id] = "An operation is an object with one of set, add or remove."
                break
            (verb, operand), = operation.items()
            if verb == "set":
                value = operand
            elif verb in ("add", "remove") and isinstance(value, list | type(None)):
                items = list(value or [])
                if verb == "add" and operand not in items:
                    items.append(operand)
                elif verb == "remove":
                    items = [v for v in items if v != operand]
                value = items
            else:
                errors.errors[field_id] = f"Field '{field_id}' does not support the operation '{verb}'."
                break
        raw[field_id] = value
    return raw


def _memo(cache: dict[str, Any] | None, kind: str, value: Any, resolve: Callable[[Any], Any]) -> Any:
    """Resolve a reference once per call (a bulk create names the same project fifty times)."""
    if cache is None:
        return resolve(value)
    try:
        key = kind + ":" + json.dumps(value, sort_keys=True)
    except TypeError:  # a model instance: nothing to look up
        return resolve(value)
    if key not in cache:
        cache[key] = resolve(value)
    return cache[key]


def _clean(raw: dict[str, Any], *, plain_text: bool, cfs: Mapping[str, CustomField], creating: bool,
           errors: FieldErrors, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stored values for the raw ones; problems go into `errors` by field id, as Jira reports them."""
    out: dict[str, Any] = {}
    for field_id, value in raw.items():
        try:
            if field_id == "project":
                if not creating:
                    raise ValueError("The project of an issue is changed by moving it, not by an edit.")
                project = _memo(cache, "project", value, jf.project_resolve)
                if project is None:
                    raise ValueError("Specify a valid project ID or key")
                out["project"] = project
            elif field_id == "summary":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("You must specify a summary of the issue.")
                if len(value) > jf.SUMMARY_MAX or "\n" in value:
                    raise ValueError("Summary must be less than 255 characters and on one line.")
                out["summary"] = value.strip()
            elif field_id == "description":
                out["description"] = jf.description_clean(value, plain_text=plain_text)
            elif field_id == "issuetype":
                issue_type = _memo(cache, "issuetype", value, jf.issue_type_resolve)
                if issue_type is None:
                    raise ValueError("Specify a valid issue type")
                out["issuetype"] = issue_type
            elif field_id == "priority":
                priority = _memo(cache, "priority", value, jf.priority_resolve)
                if priority is None and value is not None:
                    raise ValueError("Specify the Priority (name or id) in the correct format")
                out["priority"] = priority
            elif field_id == "labels":
                out["labels"] = jf.labels_clean(value)
            elif field_id in ("assignee", "reporter"):
                user = _memo(cache, "user", value, jf.user_resolve) if value is not None else None
                if value is not None and (user is None or not user.is_active):
                    raise ValueError("Specify a valid value for " + field_id)
                out[field_id] = user
            elif field_id == "duedate":
                out["duedate"] = jf.date_clean(value)
            elif field_id in cfs:
                out[field_id] = jf.custom_value_clean(cfs[field_id], value)
            elif field_id == "status":
                raise ValueError("The status changes through a transition, not an edit.")
            else:
                raise ValueError(f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown.")
        except ValueError as e:
            errors.errors[field_id] = str(e)
    return out


def _assign(issue: Issue, values: dict[str, Any], cfs: Mapping[str, CustomField]) -> list[dict[str, Any]]:
    """Set the values on the issue; return the changelog items of those that differ."""
    items: list[dict[str, Any]] = []
    for field_id, new in values.items():
        if field_id == "summary" and new != issue.summary:
            items.append(_item("summary", "summary", (None, issue.summary), (None, new)))
            issue.summary = new
        elif field_id == "description" and new != issue.description:
            items.append(_item("description", "description", (None, adf_to_text(issue.description) or None),
                               (None, adf_to_text(new) or None)))
            issue.description = new
            issue.description_text = adf_to_text(new)  # bulk creation saves without `Issue.save`
        elif field_id == "issuetype" and new.pk != issue.issue_type_id:
            items.append(_item("issuetype", "issuetype", (str(issue.issue_type_id), issue.issue_type.name),
                               (str(new.pk), new.name)))
            issue.issue_type = new
        elif field_id == "priority" and (new.pk if new else None) != issue.priority_id:
            old = issue.priority
            items.append(_item("priority", "priority", (str(old.pk) if old else None, old.name if old else None),
                               (str(new.pk) if new else None, new.name if new else None)))
            issue.priority = new
        elif field_id == "labels" and new != issue.labels:
            items.append(_item("labels", "labels", (None, " ".join(issue.labels) or None),
                               (None, " ".join(new) or None)))
            issue.labels_text = f" {' '.join(new)} " if new else ""
        elif field_id in ("assignee", "reporter"):
            old_user = getattr(issue, field_id)
            if (new.pk if new else None) != (old_user.pk if old_user else None):
                items.append(_item(field_id, field_id, (_account(old_user), _display(old_user)),
                                   (_account(new), _display(new))))
                setattr(issue, field_id, new)
        elif field_id == "duedate" and new != issue.due_date:
            old_day = issue.due_date.isoformat() if issue.due_date else None
            new_day = new.isoformat() if new else None
            items.append(_item("duedate", "duedate", (old_day, old_day), (new_day, new_day)))
            issue.due_date = new
        elif field_id in cfs:
            old_value = issue.custom_fields.get(field_id)
            if old_value != new:
                items.append(_item(field_id, cfs[field_id].name, _cf_strings(old_value), _cf_strings(new), custom=True))
                if new is None:
                    issue.custom_fields.pop(field_id, None)
                else:
                    issue.custom_fields[field_id] = new
    return items


def _cf_strings(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    text = " ".join(value) if isinstance(value, list) else str(value)
    return None, text


def _next_numbers(project: Project, count: int) -> range:
    """Reserve `count` issue numbers in the project; the counter only grows, so keys are never reused."""
    counter = IssueCounter.objects.select_for_update().filter(project=project).first()
    if counter is None:  # the project's first issue (its counter is made once, by whichever comes first)
        IssueCounter.objects.get_or_create(project=project)
        counter = IssueCounter.objects.select_for_update().get(project=project)
    first = counter.last_number + 1
    counter.last_number += count
    counter.save(update_fields=["last_number"])
    return range(first, first + count)


def _new_issue(values: dict[str, Any], *, actor: User | None, workflow: Workflow, number: int,
               cfs: Mapping[str, CustomField], default_priority: Priority | None, now: datetime.datetime) -> Issue:
    project: Project = values["project"]
    issue = Issue(project=project, number=number, key=f"{project.key}-{number}", issue_type=values["issuetype"],
                  summary=values["summary"], status=workflow.initial_status, created=now, updated=now,
                  priority=default_priority, reporter=actor)
    _assign(issue, {k: v for k, v in values.items() if k not in ("project", "issuetype", "summary")}, cfs)
    return issue


def _create_values(fields: dict[str, Any], *, plain_text: bool, cfs: Mapping[str, CustomField],
                   cache: dict[str, Any] | None = None) -> dict[str, Any]:
    errors = FieldErrors()
    raw = _collect(fields, {}, lambda _: None, errors)
    values = _clean(raw, plain_text=plain_text, cfs=cfs, creating=True, errors=errors, cache=cache)
    for required, message in (("project", "Specify a valid project ID or key"),
                              ("issuetype", "Specify an issue type"),
                              ("summary", "You must specify a summary of the issue.")):
        if required not in values and required not in errors.errors:
            errors.errors[required] = message
    if errors:
        raise errors
    return values


def issue_create(*, actor: User | None, origin: Origin, fields: dict[str, Any], plain_text: bool = False) -> Issue:
    """Create an issue from Jira's `fields` (project, issuetype and summary required); raise FieldErrors."""
    _check_actor(actor)
    cfs = jf.custom_fields_by_id()
    values = _create_values(fields, plain_text=plain_text, cfs=cfs)
    workflow = workflow_ensure(project=values["project"])
    default_priority = Priority.objects.filter(name=DEFAULT_PRIORITY).first()
    with transaction.atomic():
        number = _next_numbers(values["project"], 1)[0]
        issue = _new_issue(values, actor=actor, workflow=workflow, number=number, cfs=cfs,
                           default_priority=default_priority, now=timezone.now())
        issue.save()
        _emit(IssueChange(IssueEvent.CREATED, issue, origin))
    return issue


def issues_create_bulk(*, actor: User | None, origin: Origin, updates: list[dict[str, Any]],
                       plain_text: bool = False) -> tuple[list[Issue], list[tuple[int, FieldErrors]]]:
    """Create many issues at once (`/issue/bulk`): the valid ones are created, each invalid one reported
    by its position. One signal per created issue, as if each were created alone."""
    _check_actor(actor)
    cfs = jf.custom_fields_by_id()
    valid: list[dict[str, Any]] = []
    failed: list[tuple[int, FieldErrors]] = []
    cache: dict[str, Any] = {}
    for position, update in enumerate(updates):
        try:
            if not isinstance(update, dict):
                raise FieldErrors(messages=["Each issue update must be an object with 'fields'."])
            valid.append(_create_values(update.get("fields") or {}, plain_text=plain_text, cfs=cfs, cache=cache))
        except FieldErrors as e:
            failed.append((position, e))
    default_priority = Priority.objects.filter(name=DEFAULT_PRIORITY).first()
    created: list[Issue] = []
    now = timezone.now()
    with transaction.atomic():
        by_project: dict[int, list[dict[str, Any]]] = {}
        for values in valid:
            by_project.setdefault(values["project"].pk, []).append(values)
        made: dict[int, Issue] = {}
        for group in by_project.values():
            workflow = workflow_ensure(project=group[0]["project"])
            numbers = _next_numbers(group[0]["project"], len(group))
            for values, number in zip(group, numbers, strict=True):
                made[id(values)] = _new_issue(values, actor=actor, workflow=workflow, number=number, cfs=cfs,
                                              default_priority=default_priority, now=now)
        created = [made[id(values)] for values in valid]
        Issue.objects.bulk_create(created, batch_size=500)
        for issue in created:
            _emit(IssueChange(IssueEvent.CREATED, issue, origin))
    return created, failed


def issues_locked() -> QuerySet[Issue]:
    """Issues read with what an edit reads, each row locked for the rest of the caller's transaction."""
    return (Issue.objects.select_for_update(of=("self",))
            .select_related("project", "issue_type", "status", "priority", "assignee", "reporter"))


# Every edit, push and apply reads its issue so: the statement is built once per process (issuesync.prepared).
_ISSUE_LOCKED = Prepared(lambda: issues_locked().order_by().filter(pk=Param("pk", Issue._meta.pk)))


def issue_locked_or_none(pk: int | str) -> Issue | None:
    """The issue's row as it is now, locked for the rest of the caller's transaction; None if it is gone."""
    found = _ISSUE_LOCKED.all(pk=pk)
    return found[0] if found else None


def issue_locked(issue: Issue | int) -> Issue:
    """The issue's row as it is now, locked for the rest of the caller's transaction."""
    found = issue_locked_or_none(issue if isinstance(issue, int) else issue.pk)
    if found is None:
        raise Issue.DoesNotExist("Issue matching query does not exist.")
    return found


def _changed(issue: Issue, items: list[dict[str, Any]], *, actor: User | None, origin: Origin,
             now: datetime.datetime) -> Changelog:
    issue.updated = now
    issue.version += 1  # the row is locked (`issue_locked`): no other writer between the read and this write
    issue.save()
    return Changelog.objects.create(issue=issue, author=actor, created=now, origin_kind=str(origin.kind),
                                    origin_ref=origin.ref, items=items)


def issue_update(*, actor: User | None, origin: Origin, issue: Issue | int, fields: dict[str, Any] | None = None,
                 update: dict[str, Any] | None = None, plain_text: bool = False,
                 expected_version: int | None = None, locked: bool = False) -> Issue:
    """Edit fields (`fields` sets, `update` adds/sets/removes); nothing changes when anything is wrong.

    An edit that changes nothing records nothing and sends no signal. `locked`: `issue` is the row as the
    caller's open transaction read it under its lock (`issue_locked`), and unchanged since: it is edited as
    it is, not read again (the caller must not use it again if this raises). Every check comes before the
    first write, so a locked edit needs no savepoint of its own: a refusal leaves the caller's transaction
    as it was (a partner's apply then tries the fields one by one).
    """
    _check_actor(actor)
    cfs = jf.custom_fields_by_id()
    if locked and isinstance(issue, Issue):
        if not transaction.get_connection().in_atomic_block:
            raise transaction.TransactionManagementError("a locked issue is edited in its caller's transaction")
        return _update(issue, actor=actor, origin=origin, fields=fields, update=update, plain_text=plain_text,
                       expected_version=expected_version, cfs=cfs)
    with transaction.atomic():
        return _update(issue_locked(issue), actor=actor, origin=origin, fields=fields, update=update,
                       plain_text=plain_text, expected_version=expected_version, cfs=cfs)


def _update(issue: Issue, *, actor: User | None, origin: Origin, fields: dict[str, Any] | None,
            update: dict[str, Any] | None, plain_text: bool, expected_version: int | None,
            cfs: Mapping[str, CustomField]) -> Issue:
    """`issue_update` of the row read under its lock, in the caller's transaction: checks, then writes."""
    if expected_version is not None and issue.version != expected_version:
        raise FieldErrors(messages=["The issue was changed by someone else: reload it and try again."], status=409)
    errors = FieldErrors()

    def current(field_id: str) -> Any:
        if field_id == "labels":
            return issue.labels
        return issue.custom_fields.get(field_id)

    raw = _collect(fields or {}, update or {}, current, errors)
    values = _clean(raw, plain_text=plain_text, cfs=cfs, creating=False, errors=errors)
    if errors:
        raise errors
    items = _assign(issue, values, cfs)
    if not items:
        return issue
    changelog = _changed(issue, items, actor=actor, origin=origin, now=timezone.now())
    _emit(IssueChange(IssueEvent.UPDATED, issue, origin, changelog=changelog))
    return issue


def issue_transition(*, actor: User | None, origin: Origin, issue: Issue | int, transition_id: int | str,
                     fields: dict[str, Any] | None = None, update: dict[str, Any] | None = None,
                     plain_text: bool = False) -> Issue:
    """Move the issue along one of its workflow's transitions (the only way its status changes)."""
    _check_actor(actor)
    cfs = jf.custom_fields_by_id()
    with transaction.atomic():
        issue = issue_locked(issue)
        transition = next((t for t in transitions_available(issue) if str(t.pk) == str(transition_id)), None)
        if transition is None:
            raise FieldErrors(messages=[f"Transition id '{transition_id}' is not valid for this issue."])
        errors = FieldErrors()
        raw = _collect(fields or {}, update or {}, lambda f: issue.labels if f == "labels" else None, errors)
        values = _clean(raw, plain_text=plain_text, cfs=cfs, creating=False, errors=errors)
        if errors:
            raise errors
        items = _assign(issue, values, cfs)
        old = issue.status
        items.insert(0, _item("status", "status", (str(old.pk), old.name),
                              (str(transition.to_status_id), transition.to_status.name)))
        issue.status = transition.to_status
        changelog = _changed(issue, items, actor=actor, origin=origin, now=timezone.now())
        _emit(IssueChange(IssueEvent.UPDATED, issue, origin, changelog=changelog))
    return issue


def issue_delete(*, actor: User | None, origin: Origin, issue: Issue | int) -> None:
    """Delete the issue with its comments, changelog and links; only administrators may."""
    _check_actor(actor)
    if actor is not None and not actor.is_staff:
        raise FieldErrors(messages=["You do not have permission to delete issues in this project."], status=403)
    with transaction.atomic():
        issue = issue_locked(issue)
        pk = issue.pk
        issue.delete()
        issue.pk = pk  # receivers still know which issue it was
        _emit(IssueChange(IssueEvent.DELETED, issue, origin))


# --- Comments ---------------------------------------------------------------------------------


def _comment_body(body: Any, plain_text: bool) -> dict[str, Any]:
    try:
        doc = jf.description_clean(body, plain_text=plain_text)
    except ValueError as e:
        raise FieldErrors(errors={"comment": str(e)}) from None
    if doc is None or not adf_to_text(doc).strip() and not doc.get("content"):
        raise FieldErrors(errors={"comment": "Comment body can not be empty!"})
    return doc


def _touch(issue: Issue, now: datetime.datetime) -> None:
    """A comment changed: the issue's `updated` and edit version move (its row is locked: `issue_locked`)."""
    issue.updated = now
    issue.version += 1
    Issue.objects.filter(pk=issue.pk).update(updated=now, version=issue.version)


def comment_add(*, actor: User | None, origin: Origin, issue: Issue | int, body: Any,
                plain_text: bool = False, savepoint: bool = True) -> Comment:
    """Add a comment. `savepoint=False`, for a caller already in a transaction that lets any error here
    end it (or its own savepoint): no savepoint of its own, two statements fewer."""
    _check_actor(actor)
    doc = _comment_body(body, plain_text)
    with transaction.atomic(savepoint=savepoint):
        issue = issue_locked(issue)
        now = timezone.now()
        comment = Comment.objects.create(issue=issue, author=actor, body=doc, created=now, updated=now)
        _touch(issue, now)
        _emit(IssueChange(IssueEvent.COMMENT_CREATED, issue, origin, comment=comment))
    return comment


def comments_add(*, actor: User | None, origin: Origin, issue: Issue | int, bodies: list[Any]) -> list[Comment]:
    """Add several comments to one issue, in order, under one lock and in one write: all of them, or none
    when any body is wrong (checked before anything is written). For a caller already in a transaction,
    like `comment_add(savepoint=False)`; each comment still sends its own `issue_changed` (a partner's
    copies, written by Issue Sync: the only caller)."""
    _check_actor(actor)
    docs = [_comment_body(body, False) for body in bodies]
    with transaction.atomic(savepoint=False):
        # Only the row is locked: a partner's copies announce the issue, and no receiver reads more of it
        # unless another synchronization takes them (which then reads what it needs).
        issue = Issue.objects.select_for_update().get(pk=issue if isinstance(issue, int) else issue.pk)
        now = timezone.now()
        comments = Comment.objects.bulk_create(
            [Comment(issue=issue, author=actor, body=doc, created=now, updated=now) for doc in docs])
        _touch(issue, now)
        for comment in comments:
            _emit(IssueChange(IssueEvent.COMMENT_CREATED, issue, origin, comment=comment))
    return comments


def _may_change_comment(actor: User | None, comment: Comment) -> None:
    _check_actor(actor)
    if actor is not None and not actor.is_staff and comment.author_id != actor.pk:
        raise FieldErrors(messages=["You do not have permission to edit or delete this comment."], status=403)


def comment_update(*, actor: User | None, origin: Origin, comment: Comment, body: Any,
                   plain_text: bool = False) -> Comment:
    _may_change_comment(actor, comment)
    doc = _comment_body(body, plain_text)
    with transaction.atomic():
        issue = issue_locked(comment.issue_id)
        comment = Comment.objects.select_for_update().get(pk=comment.pk)
        if doc == comment.body:
            return comment
        now = timezone.now()
        comment.body = doc
        comment.updated = now
        comment.save(update_fields=["body", "updated"])
        _touch(issue, now)
        _emit(IssueChange(IssueEvent.COMMENT_UPDATED, issue, origin, comment=comment))
    return comment


def comment_delete(*, actor: User | None, origin: Origin, comment: Comment) -> None:
    _may_change_comment(actor, comment)
    with transaction.atomic():
        issue = issue_locked(comment.issue_id)
        pk = comment.pk
        comment.delete()
        comment.pk = pk
        _touch(issue, timezone.now())
        _emit(IssueChange(IssueEvent.COMMENT_DELETED, issue, origin, comment=comment))


# --- Remote links -----------------------------------------------------------------------------


def remote_link_upsert(*, actor: User | None, origin: Origin, issue: Issue | int, url: str, title: str,
                       global_id: str = "", summary: str = "", relationship: str = "",
                       application: dict[str, Any] | None = None,
                       status: dict[str, Any] | None = None, locked: bool = False) -> tuple[RemoteLink, bool]:
    """Create the link, or update the one with the same `globalId` on this issue; (link, created).

    `locked`: `issue` is the row as the caller's open transaction read it under its lock (`issue_locked`):
    it is not read again, and its `updated` is moved here as in the database, so the caller may go on with it.
    """
    _check_actor(actor)
    errors = FieldErrors()
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
        errors.errors["url"] = "'url' is required and must be an http(s) address."
    if not isinstance(title, str) or not title.strip() or len(title) > 255:
        errors.errors["title"] = "'title' is required (at most 255 characters)."
    if not isinstance(global_id, str) or len(global_id) > 255:
        errors.errors["globalId"] = "'globalId' must be a string of at most 255 characters."
    if errors:
        raise errors
    with transaction.atomic():
        if not locked:
            issue = issue_locked(issue)
        assert isinstance(issue, Issue), "a locked issue is given as its row"
        values = {"url": url, "title": title.strip(), "summary": summary or "", "relationship": relationship or "",
                  "application": application or {}, "status": status or {}}
        link = RemoteLink.objects.filter(issue=issue, global_id=global_id).first() if global_id else None
        created = link is None
        if link is None:
            link = RemoteLink.objects.create(issue=issue, global_id=global_id, **values)
        else:
            for attr, value in values.items():
                setattr(link, attr, value)
            link.save()
        # Not an edit of the issue: someone editing it with the version they read (the summary in
        # place, a PUT with expected_version) is not refused because Issue Sync linked it meanwhile.
        issue.updated = timezone.now()
        Issue.objects.filter(pk=issue.pk).update(updated=issue.updated)
        _emit(IssueChange(IssueEvent.REMOTE_LINK_SAVED, issue, origin, remote_link=link))
    return link, created


def statuses_by_name(names: Iterable[str]) -> dict[str, Status]:
    return {s.name.casefold(): s for s in Status.objects.filter(name__in=list(names))}


def issue_type_default() -> IssueType | None:
    return IssueType.objects.filter(subtask=False).order_by("hierarchy_level", "pk").first()
