from __future__ import annotations

from django.apps import AppConfig


class SynchronizationsConfig(AppConfig):
    """The admin's world: synchronizations, their state machine, pages and the local API."""

    name = "synchronizations"

    def ready(self) -> None:
        from invitations.kinds import kind_register
        from synchronizations.wire import KINDS

        for kind in KINDS:
            kind_register(kind)
