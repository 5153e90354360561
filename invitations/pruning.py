"""Dropping what the wire no longer needs, so the tables stop growing with traffic."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from invitations.models import DeliveryState, InboundMessage, OutboxMessage


def duplicate_window_seconds() -> int:
    """How long after it arrived a message may still come again: the partner's retries, then one signature."""
    return int(settings.DELIVERY_GIVE_UP_AFTER_SECONDS + settings.SIGNATURE_MAX_AGE_SECONDS
               + settings.SIGNATURE_MAX_SKEW_SECONDS)


@dataclass(frozen=True)
class Pruned:
    outbox_deleted: int
    bodies_dropped: int
    inbound_deleted: int


def messages_prune(*, older_than_days: float) -> Pruned:
    """Delete delivered outbox rows and empty received bodies older than `older_than_days`.

    A received message's row (its id, stream and sequence) stays for the duplicate window
    after that, so a partner's late retry of it is still acknowledged as a duplicate and
    never applied twice; only then is the row deleted. Undelivered and failed outbox rows
    stay whatever their age: they are still to be sent, or shown for the admin to retry.
    """
    now = timezone.now()
    cutoff = now - timedelta(days=older_than_days)
    outbox = OutboxMessage.objects.filter(state=DeliveryState.DELIVERED, delivered_at__lt=cutoff).delete()[0]
    forget = cutoff - timedelta(seconds=duplicate_window_seconds())
    inbound = InboundMessage.objects.filter(received_at__lt=forget).delete()[0]
    bodies = InboundMessage.objects.filter(received_at__lt=cutoff).exclude(body=b"").update(body=b"")
    return Pruned(outbox, bodies, inbound)
