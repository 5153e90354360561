from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    """The wire: message format, signing, the inbound endpoint, the outbox and its delivery."""

    name = "invitations"

    def ready(self) -> None:
        from invitations import checks  # noqa: F401
        from jira.signals import site_seeded

        site_seeded.connect(_site_key_create, dispatch_uid="invitations.site_key")


def _site_key_create(**kwargs: Any) -> str:
    """Seeding a site creates its signing key (else the first message or discovery would)."""
    from invitations.keys import site_key_load_or_create

    return f"signing key {site_key_load_or_create().key_id}"
