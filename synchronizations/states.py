"""The six statuses of the vendor's documentation and the one table of allowed transitions.

Events are this site's admin acting (`Action`), a partner's message arriving
(`Received`) or the mappings changing what is enabled (`Configured`: Active and Not
configured are decided here too, nowhere else). A (status, event) pair missing from the table is refused.
A pair that maps a terminal status to itself is *absorbed*: acknowledged, no
change. That is how races converge: Deleted wins over everything in flight.
"""
from __future__ import annotations

from django.db import models


class InvitationStatus(models.TextChoices):
    INVITATION_SENT = "invitation_sent", "Invitation sent"
    INVITATION_RECEIVED = "invitation_received", "Invitation received"
    REJECTED = "rejected", "Rejected"
    ACTIVE = "active", "Active"
    NOT_CONFIGURED = "not_configured", "Not configured"
    DELETED = "deleted", "Deleted"


class Action(models.TextChoices):
    # Values differ from every `Received` value on purpose: both are str enums, so
    # equal values would be one and the same key in TRANSITIONS (an inviter could
    # then "accept" its own invitation because the partner's accept message may).
    CREATE = "send_invitation", "Send invitation"
    ACCEPT = "accept_invitation", "Accept"
    REJECT = "reject_invitation", "Reject"
    DELETE = "delete_synchronization", "Delete"
    REMOVE = "remove_record", "Remove record"
    EDIT_SCOPE = "edit_scope", "Edit scope"


class Received(models.TextChoices):
    INVITATION = "invitation", "Invitation"
    ACCEPT = "accept", "Accept"
    REJECT = "reject", "Reject"
    DELETE = "delete", "Delete"
    SCOPE_CHANGED = "scope_changed", "Scope changed"
    MAPPING_SAVED = "mapping_saved", "Mapping saved"
    MAPPING_DELETED = "mapping_deleted", "Mapping deleted"


class Configured(models.TextChoices):
    """What this site's mappings say after a change to them (here or from the partner)."""

    SOME_ENABLED = "mapping_enabled", "A mapping is enabled"
    NONE_ENABLED = "no_mapping_enabled", "No mapping is enabled"


S = InvitationStatus
NEW = None  # no record yet
ACCEPTED = (S.NOT_CONFIGURED, S.ACTIVE)
TERMINAL = (S.REJECTED, S.DELETED)
REMOVED = "removed"  # the record is off this site's list

Event = Action | Received | Configured
TRANSITIONS: dict[tuple[S | None, Event], S | str] = {
    # This site's admin.
    (NEW, Action.CREATE): S.INVITATION_SENT,
    (S.INVITATION_RECEIVED, Action.ACCEPT): S.NOT_CONFIGURED,
    (S.INVITATION_RECEIVED, Action.REJECT): S.REJECTED,
    # The inviter may withdraw a pending invitation; either side deletes an accepted one.
    (S.INVITATION_SENT, Action.DELETE): S.DELETED,
    (S.NOT_CONFIGURED, Action.DELETE): S.DELETED,
    (S.ACTIVE, Action.DELETE): S.DELETED,
    (S.REJECTED, Action.REMOVE): REMOVED,
    (S.DELETED, Action.REMOVE): REMOVED,
    (S.INVITATION_SENT, Action.EDIT_SCOPE): S.INVITATION_SENT,
    (S.NOT_CONFIGURED, Action.EDIT_SCOPE): S.NOT_CONFIGURED,
    (S.ACTIVE, Action.EDIT_SCOPE): S.ACTIVE,
    # The partner's messages.
    (NEW, Received.INVITATION): S.INVITATION_RECEIVED,
    (S.INVITATION_SENT, Received.ACCEPT): S.NOT_CONFIGURED,
    (S.INVITATION_SENT, Received.REJECT): S.REJECTED,
    (S.INVITATION_SENT, Received.DELETE): S.DELETED,
    (S.INVITATION_RECEIVED, Received.DELETE): S.DELETED,
    (S.NOT_CONFIGURED, Received.DELETE): S.DELETED,
    (S.ACTIVE, Received.DELETE): S.DELETED,
    (S.REJECTED, Received.DELETE): S.DELETED,
    (S.INVITATION_SENT, Received.SCOPE_CHANGED): S.INVITATION_SENT,
    (S.INVITATION_RECEIVED, Received.SCOPE_CHANGED): S.INVITATION_RECEIVED,
    (S.NOT_CONFIGURED, Received.SCOPE_CHANGED): S.NOT_CONFIGURED,
    (S.ACTIVE, Received.SCOPE_CHANGED): S.ACTIVE,
    # Mapping messages apply once accepted; what they do to the status is a `Configured` event after.
    (S.NOT_CONFIGURED, Received.MAPPING_SAVED): S.NOT_CONFIGURED,
    (S.ACTIVE, Received.MAPPING_SAVED): S.ACTIVE,
    (S.NOT_CONFIGURED, Received.MAPPING_DELETED): S.NOT_CONFIGURED,
    (S.ACTIVE, Received.MAPPING_DELETED): S.ACTIVE,
    # After any change to the mappings: Active while at least one is enabled, Not configured when none is.
    (S.NOT_CONFIGURED, Configured.SOME_ENABLED): S.ACTIVE,
    (S.ACTIVE, Configured.SOME_ENABLED): S.ACTIVE,
    (S.NOT_CONFIGURED, Configured.NONE_ENABLED): S.NOT_CONFIGURED,
    (S.ACTIVE, Configured.NONE_ENABLED): S.NOT_CONFIGURED,
    # Absorbed: what was in flight when this side deleted or rejected.
    (S.DELETED, Received.MAPPING_SAVED): S.DELETED,
    (S.DELETED, Received.MAPPING_DELETED): S.DELETED,
    (S.DELETED, Received.ACCEPT): S.DELETED,
    (S.DELETED, Received.REJECT): S.DELETED,
    (S.DELETED, Received.DELETE): S.DELETED,
    (S.DELETED, Received.SCOPE_CHANGED): S.DELETED,
    (S.REJECTED, Received.SCOPE_CHANGED): S.REJECTED,
}


assert not (set(Action.values) & set(Received.values) or set(Configured.values) & (set(Action.values)
            | set(Received.values))), "admin actions, wire events and mapping states must never share a key"


def is_absorbed(status: S | None, event: Event) -> bool:
    return status in TERMINAL and TRANSITIONS.get((status, event)) == status


def next_status(status: S | None, event: Event) -> S | str | None:
    """The status after `event`, or None when the event does not apply."""
    return TRANSITIONS.get((status, event))


def allowed_actions(status: S) -> list[Action]:
    return [a for a in Action if (status, a) in TRANSITIONS]
