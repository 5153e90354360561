"""`manage.py prune_messages --older-than DAYS`: drop delivered messages and received bodies past their use."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from invitations.pruning import messages_prune


class Command(BaseCommand):
    help = ("Delete delivered outgoing messages and empty received message bodies older than DAYS; the ids of "
            "received messages stay as long as a partner may still send one again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                            help=f"age in days (default: MESSAGE_RETENTION_DAYS, {settings.MESSAGE_RETENTION_DAYS})")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"]
        if days is None:
            days = settings.MESSAGE_RETENTION_DAYS
        if days < 0:
            raise CommandError("--older-than takes a number of days, 0 or more.")
        pruned = messages_prune(older_than_days=days)
        self.stdout.write(f"deleted {pruned.outbox_deleted} delivered outgoing messages, emptied "
                          f"{pruned.bodies_dropped} received bodies, forgot {pruned.inbound_deleted} received ids")
