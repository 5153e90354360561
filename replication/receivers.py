"""What issue sync does when the site's issues change (jira's `issue_changed`, after commit).

A change applied from a partner names that synchronization in its origin and is not pushed back
along it (it already equals the link's remembered value anyway); other synchronizations of the
same issue still get it.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import transaction

from jira.models import SiteConfiguration
from jira.signals import IssueChange, IssueEvent, OriginKind
from replication import services

log = logging.getLogger(__name__)
_request = threading.local()  # what this thread's request asked already: {synchronization id: others active}

COMMENT_EVENTS = (IssueEvent.COMMENT_CREATED, IssueEvent.COMMENT_UPDATED, IssueEvent.COMMENT_DELETED)


def on_issue_changed(sender: Any, change: IssueChange, **kwargs: Any) -> None:
    if change.event == IssueEvent.REMOTE_LINK_SAVED:
        return
    skip = change.origin.partner if change.origin.kind == OriginKind.PARTNER else ""
    # A partner's change goes on only along the site's other synchronizations: most sites have none, and
    # then neither the app's switch nor the issue's links need reading for each change applied.
    if skip and not _others_active(skip):
        return
    if not SiteConfiguration.load().is_enabled:
        return
    if change.event == IssueEvent.DELETED:
        services.issue_deleted_push(issue_id=str(change.issue.pk), skip_sync=skip)
    elif change.event in COMMENT_EVENTS:
        assert change.comment is not None
        services.comment_push(comment=change.comment, issue=change.issue,
                              deleted=change.event == IssueEvent.COMMENT_DELETED, skip_sync=skip)
    else:
        services.issue_changed_push(issue=change.issue, skip_sync=skip, change=change.changelog)


def _others_active(sync_id: str) -> bool:
    """`services.others_active`, asked once per web request: a partner's request applies many changes (an
    issue and its comments), each announced after commit, and the answer changes only when an admin
    activates or stops another synchronization (whose catch-up then sends what it must)."""
    asked: dict[str, bool] | None = getattr(_request, "asked", None)
    if asked is None:
        return services.others_active(sync_id)
    if sync_id not in asked:
        asked[sync_id] = services.others_active(sync_id)
    return asked[sync_id]


def on_request_started(sender: Any, **kwargs: Any) -> None:
    _request.asked = {}


def on_request_finished(sender: Any, **kwargs: Any) -> None:
    _request.asked = None


def on_mapping_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """A mapping enabled (here or by the partner's message): its issues that stopped matching resume."""
    if not instance.enabled or instance.deleted_at is not None:
        return
    from replication.tasks import synchronization_catch_up

    sync_id = str(instance.synchronization_id)

    def ring() -> None:
        # Best effort, like every doorbell: the mapping is saved whatever the broker does. With the
        # broker unreachable the catch-up runs here instead (it only writes outbox rows, which the
        # sweep delivers), so an enabled mapping never waits for a task that was never queued.
        try:
            synchronization_catch_up.delay(sync_id)
        except Exception:
            log.warning("Catch-up of synchronization %s not queued (broker unreachable); running it now",
                        sync_id, exc_info=True)
            try:
                synchronization_catch_up(sync_id)
            except Exception:
                log.exception("Catch-up of synchronization %s failed; Sync now on an issue sends it again", sync_id)

    transaction.on_commit(ring)
