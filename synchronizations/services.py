"""Every change to a synchronization: one function per action, plus `message_apply`.

Each validates, changes state and writes its outgoing message in one
transaction; views, the API, tasks and the inbound endpoint call these and
nothing else changes state.
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
from invitations.discovery import DiscoveryError, partner_discover
from invitations.messages import REGISTRY, Envelope
from invitations.models import InboundMessage
from invitations.outbox import outbox_write
from jira.models import IssueType, Project, SiteConfiguration
from synchronizations.models import Role, Scope, Synchronization, SynchronizationType
from synchronizations.states import REMOVED, Action, InvitationStatus, Received, is_absorbed, next_status

log = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser | None
NOT_SUPPORTED = (
    "Cloud to DC connection is not supported yet. If you are interested in such a functionality, "
    "feel free to raise a support request and let us know about it."
)


class ActionRefused(Exception):
    """The action does not apply to the synchronization's current status: nothing changed."""


class MessageRefused(Exception):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def _username(user: User) -> str:
    return str(getattr(user, "username", "") or "")


def _check(sync: Synchronization | None, event: Action) -> Any:
    status = InvitationStatus(sync.status) if sync else None
    new = next_status(status, event)
    if new is None:
        label = sync.get_status_display() if sync else "new"
        raise ActionRefused(f"{event.label} is not possible for a synchronization that is {label}.")
    return new


def _locked(sync: Synchronization) -> Synchronization:
    return Synchronization.objects.select_for_update().get(pk=sync.pk)


def _send(sync: Synchronization, message_type: str, payload: dict[str, Any], user: User) -> None:
    sync.last_sent_sequence += 1
    outbox_write(
        synchronization_id=sync.id, recipient=sync.partner_address, sequence=sync.last_sent_sequence,
        message_type=message_type, payload=payload, created_by=_username(user),
    )


def scope_validate(mode: str, projects: Iterable[Project], issue_types: Iterable[IssueType]) -> None:
    if mode not in Scope.Mode.values:
        raise ValidationError({"scope_mode": "Choose Show all, Hide only selected or Show only selected."})
    if mode != Scope.Mode.SHOW_ALL and not list(projects) and not list(issue_types):
        raise ValidationError(
            {"scope_mode": f"Select at least one project or issue type for “{Scope.Mode(mode).label}”."}
        )


def _scope_set(scope: Scope, mode: str, projects: Iterable[Project], issue_types: Iterable[IssueType]) -> None:
    scope.mode = mode
    scope.save()
    selected = mode != Scope.Mode.SHOW_ALL
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
        partner = partner_discover(address)
    except DiscoveryError as e:
        raise ValidationError({"partner_address": f"{address} could not be reached. Try again later."}) from e
    if not partner.installed:
        raise ValidationError({"partner_address": f"Issue Sync is not installed on {address}."})
    if not partner.active:
        raise ValidationError({"partner_address": f"Issue Sync is not active on {address}."})

    with transaction.atomic():
        scope = Scope.objects.create(mode=scope_mode)
        _scope_set(scope, scope_mode, projects, issue_types)
        sync = Synchronization(
            name=name, sync_type=sync_type, partner_address=address, role=Role.INVITER,
            status=_check(None, Action.CREATE), scope=scope, partner_key_id=partner.key_id,
            partner_public_key_pem=partner.public_key_pem,
            created_by=user if isinstance(user, AbstractBaseUser) else None,  # type: ignore[misc]
        )
        _send(sync, "invitation", {"name": name, "sync_type": sync_type, "visible": scope.visible()}, user)
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
        _send(sync, "accept", {"visible": sync.scope.visible()}, user)
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
        _send(sync, message_type, {}, user)
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
        from mappings.services import mappings_check_scope

        mappings_check_scope(sync)
        _send(sync, "scope_changed", {"visible": sync.scope.visible()}, user)
        sync.save()
    return sync


