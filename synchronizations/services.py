"""Every change an admin makes to a synchronization: one function per action.

Each validates, changes state and writes its outgoing message in one
transaction; views, the API and tasks call these and nothing else changes state.
The partner's messages apply through the kinds in synchronizations.wire.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invitations.directory import ADDRESS_HINT, InvalidAddress, SiteDirectory, normalize_address
from invitations.discovery import PARTNER_STATE_MAX_AGE_SECONDS, DiscoveryError, partner_discover
from invitations.outbox import link_locked, link_open, link_shared, outbox_write
from issuesync.prepared import Param, Prepared
from issuesync.web import Refused
from jira.models import IssueType, Project, SiteConfiguration
from synchronizations.models import Role, Scope, Synchronization, SynchronizationType
from synchronizations.signals import scope_changed
from synchronizations.states import REMOVED, Action, InvitationStatus, next_status

log = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser | None
NOT_SUPPORTED = (
    "Cloud to DC connection is not supported yet. If you are interested in such a functionality, "
    "feel free to raise a support request and let us know about it."
)


class ActionRefused(Refused):
    """The action does not apply to the synchronization's current status: nothing changed."""


def username(user: User) -> str:
    return str(getattr(user, "username", "") or "")


def _check(sync: Synchronization | None, event: Action) -> Any:
    status = InvitationStatus(sync.status) if sync else None
    new = next_status(status, event)
    if new is None:
        label = sync.get_status_display() if sync else "new"
        raise ActionRefused(f"{event.label} is not possible for a synchronization that is {label}.")
    return new


def synchronization_locked(pk: Any, *, shared: bool = False) -> Synchronization | None:
    """The synchronization (with its scope), locked for the caller's transaction, after its link.

    Every transaction that locks a synchronization and writes to the outbox goes through here: the
    inbox locks the link first too, so the two never wait crosswise (invitations.outbox.link_locked).

    `shared`: the link is held in share mode and the synchronization read, not locked, for a writer
    that only adds to a stream of its own (an issue's changes) and needs the synchronization, its
    scope and its mappings not to change meanwhile. Whatever changes them locks the link first, so it
    waits; such writers do not wait for each other (each locks its own issue).
    """
    if shared:
        link_shared(pk)
        return synchronization_row(pk, lock=False)
    link_locked(pk)
    return synchronization_row(pk, lock=True)


# Every push of an issue and every partner's message reads its synchronization so: built once per process
# (issuesync.prepared).
_SYNCHRONIZATION = Prepared(lambda: Synchronization.objects.select_related("scope").filter(
    pk=Param("pk", Synchronization._meta.pk)))
_SYNCHRONIZATION_LOCKED = Prepared(lambda: Synchronization.objects.select_for_update().select_related("scope")
                                   .filter(pk=Param("pk", Synchronization._meta.pk)))


def synchronization_row(pk: Any, *, lock: bool) -> Synchronization | None:
    """The synchronization with its scope, locked for the caller's transaction (`lock`) or only read. Its
    link's lock is the caller's: `synchronization_locked`, or the inbox's."""
    return (_SYNCHRONIZATION_LOCKED if lock else _SYNCHRONIZATION).first(pk=pk)


def _locked(sync: Synchronization) -> Synchronization:
    locked = synchronization_locked(sync.pk)
    if locked is None:
        raise Synchronization.DoesNotExist("Synchronization matching query does not exist.")
    return locked


def synchronization_send(sync: Synchronization, message_type: str, payload: dict[str, Any], user: User) -> None:
    """Tell the partner, on the synchronization's lifecycle stream, in the caller's transaction."""
    outbox_write(link_id=sync.id, message_type=message_type, payload=payload, created_by=username(user))


def scope_validate(mode: str, projects: Iterable[Project], issue_types: Iterable[IssueType]) -> None:
    if mode not in Scope.Mode.values:
        raise ValidationError({"scope_mode": "Choose Show all, Hide only selected or Show only selected."})
    if mode != Scope.Mode.SHOW_ALL and not list(projects) and not list(issue_types):
        raise ValidationError(
            {"scope_mode": f"Select at least one project or issue type for “{Scope.Mode(mode).label}”."}
        )


def _scope_set(scope: Scope, mode: str, projects: Iterable[Project], issue_types: Iterable[IssueType], *,
               new: bool = False) -> None:
    scope.visible_forget()
    selected = mode != Scope.Mode.SHOW_ALL
    if new:  # just created with its mode: nothing chosen to clear
        if selected:
            scope.projects.set(list(projects))
            scope.issue_types.set(list(issue_types))
        return
    scope.mode = mode
    scope.save(update_fields=["mode"])
    scope.projects.set(list(projects) if selected else [])
    scope.issue_types.set(list(issue_types) if selected else [])


