"""Return this site to its seeded state, so that a scenario can run again from scratch."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from qa.services import site_reset


class Command(BaseCommand):
    help = ("Delete everything this site holds (synchronizations, mappings, messages, users' changes...) and "
            "seed it again, in one transaction. Keeps the signing key and API tokens unless --new-keys.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-keys", action="store_true",
                            help="Also make a new signing key and drop every API token, like a new site.")

    def handle(self, *args: Any, **options: Any) -> None:
        done = site_reset(new_keys=options["new_keys"])
        key = "kept its signing key" if done.kept_key else "made a new signing key"
        self.stdout.write(f"{settings.SITE_ADDRESS}: reset to its seeded state; {key} {done.key_id}; "
                          f"kept {done.kept_tokens} API token(s)")
