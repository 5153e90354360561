"""Issue sync's actions: send an issue's changes, apply the partner's, and the admin's fixes.

Sending is state based: a link remembers the last synchronized value of every mapped field,
so what travels is exactly what differs from it now. A lost or repeated trigger (a signal, a
"Sync now", a resume) sends each change once; a change applied from the partner already equals
the remembered value, so it is never sent back (no echo, no loop).

Receiving is an upsert keyed by the origin issue under the synchronization's lock (held by the
inbox), so a create delivered twice or racing an update makes exactly one copy. Every field
carries a clock and the larger clock wins (replication.merge), so both sites converge.
"""
from __future__ import annotations

import datetime
import logging
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from invitations.models import OutboxMessage
from issuesync.prepared import Param, Prepared
from jira import services as jira
from jira.adf import adf_from_text
from jira.fields import FieldErrors
from jira.models import Changelog, Comment, Issue, Project, SiteConfiguration, Transition
from jira.signals import Origin, OriginKind
from mappings.filters import FilterError, filter_compile
from mappings.models import Direction, Mapping, sides
from replication import values, wire
from replication.merge import CLOCK_FORMAT, as_clock, clock_at, merge_states, wins
from replication.models import ChangesSwept, CommentLink, IssueLink, LinkState, SyncControl
from synchronizations.models import Role, Scope, Synchronization
from synchronizations.services import synchronization_locked
from synchronizations.states import InvitationStatus

log = logging.getLogger(__name__)

APP_USERNAME = "issue-sync"
APP_DISPLAY_NAME = "Issue Sync"
LINK_GLOBAL_ID = "issuesync:{sync_id}"
MAX_STATUS_STEPS = 6
CREATE_WAITING = "__create__"  # in IssueLink.pending: a partner's create that could not be applied yet


# --- The app's account and small helpers -----------------------------------------------------------


_APP_USER = Prepared(lambda: User.objects.filter(username=APP_USERNAME))  # read by every partner's request


def app_user() -> User:
    """The account issue sync writes with (as the app's user in Jira Cloud)."""
    user: User | None = memoized(("app_user",), lambda: _APP_USER.first())
    if user is None:  # (not remembered: a savepoint rolled back may take the new row with it)
        user, _ = User.objects.get_or_create(
            username=APP_USERNAME, defaults={"first_name": APP_DISPLAY_NAME, "email": "", "is_active": True})
        user.set_unusable_password()
        user.save(update_fields=["password"])
        profile = jira.profile_ensure(user=user)
        profile.display_name = APP_DISPLAY_NAME
        profile.save(update_fields=["display_name"])
    return user


def _origin(sync: Synchronization, actor: User | None = None) -> Origin:
    """A change applied from the synchronization's partner, written by the app's account (`actor`, if read)."""
    return Origin.partner_link(str(sync.id), user_id=(actor or app_user()).pk)


def issue_url(key: str, site: str | None = None) -> str:
    return f"{site or settings.SITE_ADDRESS}/browse/{key}"


def is_paused(sync: Synchronization, mapping: Mapping | None = None) -> bool:
    """Whether the synchronization is paused; as read with `mapping` when it was read by `_mappings` (no query)."""
    read_with = getattr(mapping, "sync_paused", None)
    if read_with is not None:
        return bool(read_with)
    return bool(memoized(("paused", sync.pk),
                         lambda: SyncControl.objects.filter(synchronization=sync, paused=True).exists()))


def _mappings(sync: Synchronization | Param) -> QuerySet[Mapping]:
    """The synchronization's mappings, each read with whether the synchronization is paused (`is_paused`):
    every push and apply that finds its mapping then asks that, and needs no query of its own for it."""
    return Mapping.objects.filter(synchronization=sync).annotate(sync_paused=Exists(
        SyncControl.objects.filter(synchronization_id=OuterRef("synchronization_id"), paused=True)))


# The statements every push and apply sends, built once per process (issuesync.prepared).
_SYNC = Param("sync", Mapping._meta.get_field("synchronization"))
_MAPPINGS_ENABLED = Prepared(lambda: _mappings(_SYNC).filter(enabled=True, deleted_at__isnull=True))
_MAPPING_NAMED = Prepared(lambda: _mappings(_SYNC).filter(pk=Param("mapping", Mapping._meta.pk)))
_LINK_OF_LOCAL = Prepared(lambda: IssueLink.objects.select_for_update().filter(
    synchronization=_SYNC, local_issue_id=Param("issue", IssueLink._meta.get_field("local_issue_id"))))
_LINK_OF_ORIGIN = Prepared(lambda: IssueLink.objects.select_for_update().filter(
    synchronization=_SYNC, origin_site=Param("site", IssueLink._meta.get_field("origin_site")),
    origin_issue_id=Param("issue", IssueLink._meta.get_field("origin_issue_id"))))


def _mapping_named(sync: Synchronization, mapping_id: Any) -> Mapping | None:
    """The synchronization's mapping a partner's message names (deleted or disabled ones included)."""
    found: Mapping | None = memoized(("mapping", sync.pk, str(mapping_id)),
                                     lambda: _MAPPING_NAMED.first(sync=sync.pk, mapping=mapping_id))
    return found


def _link_of_origin(sync: Synchronization, payload: dict[str, Any]) -> IssueLink | None:
    """The link of the issue a partner's message is about, locked."""
    return _LINK_OF_ORIGIN.first(sync=sync.pk, site=payload["origin_site"], issue=payload["origin_issue_id"])


def _goes(direction: str, role: str, *, outgoing: bool) -> bool:
    """Whether a mapping direction (canonical) lets values leave (outgoing) or enter this site."""
    if direction == Direction.BOTH:
        return True
    inviter_sends = direction == Direction.INVITER_TO_INVITEE
    this_sends = inviter_sends == (role == Role.INVITER)
    return this_sends if outgoing else not this_sends


def outgoing_pairs(mapping: Mapping, role: str) -> list[tuple[str, str]]:
    """(local field, partner field) of every pair whose direction sends from this site."""
    me, partner = sides(role)
    return [(p[me], p[partner]) for p in mapping.field_pairs if _goes(p["direction"], role, outgoing=True)]


def incoming_pairs(mapping: Mapping, role: str) -> dict[str, str]:
    """partner field -> local field, of every pair whose direction brings values to this site."""
    me, partner = sides(role)
    return {p[partner]: p[me] for p in mapping.field_pairs if _goes(p["direction"], role, outgoing=False)}


