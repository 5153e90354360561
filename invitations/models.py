"""What crosses the wire, kept durably: the site's key, sent and received messages."""
from __future__ import annotations

import uuid

from django.db import models
from django.db.models.expressions import RawSQL

from issuesync.prepared import PreparedSave


class SiteKey(models.Model):
    """This site's Ed25519 signing key; the private half is encrypted at rest (Fernet)."""

    # A fixed slot makes "create on first start" safe when several processes start at once.
    slot = models.PositiveSmallIntegerField(unique=True, default=1)
    key_id = models.CharField(max_length=300, unique=True)
    public_key_pem = models.TextField()
    private_key_encrypted = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key_id


class Link(models.Model):
    """The wire's side of a synchronization: who the partner is and the key pinned for it.

    Its id is the synchronization id both sites share. Sequence counters are per stream
    (`LinkStream`), so one stream's refused or waiting message never holds back another's.
    """

    id = models.UUIDField(primary_key=True)
    partner_address = models.CharField(max_length=200)
    partner_key_id = models.CharField(max_length=300, db_index=True)
    partner_public_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.id} with {self.partner_address}"


class LinkStream(PreparedSave, models.Model):
    """One ordered stream of a link: the last sequence sent and the last received."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="streams")
    stream = models.CharField(max_length=80, blank=True)  # "": the link's lifecycle
    last_sent = models.PositiveIntegerField(default=0)
    last_received = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "stream"], name="link_stream_unique")]

    def __str__(self) -> str:
        return f"{self.link_id}/{self.stream or 'lifecycle'}: sent {self.last_sent}, received {self.last_received}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERING = "delivering", "Delivering"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


# The states as SQL literals, for a condition on `state` written into a statement instead of bound: PostgreSQL
# plans a statement prepared on a connection once for any values after a few runs, and a state that plan
# cannot see is as common to it as delivered, so it read the whole outbox instead of the few undelivered
# messages' index entries (tests/invitations/test_delivery.py checks the plans). By name: {pending}, ...
STATE_SQL = {state.name.lower(): f"'{state.value}'" for state in DeliveryState}


def state_is_not(state: DeliveryState) -> RawSQL:
    """`state <> '...'` for an ORM filter, the state written as STATE_SQL says."""
    return RawSQL(f"state <> {STATE_SQL[state.name.lower()]}", (), output_field=models.BooleanField())


class OutboxMessage(PreparedSave, models.Model):
    """A message to a partner, written in the same transaction as the change it announces.

    The row is the truth; a Celery task is only the doorbell that says "deliver it now".
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    synchronization_id = models.UUIDField(db_index=True)
    stream = models.CharField(max_length=80, blank=True, default="")
    sequence = models.PositiveIntegerField()
    message_type = models.CharField(max_length=40)
    recipient = models.CharField(max_length=200)
    body = models.BinaryField()  # the exact bytes that are signed and sent, every attempt
    state = models.CharField(max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    give_up_at = models.DateTimeField()  # transient failures stop being retried after this
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True)  # which worker's claim holds it, while delivering
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["created_at", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["synchronization_id", "stream", "sequence"],
                                    name="outbox_unique_stream_sequence"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due"),
            # A synchronization's delivery state reads only its undelivered messages; delivered ones
            # (nearly all, as history grows) stay out of this index.
            models.Index(fields=["synchronization_id", "sequence"], name="outbox_undelivered",
                         condition=~models.Q(state="delivered")),
            # The detail page's history, newest first, a page at a time.
            models.Index(fields=["synchronization_id", "-created_at"], name="outbox_history"),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} #{self.sequence} to {self.recipient} ({self.state})"


class InboundOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    ABSORBED = "absorbed", "Absorbed"
    REFUSED = "refused", "Refused"


class InboundMessage(models.Model):
    """A partner's message, recorded in the same transaction as its effect: the dedupe table.

    Pruning (`prune_messages`) empties the body of an old row but keeps the row, and with it
    the id that recognises a repeated delivery.
    """

    id = models.UUIDField(primary_key=True)  # the sender's message id
    synchronization_id = models.UUIDField(db_index=True)
    stream = models.CharField(max_length=80, blank=True, default="")
    sequence = models.PositiveIntegerField()
    message_type = models.CharField(max_length=40)
    sender = models.CharField(max_length=200)
    body = models.BinaryField()
    outcome = models.CharField(max_length=10, choices=InboundOutcome.choices, default=InboundOutcome.APPLIED)
    error = models.TextField(blank=True)  # why it was refused
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at"]
        indexes = [models.Index(fields=["synchronization_id", "-received_at"], name="inbound_history")]

    def __str__(self) -> str:
        return f"{self.message_type} #{self.sequence} from {self.sender}"


class PartnerDocument(models.Model):
    """A partner's discovery document as last fetched from its address: shared by every process of the site.

    The inbox verifies a first message with the key kept here and never fetches while a
    partner waits on it (a missing or changed key is fetched by the worker, `fetch_discovery`).
    The key is bound to the address: it was fetched from that address, and its key id names it.
    """

    address = models.CharField(max_length=200, primary_key=True)
    installed = models.BooleanField()
    active = models.BooleanField()
    protocol_version = models.PositiveIntegerField()
    key_id = models.CharField(max_length=300)
    public_key_pem = models.TextField()
    fetched_at = models.DateTimeField()
    # A key id a message was signed with that this fetch showed is not the published one.
    refused_key_id = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.address} ({self.key_id}, fetched {self.fetched_at:%Y-%m-%d %H:%M:%S})"
