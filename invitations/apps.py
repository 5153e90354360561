from __future__ import annotations

from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    """The wire: message format, signing, the inbound endpoint, the outbox and its delivery."""

    name = "invitations"

    def ready(self) -> None:
        from invitations import checks  # noqa: F401
