"""Celery tasks: thin doorbells that call the delivery service."""
from __future__ import annotations

import uuid

from celery import shared_task

from invitations.delivery import due_messages, outbox_deliver, sweep_grace_seconds
from invitations.models import OutboxMessage
from invitations.pruning import messages_prune

# Short waits ride on a countdown; longer ones stay in the database
# (next_attempt_at) for the sweep, never beyond the broker's visibility timeout.
MAX_COUNTDOWN_SECONDS = 60


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_message(outbox_id: str) -> None:
    # One doorbell may deliver several messages; each one to be retried gets its own.
    for retry_id, retry_in in outbox_deliver(outbox_id=uuid.UUID(outbox_id)).items():
        if retry_in <= MAX_COUNTDOWN_SECONDS:
            deliver_message.apply_async((str(retry_id),), countdown=retry_in)


@shared_task(ignore_result=True)
def sweep_outbox(limit: int = 1000) -> int:
    """Ring again for every message overdue by more than the grace: covers lost tasks and long backoffs.

    A message due for less than the grace still has its own doorbell on the way, so it is
    left alone: ringing for it would only queue a duplicate task that claims nothing.
    """
    ids = list(OutboxMessage.objects.filter(due_messages(grace=sweep_grace_seconds()))
               .order_by("next_attempt_at").values_list("id", flat=True)[:limit])
    for outbox_id in ids:
        deliver_message.delay(str(outbox_id))
    return len(ids)


@shared_task(ignore_result=True)
def prune_messages() -> None:
    """The scheduler's `prune_messages`, with MESSAGE_RETENTION_DAYS."""
    from django.conf import settings

    messages_prune(older_than_days=settings.MESSAGE_RETENTION_DAYS)
