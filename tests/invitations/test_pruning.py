"""`prune_messages`: delivered messages and old bodies go, duplicates stay recognised."""
from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from invitations.models import InboundMessage, OutboxMessage
from invitations.pruning import duplicate_window_seconds
from synchronizations import services
from synchronizations.states import InvitationStatus
from tests.factories import PartnerKey, envelope, lifecycle, synchronization
from tests.invitations.test_inbox_refusals import send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inbox_site")]


def _prune(days: float) -> str:
    out = StringIO()
    call_command("prune_messages", "--older-than", str(days), stdout=out)
    return out.getvalue()


def test_it_keeps_a_pruned_message_recognised_as_a_duplicate(client: Client, key: PartnerKey) -> None:
    sync = synchronization(partner_key=key, status=InvitationStatus.INVITATION_SENT)
    accept = envelope(type="accept", synchronization_id=sync.pk, sequence=1)
    assert send(client, key, accept).json() == {"status": "applied"}
    InboundMessage.objects.update(received_at=timezone.now() - timedelta(days=31))

    assert "emptied 1 received bodies" in _prune(30)
    row = InboundMessage.objects.get(pk=accept.id)
    assert bytes(row.body) == b""  # the body is gone, the id is not
    # The partner retries the same message, freshly signed: acknowledged, not applied again.
    assert send(client, key, accept).json() == {"status": "duplicate"}
    assert lifecycle(sync).last_received == 1

    # Past the window in which the partner may still send it again, the id goes too.
    InboundMessage.objects.update(
        received_at=timezone.now() - timedelta(days=30, seconds=duplicate_window_seconds() + 60))
    assert "forgot 1 received ids" in _prune(30)
    assert not InboundMessage.objects.exists()
    # Even then it never applies twice: its sequence is behind the stream's.
    r = send(client, key, accept)
    assert r.status_code == 422 and "already applied" in r.json()["error"]


def test_it_drops_delivered_messages_only(client: Client, key: PartnerKey) -> None:
    sync = synchronization(partner_key=key, status=InvitationStatus.NOT_CONFIGURED)
    services.synchronization_scope_update(synchronization=sync, scope_mode="show_all")
    services.synchronization_scope_update(synchronization=sync, scope_mode="show_all")
    old = timezone.now() - timedelta(days=10)
    first, second = OutboxMessage.objects.order_by("sequence")
    OutboxMessage.objects.filter(pk=first.pk).update(state="delivered", delivered_at=old)
    OutboxMessage.objects.filter(pk=second.pk).update(state="failed", created_at=old)
    assert "deleted 1 delivered outgoing messages" in _prune(7)
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [second.pk]
    assert "deleted 0 delivered" in _prune(7)


def test_it_refuses_a_negative_age() -> None:
    with pytest.raises(CommandError, match="0 or more"):
        _prune(-1)