def message_apply(
    *, envelope: Envelope, body: bytes, partner_key_id: str = "", partner_public_key_pem: str = ""
) -> str:
    """Apply a verified partner message exactly once. Returns "applied", "absorbed" or "duplicate".

    The message id is recorded in the same transaction as the effect, so a
    repeated delivery is acknowledged and changes nothing.
    """
    with transaction.atomic():
        owned_elsewhere = REGISTRY[envelope.type].apply
        event = None if owned_elsewhere else Received(envelope.type)
        sync = Synchronization.objects.select_for_update().filter(pk=envelope.synchronization_id).first()
        # Checked under the lock: a concurrent delivery of this same message may have
        # committed while we waited for it (each statement sees what is committed when it runs).
        if InboundMessage.objects.filter(pk=envelope.id).exists():
            return "duplicate"
        if sync is None:
            if event != Received.INVITATION:
                raise MessageRefused("unknown synchronization: waiting for its invitation", status=425)
            if envelope.sequence != 1:
                raise MessageRefused("an invitation must be message #1", status=422)
            sync = _invitation_receive(envelope, partner_key_id, partner_public_key_pem)
            outcome = "applied"
        else:
            if sync.partner_address != envelope.sender:
                raise MessageRefused("the sender is not this synchronization's partner", status=403)
            expected = sync.last_received_sequence + 1
            if envelope.sequence > expected:
                # Retryable: the missing earlier message is on its way.
                raise MessageRefused(f"waiting for message #{expected} first", status=425)
            if envelope.sequence < expected:
                raise MessageRefused(f"message #{envelope.sequence} was already applied", status=422)
            if owned_elsewhere is not None:
                # Issue traffic: its app decides, and never refuses (a problem is that issue's error).
                outcome = owned_elsewhere(sync, envelope)
                sync.last_received_sequence = envelope.sequence
                sync.save()
                InboundMessage.objects.create(
                    id=envelope.id, synchronization_id=envelope.synchronization_id, sequence=envelope.sequence,
                    message_type=envelope.type, sender=envelope.sender, body=body,
                )
                return outcome
            assert event is not None
            status = InvitationStatus(sync.status)
            new = next_status(status, event)
            if new is None:
                raise MessageRefused(
                    f"{event.label} does not apply to a synchronization that is {sync.get_status_display()}",
                    status=422,
                )
            outcome = "absorbed" if is_absorbed(status, event) else "applied"
            if outcome == "applied":
                sync.status = new
                if "visible" in envelope.payload:
                    sync.partner_visible = envelope.payload["visible"]
                _mappings_follow(sync, envelope)
            sync.last_received_sequence = envelope.sequence
            sync.save()
        InboundMessage.objects.create(
            id=envelope.id, synchronization_id=envelope.synchronization_id, sequence=envelope.sequence,
            message_type=envelope.type, sender=envelope.sender, body=body,
        )
    log.info("%s %s #%s from %s for %s", outcome, envelope.type, envelope.sequence, envelope.sender,
             envelope.synchronization_id)
    return outcome


def _mappings_follow(sync: Synchronization, envelope: Envelope) -> None:
    """Mapping messages, and scope changes that may hide what a mapping uses."""
    from mappings.services import mapping_message_apply, mappings_check_scope

    if envelope.type in (Received.MAPPING_SAVED, Received.MAPPING_DELETED):
        mapping_message_apply(sync, envelope)
    elif envelope.type == Received.SCOPE_CHANGED:
        mappings_check_scope(sync)


def _invitation_receive(envelope: Envelope, key_id: str, public_key_pem: str) -> Synchronization:
    payload = envelope.payload
    scope = Scope.objects.create(mode=Scope.Mode.SHOW_ALL)
    return Synchronization.objects.create(
        id=envelope.synchronization_id, name=payload["name"], sync_type=payload["sync_type"],
        partner_address=envelope.sender, role=Role.INVITEE,
        status=InvitationStatus.INVITATION_RECEIVED, scope=scope, partner_visible=payload["visible"],
        partner_key_id=key_id, partner_public_key_pem=public_key_pem, last_received_sequence=1,
    )