def comments_flow(mapping: Mapping, role: str, *, outgoing: bool) -> bool:
    return mapping.comments != "off" and _goes(mapping.comments, role, outgoing=outgoing)


def _facts(issue: Issue) -> dict[str, Any]:
    return {"issuetype": issue.issue_type.name, "labels": issue.labels, "status": issue.status.name,
            "priority": issue.priority.name if issue.priority else None}


_MEMO: ContextVar[dict[Any, Any] | None] = ContextVar("replication_decisions", default=None)


@contextmanager
def decisions_memoized() -> Iterator[None]:
    """Inside the block, what a synchronization's issues are decided by is read once: its mappings, what
    its scope shows, whether it is paused, the app's account.

    For a run's chunk, and for the inbox's consecutive issue messages (the kinds' `batch`): each holds
    the synchronization's link (in share mode at least), so neither its mappings (changed by the inbox,
    under the link's lock) nor its scope nor its pause (changed under the link's lock) change meanwhile.
    """
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memoized(key: Any, compute: Callable[[], Any]) -> Any:
    """`compute()`, once per `decisions_memoized` block for `key` (every time outside one)."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _issue_in_own_scope(sync: Synchronization, issue: Issue) -> bool:
    """Whether this site's scope shows the issue's project and type: a scope that shows all shows every
    existing issue's, and nothing needs reading (the synchronizations' usual scope, on every push and apply)."""
    return sync.scope.mode == Scope.Mode.SHOW_ALL or _in_own_scope(sync, issue.project, issue.issue_type.name)


def _in_own_scope(sync: Synchronization, project: Project, issue_type_name: str) -> bool:
    scope = sync.scope
    return bool(memoized(("scope", sync.pk, project.pk, issue_type_name), lambda: (  # one query for both
        scope.visible_projects().filter(pk=project.pk)
        .filter(Exists(scope.visible_issue_types().filter(name=issue_type_name))).exists())))


def _in_partner_scope(sync: Synchronization, project_key: str, issue_type_name: str) -> bool:
    theirs = sync.partner_visible or {}
    return (any(p.get("key") == project_key for p in theirs.get("projects", []))
            and any(t.get("name") == issue_type_name for t in theirs.get("issue_types", [])))


def mapping_for(sync: Synchronization, issue: Issue) -> Mapping | None:
    """The enabled mapping this issue matches on this site (project, type, filter, both scopes), if any."""
    if sync.status != InvitationStatus.ACTIVE:
        return None
    me, partner = sides(sync.role)
    mappings = memoized(("mappings", sync.pk), lambda: list(
        _MAPPINGS_ENABLED.all(sync=sync.pk)))
    for mapping in mappings:
        if getattr(mapping, f"{me}_project") != issue.project.key:
            continue
        partner_type = next((p[partner] for p in mapping.issue_types if p[me] == issue.issue_type.name), None)
        if partner_type is None:
            continue
        try:
            if not filter_compile(mapping.filter)(_facts(issue)):
                continue
        except FilterError:
            continue
        if not _issue_in_own_scope(sync, issue):
            continue
        if not _in_partner_scope(sync, getattr(mapping, f"{partner}_project"), partner_type):
            continue
        return mapping
    return None


def _clock_after(moment: datetime.datetime, floor: Any) -> list[str]:
    """This site's clock for a change at `moment`, never at or below `floor` (the value it replaces).

    A local edit always supersedes the value it was made on, even when this site's clock is
    behind the partner's: that is what keeps last-writer-wins convergent under clock skew.
    """
    clock = clock_at(moment, settings.SITE_ADDRESS)
    held = as_clock(floor)
    if held is not None and not wins(clock, held):
        after = datetime.datetime.strptime(held[0], CLOCK_FORMAT).replace(tzinfo=datetime.UTC)
        clock = clock_at(after + datetime.timedelta(microseconds=1), settings.SITE_ADDRESS)
    return clock


def _changes(issue: Any, sync_ref: Any) -> QuerySet[Changelog]:
    """The issue's changelog, newest first, without the changes this synchronization's partner made."""
    return (Changelog.objects.filter(issue=issue).exclude(origin_kind="partner", origin_ref=sync_ref)
            .order_by("-created", "-pk"))


class _ChangeTimes:
    """When each field last changed on this site other than from this synchronization's partner.

    Read from the issue's newest changelog rows on, a few at a time and only as far as a field asked for
    needs (nearly always the newest row: the edit being sent), never more than the newest 200 rows.
    `newest`: the change being sent, as its service wrote it; while it is still the issue's latest (the
    issue's `updated` is its time), its fields need no read.
    """

    PAGES = (8, 200)  # rows read in all after each read

    def __init__(self, issue: Issue, sync: Synchronization, newest: Changelog | None = None) -> None:
        self._issue, self._sync = issue, sync
        self._times: dict[str, datetime.datetime] = {}
        self._read = 0
        self._all_read = False
        if (newest is not None and newest.issue_id == issue.pk and newest.created == issue.updated
                and not (newest.origin_kind == "partner" and newest.origin_ref == str(sync.id))):
            for item in newest.items or []:
                self._times.setdefault(str(item.get("fieldId")), newest.created)

    def get(self, field: str, default: datetime.datetime) -> datetime.datetime:
        for upto in self.PAGES:
            if field in self._times or self._all_read:
                break
            if upto <= self._read:
                continue
            if not self._read:  # the first page, the read of every push: its statement built once
                newest = _CHANGES_NEWEST.all(issue=self._issue.pk, sync=str(self._sync.id))
                rows = [(c.created, c.items) for c in newest]
            else:
                rows = list(_changes(self._issue.pk, str(self._sync.id)).values_list("created", "items")
                            [self._read:upto])
            for created, items in rows:
                for item in items or []:
                    self._times.setdefault(str(item.get("fieldId")), created)
            self._all_read = len(rows) < upto - self._read
            self._read = upto
        return self._times.get(field, default)


_CHANGES_NEWEST = Prepared(lambda: _changes(Param("issue", Changelog._meta.get_field("issue")),
                                            Param("sync", Changelog._meta.get_field("origin_ref")))
                           .only("created", "items")[:_ChangeTimes.PAGES[0]])


def _dirty_clock(issue: Issue, field: str, held: dict[str, Any] | None, sync: Synchronization,
                 times: _ChangeTimes | None = None) -> list[str]:
    times = times if times is not None else _ChangeTimes(issue, sync)
    return _clock_after(times.get(field, issue.created), held.get("c") if held else None)


# --- Sending ------------------------------------------------------------------------------------


def _state_payload(link: IssueLink, issue: Issue | None, mapping_id: Any, fields: dict[str, Any],
                   *, deleted: bool = False) -> dict[str, Any]:
    key = issue.key if issue else link.local_key
    return {
        "origin_site": link.origin_site, "origin_issue_id": link.origin_issue_id, "mapping_id": str(mapping_id),
        "issue_id": link.local_issue_id, "key": key, "url": issue_url(key),
        "issue_type": issue.issue_type.name if issue else "", "values": fields, "source_deleted": deleted,
    }


def _error(link: IssueLink, message: str) -> None:
    link.state = LinkState.ERROR
    link.error = message[:2000]
    link.error_where = settings.SITE_ADDRESS
    link.error_at = timezone.now()
    link.attempts += 1


def issue_push(*, issue: Issue | int, synchronization: Synchronization, everything: bool = False,
               change: Changelog | None = None) -> str:
    """Send this issue's mapped changes to the partner of one synchronization, if it matches.

    Returns what happened: "sent", "unchanged", "not matching", "paused", "waiting" (behind an error).
    `everything`: send every mapped field again (its clock unchanged, so the partner only fills gaps).
    `change`: the change that asks for this push, when known (its fields' times are not read again).
    """
    issue_pk = issue if isinstance(issue, int) else issue.pk
    with transaction.atomic():
        # Pushes of different issues run side by side; two of one issue take turns on its rows: its link
        # first, as the inbox's apply does, then the issue (and its link again before making one: a push
        # that made it meanwhile went first).
        sync = synchronization_locked(synchronization.pk, shared=True)
        if sync is None:
            return "not matching"
        link = _LINK_OF_LOCAL.first(sync=sync.pk, issue=str(issue_pk))
        current = jira.issue_locked_or_none(issue_pk)
        if current is None:
            return "not matching"
        mapping = mapping_for(sync, current)
        if mapping is None or is_paused(sync, mapping):
            if link is not None and link.state != LinkState.PAUSED and link.state != LinkState.ERROR:
                link.state = LinkState.PAUSED
                link.save(update_fields=["state"])
            return "paused" if mapping is not None else "not matching"
        out = outgoing_pairs(mapping, sync.role)
        if link is None and out:
            link = _LINK_OF_LOCAL.first(sync=sync.pk, issue=str(issue_pk))
        created = link is None
        if link is None:
            if not out:
                return "not matching"
            link = IssueLink.objects.create(
                synchronization=sync, origin_site=settings.SITE_ADDRESS, origin_issue_id=str(issue_pk),
                mapping_id=mapping.pk, issue=current, local_issue_id=str(issue_pk), local_key=current.key)
        elif link.state == LinkState.ERROR and link.error_where == settings.SITE_ADDRESS and not link.pending:
            return "waiting"  # this issue's later changes wait behind its error, then go as the latest state
        link.local_key = current.key
        times: _ChangeTimes | None = None
        fields: dict[str, Any] = {}
        for local, _partner in out:
            value = values.read(current, local)
            held = link.fields.get(local)
            if held is not None and held.get("v") == value:
                if everything:
                    fields[local] = held
                continue
            times = times if times is not None else _ChangeTimes(current, sync, change)
            fields[local] = {"v": value, "c": _dirty_clock(current, local, held, sync, times)}
        was_paused = link.state == LinkState.PAUSED
        if not fields and not created and not everything:
            if was_paused or link.state == LinkState.PENDING and link.partner_issue_id:
                link.state = LinkState.IN_SYNC
            link.mapping_id = mapping.pk
            link.save()
            return "unchanged"
        problems = _fit(link, current, mapping.pk, fields)
        payload = _state_payload(link, current, mapping.pk, fields)
        wire.send(sync, wire.ISSUE_STATE, payload)
        link.fields = {**link.fields, **fields}
        link.mapping_id = mapping.pk
        if problems:
            _error(link, " ".join(problems))
        elif link.state != LinkState.ERROR:
            link.state = LinkState.PENDING
        link.save()
    return "sent"


def _fit(link: IssueLink, issue: Issue, mapping_id: Any, fields: dict[str, Any]) -> list[str]:
    """Drop the largest fields until the message fits the partner's inbox; say which were refused."""
    problems = []
    cap = wire.size_cap()
    while fields and wire.message_size(wire.ISSUE_STATE, _state_payload(link, issue, mapping_id, fields)) > cap:
        largest = max(fields, key=lambda f: len(str(fields[f].get("v"))))
        size = len(str(fields[largest].get("v")).encode())
        del fields[largest]
        problems.append(f"{largest} is too large to synchronize (about {size} bytes; one message holds at most "
                        f"{cap} bytes): shorten it, then Retry, or Skip.")
    return problems


def issue_deleted_push(*, issue_id: str, skip_sync: str = "") -> None:
    """The local issue is gone: tell each partner, whose copy then shows that its source is gone."""
    for link in IssueLink.objects.filter(local_issue_id=issue_id).select_related("synchronization"):
        if str(link.synchronization_id) == skip_sync:
            continue
        _deletion_send(link)


def _deletion_send(link: IssueLink) -> bool:
    """Tell the link's partner that the local issue is gone; the link is paused (and says so: sent)."""
    with transaction.atomic():
        sync = synchronization_locked(link.synchronization_id)
        if sync is None or sync.status != InvitationStatus.ACTIVE or not link.mapping_id:
            return False
        wire.send(sync, wire.ISSUE_STATE, _state_payload(link, None, link.mapping_id, {}, deleted=True))
        IssueLink.objects.filter(pk=link.pk).update(state=LinkState.PAUSED, issue=None)
    return True


def comment_push(*, comment: Comment, issue: Issue, deleted: bool, skip_sync: str = "") -> int:
    """Send one comment's latest body (or its deletion) along every link whose mapping syncs comments out."""
    sent = 0
    for link in IssueLink.objects.filter(local_issue_id=str(issue.pk)):
        if str(link.synchronization_id) == skip_sync:
            continue
        with transaction.atomic():
            sync = synchronization_locked(link.synchronization_id, shared=True)  # the issue's link row: one at a time
            if sync is None:
                continue
            link = IssueLink.objects.select_for_update().get(pk=link.pk)
            copy = CommentLink.objects.filter(link__issue_id=issue.pk, comment_id=comment.pk).exclude(
                origin_site=settings.SITE_ADDRESS).exists()
            if copy:
                continue  # a partner's comment shown here: its author edits it there
            mapping = mapping_for(sync, issue)
            if mapping is None or is_paused(sync, mapping) or not comments_flow(mapping, sync.role, outgoing=True):
                continue
            sent += comment_send(sync=sync, link=link, comment=comment, deleted=deleted)
    return sent


def _comment_item(comment: Comment, author: str, clock: list[str], *, deleted: bool = False) -> dict[str, Any]:
    """A local comment's state as the wire carries it (alone in `comment_state`, or in `comments_state`)."""
    return {"comment_site": settings.SITE_ADDRESS, "comment_id": str(comment.pk), "author": author,
            "body": None if deleted else comment.body, "clock": clock, "deleted": deleted}


def comment_send(*, sync: Synchronization, link: IssueLink, comment: Comment, deleted: bool = False) -> bool:
    """Write one comment's state on its issue's stream (the caller holds the locks and checked the mapping)."""
    cl, _ = CommentLink.objects.get_or_create(
        link=link, origin_site=settings.SITE_ADDRESS, origin_comment_id=str(comment.pk),
        defaults={"comment": None if deleted else comment})
    clock = _clock_after(timezone.now() if deleted else comment.updated, cl.clock or None)
    author = "" if comment.author is None else (jira._display(comment.author) or "")
    payload = {"origin_site": link.origin_site, "origin_issue_id": link.origin_issue_id,
               **_comment_item(comment, author, clock, deleted=deleted)}
    if wire.message_size(wire.COMMENT_STATE, payload) > wire.size_cap():
        _error(link, f"A comment ({comment.pk}) is too large to synchronize: shorten it, then Retry, or Skip.")
        link.save()
        return False
    wire.send(sync, wire.COMMENT_STATE, payload)
    cl.clock, cl.deleted = clock, deleted
    cl.save(update_fields=["clock", "deleted"])
    return True


def comments_send(*, sync: Synchronization, link: IssueLink, comments: list[Comment]) -> int:
    """Send several comments of one issue at once (a first synchronization), in order, in one write.

    They travel together (`comments_state`), as few messages as the size cap allows: the partner adds them
    under one lock of its copy. The caller holds the locks and checked the mapping. Returns how many went.
    """
    held = {cl.origin_comment_id: cl for cl in CommentLink.objects.filter(link=link, origin_site=settings.SITE_ADDRESS)}
    authors: dict[int, str] = {}
    head = {"origin_site": link.origin_site, "origin_issue_id": link.origin_issue_id}
    room = wire.size_cap() - wire.message_size(wire.COMMENTS_STATE, {**head, "comments": []})
    groups: list[list[dict[str, Any]]] = []
    used = 0
    new_links, changed = [], []
    for comment in comments:
        cl = held.get(str(comment.pk))
        clock = _clock_after(comment.updated, cl.clock if cl is not None and cl.clock else None)
        if comment.author_id is not None and comment.author_id not in authors:
            authors[comment.author_id] = jira._display(comment.author) or ""
        item = _comment_item(comment, authors.get(comment.author_id or 0, ""), clock)
        size = wire.item_size(item)
        if size > room:
            _error(link, f"A comment ({comment.pk}) is too large to synchronize: shorten it, then Retry, or Skip.")
            link.save()
            continue
        if not groups or used + size > room or len(groups[-1]) >= wire.MAX_COMMENTS_PER_MESSAGE:
            groups.append([])
            used = 0
        groups[-1].append(item)
        used += size
        if cl is None:
            new_links.append(CommentLink(link=link, origin_site=settings.SITE_ADDRESS,
                                         origin_comment_id=str(comment.pk), comment=comment, clock=clock))
        else:
            cl.clock, cl.deleted = clock, False
            changed.append(cl)
    if groups:
        wire.send_many(sync, link.origin_site, link.origin_issue_id,
                       [(wire.COMMENTS_STATE, {**head, "comments": group}) for group in groups])
    CommentLink.objects.bulk_create(new_links)
    CommentLink.objects.bulk_update(changed, ["clock", "deleted"])
    return sum(len(group) for group in groups)


_OTHER_ACTIVE = Prepared(lambda: Synchronization.objects.filter(status=InvitationStatus.ACTIVE)
                         .exclude(pk=Param("sync", Synchronization._meta.pk)).only("pk"))  # every partner's request


def others_active(sync_id: str) -> bool:
    """Whether the site has an active synchronization other than this one."""
    return _OTHER_ACTIVE.first(sync=sync_id) is not None


_ACTIVE = Prepared(lambda: Synchronization.objects.filter(status=InvitationStatus.ACTIVE))  # read on every change


def issue_changed_push(*, issue: Issue, skip_sync: str = "", change: Changelog | None = None) -> None:
    """After any change of a local issue (`change`, its changelog entry, if it has one): push it along every
    active synchronization but the one it came from."""
    for sync in _ACTIVE.all():
        if str(sync.pk) != skip_sync:
            issue_push(issue=issue.pk, synchronization=sync, change=change)


# --- Receiving ----------------------------------------------------------------------------------


def _status_path(issue: Issue, target: str) -> list[Transition] | None:
    """The shortest chain of the workflow's transitions from the issue's status to `target`."""
    rows = list(Transition.objects.select_related("to_status").filter(project_id=issue.project_id))
    start = issue.status_id
    queue: deque[tuple[int, list[Transition]]] = deque([(start, [])])
    seen = {start}
    while queue:
        status_id, path = queue.popleft()
        if len(path) >= MAX_STATUS_STEPS:
            continue
        for t in rows:
            if t.from_status_id not in (None, status_id) or t.to_status_id == status_id:
                continue
            if t.to_status.name.casefold() == target.casefold():
                return [*path, t]
            if t.to_status_id not in seen:
                seen.add(t.to_status_id)
                queue.append((t.to_status_id, [*path, t]))
    return None


def _apply_fields(sync: Synchronization, link: IssueLink, issue: Issue, mapping: Mapping,
                  incoming: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Apply the winning incoming field states to the local issue, read under its lock (`jira.issue_locked`);
    (errors, the failed states)."""
    pairs = incoming_pairs(mapping, sync.role)
    kinds = values.field_kinds()
    actor = app_user()
    origin = _origin(sync, actor)
    errors: list[str] = []
    failed: dict[str, Any] = {}
    chosen: dict[str, tuple[Any, dict[str, Any], str]] = {}  # local field: (value, state, partner field)
    times: _ChangeTimes | None = None
    for partner_field, state in incoming.items():
        local = pairs.get(partner_field)
        if local is None or not isinstance(state, dict):
            continue  # not mapped this way: never accepted
        held = link.fields.get(local)
        current = values.read(issue, local)
        if held is not None and held.get("v") != current:
            times = times if times is not None else _ChangeTimes(issue, sync)
            local_clock: Any = _dirty_clock(issue, local, held, sync, times)
        else:
            local_clock = held.get("c") if held else None
        won = wins(state.get("c"), local_clock)
        # The local change wins, and the partner now holds this older one: remembered as what it holds, so
        # the local value still goes to it, even once edited back to what was synchronized before (it would
        # equal the remembered value, and never be sent: the sites would differ).
        theirs = not won and held is not None and wins(state.get("c"), held.get("c"))
        if not won and not theirs:
            continue
        try:
            value = values.translate(mapping=mapping, role=sync.role, local_field=local, partner_field=partner_field,
                                     value=state.get("v"), local_kinds=kinds)
        except values.Untranslatable as e:
            if won:
                errors.append(str(e))
                failed[partner_field] = state
            continue
        if won:
            chosen[local] = (value, state, partner_field)
        else:
            link.fields[local] = {"v": value, "c": state.get("c")}
    edits = {f: values.jira_input(f, v) for f, (v, _s, _p) in chosen.items()
             if f != "status" and values.read(issue, f) != v}
    written: Issue | None = None  # the issue as the last write left it (its row read under that write's lock)
    if edits:
        try:
            written = jira.issue_update(actor=actor, origin=origin, issue=issue, fields=edits, locked=True)
        except FieldErrors:
            for field, value in edits.items():  # one by one: the good ones still apply
                try:
                    written = jira.issue_update(actor=actor, origin=origin, issue=issue.pk, fields={field: value})
                except FieldErrors as e:
                    errors.append(f"{field}: {e}")
                    failed[chosen[field][2]] = chosen[field][1]
                    del chosen[field]
    if "status" in chosen:
        target = str(chosen["status"][0])
        issue.refresh_from_db()
        if issue.status.name != target:
            path = _status_path(issue, target)
            if path is None:
                errors.append(f"Status: no transition of {issue.project.key}'s workflow leads from "
                              f"{issue.status.name} to {target}.")
                failed[chosen["status"][2]] = chosen["status"][1]
                del chosen["status"]
            else:
                for step in path:
                    written = jira.issue_transition(actor=actor, origin=origin, issue=issue.pk,
                                                    transition_id=step.pk)
    if written is not None:
        issue = written  # what was written, not a local edit committed since (that one is pushed on its own)
    for field, (_v, state, _p) in chosen.items():
        link.fields[field] = {"v": values.read(issue, field), "c": state.get("c")}
    return errors, failed


def _settle(link: IssueLink, errors: list[str], failed: dict[str, Any]) -> None:
    now = timezone.now()
    if errors:
        link.pending = merge_states(link.pending, failed)
        _error(link, " ".join(errors))
    else:
        link.state = LinkState.IN_SYNC
        link.error = ""
    link.last_synced_at = now


def _remote_link(sync: Synchronization, issue: Issue, sender: str, key: str, url: str, *, gone: bool = False,
                 locked: bool = False) -> None:
    """The issue's remote link to its partner issue (`locked`: `issue` is the row read under its lock here)."""
    title = f"{key} ({sender.removeprefix('https://')})" + (" – deleted there" if gone else "")
    jira.remote_link_upsert(
        actor=None, origin=_origin(sync), issue=issue, url=url, title=title[:255],
        global_id=LINK_GLOBAL_ID.format(sync_id=sync.pk), relationship="synchronized with",
        summary=("The source issue was deleted; this copy no longer syncs." if gone
                 else f"Synchronized by Issue Sync with {sender}"),
        application={"type": "com.issuesync", "name": APP_DISPLAY_NAME},
        status={"resolved": gone}, locked=locked)


def _link_mapping(sync: Synchronization, link: IssueLink) -> Mapping | None:
    if link.mapping_id is None:
        return None
    return _mapping_named(sync, link.mapping_id)


def _receivable(sync: Synchronization, mapping: Mapping | None) -> bool:
    return (mapping is not None and mapping.enabled and mapping.deleted_at is None
            and sync.status == InvitationStatus.ACTIVE)


def issue_state_apply(*, sync: Synchronization, sender: str, payload: dict[str, Any]) -> str:
    """Apply a partner's issue state; the inbox holds the synchronization's lock and transaction.

    Never refuses: what cannot apply becomes this issue's error, with the waiting values kept.
    """
    link = _link_of_origin(sync, payload)
    mapping = _mapping_named(sync, payload["mapping_id"])
    if link is None:
        if payload["origin_site"] != sender or payload["source_deleted"] or not _receivable(sync, mapping):
            log.info("issue state for %s@%s absorbed: nothing here to apply it to", payload["origin_issue_id"], sender)
            return "absorbed"
        assert mapping is not None
        return _copy_create(sync, sender, mapping, payload)
    changed_ids = (link.partner_issue_id, link.partner_key) != (payload["issue_id"], payload["key"])
    link.partner_issue_id, link.partner_key = payload["issue_id"], payload["key"]
    # Locked now, after its link (the order every writer of both takes): the fields' winners are decided on
    # the row the edit then writes, which is not read a second time.
    issue = jira.issue_locked_or_none(link.local_issue_id)
    if issue is None:
        waiting_create = link.pending.get(CREATE_WAITING)
        if waiting_create is not None:  # the copy could not be created yet: later values wait with it
            waiting_create["values"] = merge_states(waiting_create.get("values") or {}, payload.get("values") or {})
            link.pending = {CREATE_WAITING: waiting_create}
        link.save()
        return "absorbed" if waiting_create is None else "applied"  # else deleted here: the partner sees it
    if payload["source_deleted"]:
        link.partner_gone = True
        link.state = LinkState.PAUSED
        link.save()
        _remote_link(sync, issue, sender, payload["key"], payload["url"], gone=True, locked=True)
        return "applied"
    if changed_ids:
        _remote_link(sync, issue, sender, payload["key"], payload["url"], locked=True)  # moves `issue.updated`
    incoming = payload.get("values") or {}
    if not incoming:
        if link.state == LinkState.PENDING:
            link.state = LinkState.IN_SYNC
        link.last_synced_at = timezone.now()
        link.save()
        return "applied"
    if link.state == LinkState.ERROR or is_paused(sync, mapping) or not _receivable(sync, mapping) \
            or not _mapping_matches_here(sync, mapping, issue):
        # Waits behind the error (or the pause), merged by clock: the latest state applies on Retry/resume.
        link.pending = merge_states(link.pending, incoming)
        if link.state != LinkState.ERROR:
            link.state = LinkState.PAUSED
        link.save()
        return "applied"
    assert mapping is not None
    errors, failed = _apply_fields(sync, link, issue, mapping, incoming)
    _settle(link, errors, failed)
    link.save()
    return "applied"


def _mapping_matches_here(sync: Synchronization, mapping: Mapping | None, issue: Issue) -> bool:
    if mapping is None:
        return False
    me, _partner = sides(sync.role)
    return (getattr(mapping, f"{me}_project") == issue.project.key
            and _issue_in_own_scope(sync, issue))


def _copy_create(sync: Synchronization, sender: str, mapping: Mapping, payload: dict[str, Any]) -> str:
    me, partner = sides(sync.role)
    project = Project.objects.filter(key=getattr(mapping, f"{me}_project")).first()
    type_name = next((p[me] for p in mapping.issue_types if p[partner] == payload["issue_type"]), None)
    if project is None or type_name is None or not _in_own_scope(sync, project, type_name):
        log.warning("issue %s from %s is outside this site's mapping or scope: not copied", payload["key"], sender)
        return "absorbed"
    pairs = incoming_pairs(mapping, sync.role)
    summary_state = next((s for pf, s in payload["values"].items() if pairs.get(pf) == "summary"), None)
    summary = str(summary_state["v"]) if summary_state and summary_state.get("v") else payload["key"]
    actor = app_user()
    try:
        issue = jira.issue_create(actor=actor, origin=_origin(sync, actor), fields={
            "project": project, "issuetype": {"name": type_name}, "summary": summary[:255]})
    except FieldErrors as e:
        # No copy yet: the link holds the create (and later values merge into it) until Retry.
        waiting = IssueLink(
            synchronization=sync, origin_site=payload["origin_site"], origin_issue_id=payload["origin_issue_id"],
            mapping_id=mapping.pk, local_issue_id=f"-{payload['origin_issue_id']}"[:32],
            partner_issue_id=payload["issue_id"], partner_key=payload["key"], pending={CREATE_WAITING: payload})
        _error(waiting, f"The copy of {payload['key']} could not be created in {project.key}: {e}")
        waiting.save()
        return "applied"
    # The placeholder values of the new copy lose to every incoming value.
    link = IssueLink.objects.create(
        synchronization=sync, origin_site=payload["origin_site"], origin_issue_id=payload["origin_issue_id"],
        mapping_id=mapping.pk, issue=issue, local_issue_id=str(issue.pk), local_key=issue.key,
        partner_issue_id=payload["issue_id"], partner_key=payload["key"], state=LinkState.PENDING)
    # The row as this transaction inserted it, with what it was made of: its own until commit, not read again.
    errors, failed = _apply_fields(sync, link, issue, mapping, payload["values"])
    _settle(link, errors, failed)
    link.save()
    _remote_link(sync, issue, sender, payload["key"], payload["url"], locked=True)
    # Tell the origin which issue is its copy (no fields: nothing to apply, nothing sent back).
    wire.send(sync, wire.ISSUE_STATE, _state_payload(link, issue, mapping.pk, {}))
    log.info("created %s as the copy of %s from %s", issue.key, payload["key"], sender)
    return "applied"


def _comment_doc(body: dict[str, Any] | None, author: str, site: str) -> dict[str, Any]:
    head = adf_from_text(f"{author or 'Someone'} wrote on {site.removeprefix('https://')}:")["content"]
    content = list((body or {}).get("content") or [])
    return {"type": "doc", "version": 1, "content": head + content}


def comment_state_apply(*, sync: Synchronization, sender: str, payload: dict[str, Any]) -> str:
    """Add, edit or delete the copy of a partner's comment, keyed by its origin comment; never twice."""
    return _comments_apply(sync, sender, payload, [payload])


def comments_state_apply(*, sync: Synchronization, sender: str, payload: dict[str, Any]) -> str:
    """The same for several comments of one issue, in their order; the new ones are added in one write."""
    return _comments_apply(sync, sender, payload, payload["comments"])


def _comments_apply(sync: Synchronization, sender: str, payload: dict[str, Any], items: list[dict[str, Any]]) -> str:
    link = _link_of_origin(sync, payload)
    items = [item for item in items if item["comment_site"] == sender]  # only its own comments: never a third site's
    if link is None or link.issue_id is None or not items:
        return "absorbed"
    mapping = _link_mapping(sync, link)
    if not _receivable(sync, mapping) or not comments_flow(mapping, sync.role, outgoing=False):  # type: ignore[arg-type]
        return "absorbed"
    held = {cl.origin_comment_id: cl for cl in CommentLink.objects.select_for_update().filter(
        link=link, origin_site=sender, origin_comment_id__in={item["comment_id"] for item in items})}
    actor = app_user()
    origin = _origin(sync, actor)
    adding: dict[str, tuple[dict[str, Any], CommentLink]] = {}  # new copies, written together at the end
    applied = False
    for item in items:
        cl = held.get(item["comment_id"])
        if cl is not None and not wins(item["clock"], cl.clock or None):
            continue  # a repeat, or older than what is shown
        if cl is not None and cl.deleted and not item["deleted"]:
            continue  # an edit after the delete: stays deleted
        applied = True
        if cl is None:
            cl = held[item["comment_id"]] = CommentLink(link=link, origin_site=sender,
                                                        origin_comment_id=item["comment_id"])
        if item["deleted"]:
            adding.pop(item["comment_id"], None)
            if cl.comment_id is not None:
                comment = Comment.objects.filter(pk=cl.comment_id).first()
                if comment is not None:
                    jira.comment_delete(actor=None, origin=origin, comment=comment)
            cl.comment, cl.deleted, cl.clock = None, True, item["clock"]
            cl.save()
            continue
        doc = _comment_doc(item["body"], item["author"], sender)
        cl.clock = item["clock"]
        if cl.comment_id is None:
            adding[item["comment_id"]] = (doc, cl)
            continue
        try:
            jira.comment_update(actor=None, origin=origin, comment=Comment.objects.get(pk=cl.comment_id), body=doc)
        except (FieldErrors, Comment.DoesNotExist) as e:
            _error(link, f"A comment from {sender} could not be written: {e}")
            link.save()
            continue
        cl.save()
    if adding:
        _copies_add(link, link.issue_id, sender, actor, origin, list(adding.values()))
    return "applied" if applied else "absorbed"


def _copies_add(link: IssueLink, issue_id: int, sender: str, actor: User, origin: Origin,
                adding: list[tuple[dict[str, Any], CommentLink]]) -> None:
    """The new copies of a partner's comments, under one lock of the issue; each remembered in its CommentLink.

    Inside the inbox's savepoint for the message, which any error here rolls back to. A body the site
    refuses becomes the issue's error and the others are still added, one by one then.
    """
    try:
        comments: list[Comment | None] = list(jira.comments_add(
            actor=actor, origin=origin, issue=issue_id, bodies=[doc for doc, _ in adding]))
    except FieldErrors:
        comments = []
        for doc, _cl in adding:
            try:
                comments.append(jira.comment_add(actor=actor, origin=origin, issue=issue_id, body=doc,
                                                 savepoint=False))
            except FieldErrors as e:
                _error(link, f"A comment from {sender} could not be written: {e}")
                link.save()
                comments.append(None)
    new: list[CommentLink] = []
    known: list[CommentLink] = []
    for (_doc, cl), comment in zip(adding, comments, strict=True):
        if comment is None:
            continue
        cl.comment, cl.deleted = comment, False
        (known if cl.pk else new).append(cl)
    CommentLink.objects.bulk_create(new)
    CommentLink.objects.bulk_update(known, ["comment", "clock", "deleted"])


# --- The admin's fixes, pause and resume ---------------------------------------------------------


def link_retry(*, link: IssueLink) -> IssueLink:
    """Retry an issue in error: apply what waits for it here, then send its latest state."""
    with transaction.atomic():
        sync = synchronization_locked(link.synchronization_id)
        assert sync is not None
        link = IssueLink.objects.select_for_update().get(pk=link.pk)
        if CREATE_WAITING in link.pending:
            payload, attempts = link.pending[CREATE_WAITING], link.attempts
            link.delete()
            issue_state_apply(sync=sync, sender=sync.partner_address, payload=payload)
            again = IssueLink.objects.filter(synchronization=sync, origin_site=payload["origin_site"],
                                             origin_issue_id=payload["origin_issue_id"]).first()
            if again is not None and again.state == LinkState.ERROR:
                again.attempts += attempts
                again.save(update_fields=["attempts"])
            sync.save()
            return again or link
        issue = jira.issue_locked_or_none(link.local_issue_id)
        waiting, link.pending = link.pending, {}
        link.state, link.error = LinkState.PENDING, ""
        mapping = _link_mapping(sync, link)
        if issue is not None and waiting and _receivable(sync, mapping) and not is_paused(sync, mapping):
            assert mapping is not None
            errors, failed = _apply_fields(sync, link, issue, mapping, waiting)
            _settle(link, errors, failed)
        elif waiting:
            link.pending = waiting
            link.state = LinkState.PAUSED
        link.save()
    if link.state != LinkState.ERROR and issue is not None:
        issue_push(issue=issue.pk, synchronization=link.synchronization)
    return IssueLink.objects.get(pk=link.pk)


def link_skip(*, link: IssueLink) -> IssueLink:
    """Skip what failed: the waiting incoming values are dropped, and local values that could not be
    sent are taken as sent; the issue syncs its next changes normally."""
    with transaction.atomic():
        sync = synchronization_locked(link.synchronization_id)
        assert sync is not None
        link = IssueLink.objects.select_for_update().get(pk=link.pk)
        issue = Issue.objects.select_related("project", "issue_type", "status", "priority", "assignee",
                                             "reporter").filter(pk=link.local_issue_id).first()
        mapping = _link_mapping(sync, link)
        if issue is not None and mapping is not None and link.error_where == settings.SITE_ADDRESS and not link.pending:
            for local, _partner in outgoing_pairs(mapping, sync.role):
                held = link.fields.get(local)
                value = values.read(issue, local)
                if held is None or held.get("v") != value:
                    link.fields[local] = {"v": value, "c": _dirty_clock(issue, local, held, sync)}
        link.pending, link.error, link.state = {}, "", LinkState.IN_SYNC
        link.save()
    return link


def synchronization_pause(*, synchronization: Synchronization) -> None:
    with transaction.atomic():
        synchronization_locked(synchronization.pk)  # after what is applying or sending now, before the rest
        SyncControl.objects.update_or_create(synchronization=synchronization,
                                             defaults={"paused": True, "paused_at": timezone.now()})


def synchronization_resume(*, synchronization: Synchronization) -> int:
    """Resume: apply what waited, then send the changes of every matching issue changed since the pause,
    oldest issue first. Returns how many issues were sent."""
    control = SyncControl.objects.filter(synchronization=synchronization).first()
    since = control.paused_at if control is not None and control.paused else None
    SyncControl.objects.update_or_create(synchronization=synchronization, defaults={"paused": False})
    return synchronization_catch_up(synchronization=synchronization, changed_since=since)


def _mapped_issues(sync: Synchronization) -> Iterator[tuple[Mapping, QuerySet[Issue]]]:
    """Each enabled mapping of the synchronization, with the issues of its project and types on this site."""
    me, _partner = sides(sync.role)
    for mapping in _MAPPINGS_ENABLED.all(sync=sync.pk):
        yield mapping, Issue.objects.filter(project__key=getattr(mapping, f"{me}_project"),
                                            issue_type__name__in=[p[me] for p in mapping.issue_types])


def synchronization_catch_up(*, synchronization: Synchronization,
                             changed_since: datetime.datetime | None = None) -> int:
    """Bring the synchronization's linked issues up to date (a mapping enabled again, a resume) and apply
    what waited on their links; with `changed_since`, also the matching issues changed since then that
    have no link yet (created while paused). Existing issues never changed are not copied."""
    sent = 0
    for link in IssueLink.objects.filter(synchronization=synchronization, state=LinkState.PAUSED).exclude(pending={}):
        link_retry(link=link)
    sync = Synchronization.objects.get(pk=synchronization.pk)
    ids = set(IssueLink.objects.filter(synchronization=sync, issue__isnull=False).values_list("issue_id", flat=True))
    if changed_since is not None:
        for _mapping, issues in _mapped_issues(sync):
            ids.update(issues.filter(updated__gte=changed_since).values_list("pk", flat=True))
    for pk in sorted(i for i in ids if i is not None):
        sent += issue_push(issue=pk, synchronization=sync) == "sent"
    return sent


# --- Changes a push missed ----------------------------------------------------------------------

# A change whose transaction stamped `updated` this long before it committed is still found.
MISSED_MARGIN = datetime.timedelta(minutes=1)
# How far back the first sweep of a site looks (no sweep started before it).
MISSED_FIRST_WINDOW = datetime.timedelta(minutes=10)


def _local_comments(since: datetime.datetime, app_user_id: int | None) -> QuerySet[Comment]:
    """Comments added or edited here since `since` by anyone but the app's account (which writes the copies
    of a partner's comments)."""
    comments = Comment.objects.filter(updated__gte=since)
    return comments.exclude(author_id=app_user_id) if app_user_id is not None else comments


def _changed_here_since(issues: QuerySet[Issue], since: datetime.datetime, app_user_id: int | None) -> QuerySet[Issue]:
    """Of `issues`, those changed on this site since `since` by anyone but a partner (a person, the API): made,
    edited, or their comments added or edited. A partner's change is written by the app's account and its
    changelog says so; sending never concerns it (only a third site's synchronizations would take it on)."""
    by_partner = Q(reporter_id=app_user_id) if app_user_id is not None else Q(pk__in=[])
    return issues.filter(updated__gte=since).filter(
        (Q(created__gte=since) & ~by_partner)
        | Exists(Changelog.objects.filter(issue=OuterRef("pk"), created__gte=since)
                 .exclude(origin_kind=OriginKind.PARTNER))
        | Exists(_local_comments(since, app_user_id).filter(issue=OuterRef("pk"))))


def _sent_since_changed(sync: Synchronization) -> QuerySet[IssueLink]:
    """The issue's link (of the outer query's issue), if its stream has a message written since the issue last
    changed: its push ran. (A push that found nothing mapped changed writes none, and is asked again.) Said of
    its fields only: the issue's comments are each checked on their own."""
    stream = wire.issue_stream_sql(OuterRef("origin_site"), OuterRef("origin_issue_id"))
    return IssueLink.objects.filter(synchronization=sync, local_issue_id=Cast(OuterRef("pk"), CharField())).filter(
        Exists(OutboxMessage.objects.filter(synchronization_id=sync.pk, stream=stream,
                                            created_at__gte=OuterRef(OuterRef("updated")))))


def missed_changes_push(*, now: datetime.datetime | None = None) -> int:
    """Send what a push after commit missed (the process that made the change stopped between its commit and
    writing the message): every issue changed here since the last sweep started, less a margin, and after its
    synchronization and mapping last changed (so that nothing goes that the push of the time would not have
    sent), is pushed again; pushing is state based, so what went already is "unchanged". New and edited
    comments that went nowhere are sent too. Returns how many issues were sent."""
    now = now or timezone.now()
    mark = ChangesSwept.objects.filter(pk=1).first()
    since = (mark.started_at if mark else now - MISSED_FIRST_WINDOW) - MISSED_MARGIN
    syncs = _ACTIVE.all()
    sent = _missed_push(syncs, since) if syncs and SiteConfiguration.load().is_enabled else 0
    # Moved on only once done: a sweep that stopped halfway is taken up again from the same point.
    ChangesSwept.objects.bulk_create([ChangesSwept(pk=1, started_at=now)], update_conflicts=True,  # one upsert:
                                     unique_fields=["id"], update_fields=["started_at"])  # two sweeps never collide
    if sent:
        log.warning("%d issue changes had not been sent after their commit; sent now", sent)
    return sent


def _missed_push(syncs: list[Synchronization], since: datetime.datetime) -> int:
    app = _APP_USER.first()
    app_user_id = app.pk if app is not None else None
    sent = 0
    comments: dict[int, Comment] = {}
    gone_comments: dict[str, Issue | None] = {}
    for sync in syncs:
        ids: set[int] = set()
        for mapping, issues in _mapped_issues(sync):
            after = max(since, sync.updated_at, mapping.updated_at)
            changed = list(_changed_here_since(issues, after, app_user_id)
                           .annotate(pushed=Exists(_sent_since_changed(sync))).values_list("pk", "pushed"))
            ids.update(pk for pk, pushed in changed if not pushed)
            if changed:  # a pushed issue's comments too: an issue's push carries its fields, not its comments
                comments.update((c.pk, c) for c in _local_comments(after, app_user_id)
                                .filter(issue_id__in=[pk for pk, _pushed in changed]).select_related("issue", "author"))
        for pk in sorted(ids):
            sent += issue_push(issue=pk, synchronization=sync) == "sent"
        # Deleted, and never told: an issue's link left unpaused without its issue (a waiting create has none
        # yet, and an id of its own); a local comment's link left without its comment and not marked deleted.
        for link in IssueLink.objects.filter(synchronization=sync, issue__isnull=True, mapping_id__isnull=False) \
                .exclude(state=LinkState.PAUSED).exclude(local_issue_id__startswith="-"):
            sent += _deletion_send(link)
        for cl in CommentLink.objects.filter(link__synchronization=sync, origin_site=settings.SITE_ADDRESS,
                                             comment__isnull=True, deleted=False,
                                             link__issue__updated__gte=max(since, sync.updated_at)) \
                .select_related("link__issue"):
            gone_comments[cl.origin_comment_id] = cl.link.issue
    for comment_id, issue in gone_comments.items():
        if issue is not None:
            comment_push(comment=Comment(pk=int(comment_id), issue=issue), issue=issue, deleted=True)
    # A comment's version went when its link holds its clock (one read for them all).
    held = dict(CommentLink.objects.filter(origin_site=settings.SITE_ADDRESS,
                                           origin_comment_id__in=[str(pk) for pk in comments])
                .values_list("origin_comment_id", "clock"))
    for pk, comment in sorted(comments.items()):
        if wins(clock_at(comment.updated, settings.SITE_ADDRESS), held.get(str(pk)) or None):
            comment_push(comment=comment, issue=comment.issue, deleted=False)
    return sent


def issue_sync_now(*, issue: Issue) -> list[str]:
    """"Sync now" on the issue view: apply what waits here and send everything mapped again."""
    outcomes = []
    for link in IssueLink.objects.filter(local_issue_id=str(issue.pk)).exclude(pending={}):
        if link.state != LinkState.ERROR:
            link_retry(link=link)
    for sync in _ACTIVE.all():
        outcomes.append(issue_push(issue=issue.pk, synchronization=sync, everything=True))
    return outcomes