def synchronization_create(
    *, name: str, partner_address: str, sync_type: str = SynchronizationType.CLOUD_TO_CLOUD,
    scope_mode: str = Scope.Mode.SHOW_ALL, projects: Iterable[Project] = (),
    issue_types: Iterable[IssueType] = (), user: User = None,
) -> Synchronization:
    """Invite a partner site. Every check happens before anything is stored."""
    projects, issue_types = list(projects), list(issue_types)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Enter a name for the synchronization."})
    if sync_type == SynchronizationType.CLOUD_TO_DATA_CENTER:
        raise ValidationError({"sync_type": NOT_SUPPORTED})
    if sync_type != SynchronizationType.CLOUD_TO_CLOUD:
        raise ValidationError({"sync_type": "Choose a synchronization type."})
    try:
        address = normalize_address(partner_address or "")
    except InvalidAddress:
        raise ValidationError({"partner_address": ADDRESS_HINT}) from None
    if address == settings.SITE_ADDRESS:
        raise ValidationError({"partner_address": "This is your own Jira site. Enter your partner's address."})
    if address not in SiteDirectory.load():
        raise ValidationError({"partner_address": f"{address} is not a Jira site we can reach."})
    scope_validate(scope_mode, projects, issue_types)
    if not SiteConfiguration.load().is_enabled:
        raise ValidationError("Issue Sync is not active on this site. Switch it on before inviting a partner.")
    try:
        # A kept refusal is never answered (partner_discover asks again), so this is the partner's state now.
        partner = partner_discover(address, max_age=PARTNER_STATE_MAX_AGE_SECONDS)
    except DiscoveryError as e:
        raise ValidationError({"partner_address": f"{address} could not be reached. Try again later."}) from e
    if not partner.installed:
        raise ValidationError({"partner_address": f"Issue Sync is not installed on {address}."})
    if not partner.active:
        raise ValidationError({"partner_address": f"Issue Sync is not active on {address}."})

    with transaction.atomic():
        scope = Scope.objects.create(mode=scope_mode)
        _scope_set(scope, scope_mode, projects, issue_types, new=True)
        sync = Synchronization(
            name=name, sync_type=sync_type, partner_address=address, role=Role.INVITER,
            status=_check(None, Action.CREATE), scope=scope,
            created_by=user if isinstance(user, AbstractBaseUser) else None,  # type: ignore[misc]
        )
        link_open(link_id=sync.id, partner_address=address, partner_key_id=partner.key_id,
                  partner_public_key_pem=partner.public_key_pem)
        invitation = {"name": name, "sync_type": sync_type, "visible": scope.visible()}
        synchronization_send(sync, "invitation", invitation, user)
        sync.save()
    log.info("invited %s to %s (%s)", address, name, sync.id)
    return sync


def synchronization_accept(
    *, synchronization: Synchronization, scope_mode: str = Scope.Mode.SHOW_ALL,
    projects: Iterable[Project] = (), issue_types: Iterable[IssueType] = (), user: User = None,
) -> Synchronization:
    projects, issue_types = list(projects), list(issue_types)
    scope_validate(scope_mode, projects, issue_types)
    with transaction.atomic():
        sync = _locked(synchronization)
        sync.status = _check(sync, Action.ACCEPT)
        _scope_set(sync.scope, scope_mode, projects, issue_types)
        synchronization_send(sync, "accept", {"visible": sync.scope.visible()}, user)
        sync.save()
    return sync


def synchronization_reject(*, synchronization: Synchronization, user: User = None) -> Synchronization:
    return _simple(synchronization, Action.REJECT, "reject", user)


def synchronization_delete(*, synchronization: Synchronization, user: User = None) -> Synchronization:
    return _simple(synchronization, Action.DELETE, "delete", user)


def _simple(synchronization: Synchronization, action: Action, message_type: str, user: User) -> Synchronization:
    with transaction.atomic():
        sync = _locked(synchronization)
        sync.status = _check(sync, action)
        synchronization_send(sync, message_type, {}, user)
        sync.save()
    return sync


def synchronization_remove(*, synchronization: Synchronization, user: User = None) -> None:
    """Remove record: off this site's list only; the partner is not told."""
    with transaction.atomic():
        sync = _locked(synchronization)
        if sync.removed_at or _check(sync, Action.REMOVE) != REMOVED:
            raise ActionRefused("This record has already been removed.")
        sync.removed_at = timezone.now()
        sync.save(update_fields=["removed_at"])


def synchronization_scope_update(
    *, synchronization: Synchronization, scope_mode: str, projects: Iterable[Project] = (),
    issue_types: Iterable[IssueType] = (), user: User = None,
) -> Synchronization:
    projects, issue_types = list(projects), list(issue_types)
    scope_validate(scope_mode, projects, issue_types)
    with transaction.atomic():
        sync = _locked(synchronization)
        sync.status = _check(sync, Action.EDIT_SCOPE)
        _scope_set(sync.scope, scope_mode, projects, issue_types)
        scope_changed.send(sender=Synchronization, synchronization=sync)
        synchronization_send(sync, "scope_changed", {"visible": sync.scope.visible()}, user)
        sync.save()
    return sync
