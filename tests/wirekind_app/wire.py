"""The test app's kind: a ping with a text; the text "refuse" does not apply."""
from __future__ import annotations

from rest_framework import serializers

from invitations.kinds import Incoming, MessageKind, NotApplicable, Text


class PingPayload(serializers.Serializer):
    text = Text(max_length=100)


def ping_apply(message: Incoming) -> str:
    if message.payload["text"] == "refuse":
        raise NotApplicable("this ping does not apply")
    return "applied"


PING = MessageKind("wirekind_ping", PingPayload, ping_apply, lambda p: f"Ping “{p['text']}”", label="Ping")
