"""Celery tasks: thin doorbells that call the delivery service."""
from __future__ import annotations

import logging
import uuid

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from invitations import doorbells
from invitations.delivery import batch_limit, due_messages, outbox_deliver, sweep_grace_seconds
from invitations.directory import SiteDirectory
from invitations.discovery import DiscoveryError, partner_key_fetch, partner_key_kept
from invitations.models import DeliveryState, OutboxMessage
from invitations.pruning import messages_prune

log = logging.getLogger(__name__)

# Short waits ride on a countdown; longer ones stay in the database
# (next_attempt_at) for the sweep, never beyond the broker's visibility timeout.
MAX_COUNTDOWN_SECONDS = 60


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_message(outbox_id: str, recipient: str = "") -> None:
    """Deliver the message and the others due for its partner. With `recipient`: rung as the partner's
    doorbell (invitations.doorbells), which claims what is due for it even if this message went already."""
    if recipient:
        doorbells.rung_taken(recipient)
    # One doorbell may deliver several messages; each one to be retried gets its own.
    for retry_id, retry_in in outbox_deliver(outbox_id=uuid.UUID(outbox_id), recipient=recipient or None).items():
        if retry_in <= MAX_COUNTDOWN_SECONDS:
            deliver_message.apply_async((str(retry_id),), countdown=retry_in)


@shared_task(ignore_result=True)
def sweep_outbox(limit: int = 1000) -> int:
    """Ring again for messages overdue by more than the grace: covers lost tasks and long backoffs.

    A message due for less than the grace still has its own doorbell on the way, so it is
    left alone: ringing for it would only queue a duplicate task that claims nothing. One
    doorbell delivers every due message of its partner (batch after batch, and rings itself
    again while some are left), so a partner's backlog gets one doorbell per batch it holds, up
    to DELIVERY_SWEEP_DOORBELLS_PER_PARTNER rung at once, each for the head of another batch:
    not one per message, which would queue thousands of tasks that find their message taken.
    Returns how many doorbells were rung.
    """
    overdue: dict[str, list[uuid.UUID]] = {}
    for outbox_id, recipient in (OutboxMessage.objects.filter(due_messages(grace=sweep_grace_seconds()))
                                 .order_by("next_attempt_at").values_list("id", "recipient")[:limit]):
        overdue.setdefault(recipient, []).append(outbox_id)
    step = batch_limit()
    rung = 0
    for recipient, ids in overdue.items():
        for outbox_id in ids[::step][:settings.DELIVERY_SWEEP_DOORBELLS_PER_PARTNER]:
            # As the partner's doorbell: it claims what is due for the partner whatever became of this one.
            deliver_message.delay(str(outbox_id), recipient)
            rung += 1
    return rung


@shared_task(ignore_result=True)
def fetch_discovery(address: str, key_id: str = "") -> None:
    """Fetch and keep a partner's discovery (its key) for the inbox, which never fetches it itself."""
    try:
        partner_key_fetch(address, key_id=key_id)
    except DiscoveryError as e:
        log.warning("could not fetch the discovery of %s: %s", address, e)


# A start-up sweep for claims still running comes this long after the last of them runs out.
CLAIM_EXPIRY_MARGIN_SECONDS = 0.2
# A site started with its partners retries their discovery this often, this many times.
PREFETCH_RETRY_SECONDS = 2
PREFETCH_ATTEMPTS = 30


@shared_task(bind=True, ignore_result=True)
def prefetch_partners(self: Task, attempt: int = 1) -> None:
    """Keep the discovery of every directory site not kept yet: a partner's first message is then verified at once.

    Run when a worker starts; partners starting at the same moment are tried again a while.
    Without it, nothing is lost: the inbox asks for a missing key and answers 425 meanwhile.
    """
    missing = []
    for address in SiteDirectory.load().addresses():
        if address == settings.SITE_ADDRESS or partner_key_kept(address) is not None:
            continue
        try:
            partner_key_fetch(address)
        except DiscoveryError:
            missing.append(address)
    if missing and attempt < PREFETCH_ATTEMPTS:
        self.apply_async((attempt + 1,), countdown=PREFETCH_RETRY_SECONDS)


@shared_task(ignore_result=True)
def prune_messages() -> None:
    """The scheduler's `prune_messages`, with MESSAGE_RETENTION_DAYS."""
    from django.conf import settings

    messages_prune(older_than_days=settings.MESSAGE_RETENTION_DAYS)


@worker_ready.connect
def sweep_on_start(**kwargs: object) -> None:
    """A worker that starts (a killed one's replacement) sweeps at once, and again as the last claim runs out.

    The messages a killed worker held are claimed until its last lease runs out, a few
    seconds at most; sweeping then takes them over without waiting for the scheduler.
    It also fetches the partners' discovery documents not kept yet (`prefetch_partners`).
    Best effort, like every doorbell: the scheduler's sweep follows anyway.
    """
    try:
        prefetch_partners.apply_async()
        sweep_outbox.apply_async()
        claimed = (OutboxMessage.objects.filter(state=DeliveryState.DELIVERING)
                   .aggregate(last=Max("claimed_until"))["last"])
        if claimed is not None:
            wait = (claimed - timezone.now()).total_seconds() + CLAIM_EXPIRY_MARGIN_SECONDS
            if wait > 0:
                sweep_outbox.apply_async(countdown=min(wait, settings.DELIVERY_LEASE_SECONDS + 1))
    except Exception as e:  # noqa: BLE001 - a broker or database that is down must not stop the worker starting
        log.warning("could not queue the start-up sweep: %s", e)
