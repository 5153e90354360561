"""What crosses the wire, kept durably: the site's key, sent and received messages."""
from __future__ import annotations

import uuid

from django.db import models


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


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERING = "delivering", "Delivering"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    """A message to a partner, written in the same transaction as the change it announces.

    The row is the truth; a Celery task is only the doorbell that says "deliver it now".
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    synchronization_id = models.UUIDField(db_index=True)
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
            models.UniqueConstraint(fields=["synchronization_id", "sequence"], name="outbox_unique_sequence"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due"),
            # A synchronization's delivery state reads only its undelivered messages; delivered ones
            # (nearly all, as history grows) stay out of this index.
            models.Index(fields=["synchronization_id", "sequence"], name="outbox_undelivered",
                         condition=~models.Q(state="delivered")),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} #{self.sequence} to {self.recipient} ({self.state})"


class InboundMessage(models.Model):
    """A partner's message, recorded in the same transaction as its effect: the dedupe table."""

    id = models.UUIDField(primary_key=True)  # the sender's message id
    synchronization_id = models.UUIDField(db_index=True)
    sequence = models.PositiveIntegerField()
    message_type = models.CharField(max_length=40)
    sender = models.CharField(max_length=200)
    body = models.BinaryField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at"]

    def __str__(self) -> str:
        return f"{self.message_type} #{self.sequence} from {self.sender}"
