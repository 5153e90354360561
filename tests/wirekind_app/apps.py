"""A test app that owns one message kind, to show that adding a kind touches nothing in invitations/.

The live sites of tests/integration install it through EXTRA_APPS.
"""
from __future__ import annotations

from django.apps import AppConfig


class WireKindTestConfig(AppConfig):
    name = "tests.wirekind_app"
    label = "wirekind_app"

    def ready(self) -> None:
        from invitations.kinds import kind_register
        from tests.wirekind_app.wire import PING

        kind_register(PING)
