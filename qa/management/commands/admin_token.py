"""Print an administrator's API token for the admin REST API (`Authorization: Token ...`)."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the user's API token for /api/ (made on first use; --renew replaces it). Only the token is printed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="admin", help="An administrator's username (default: admin).")
        parser.add_argument("--renew", action="store_true", help="Replace the token: the old one stops working.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r} on this site (run `manage.py seed_site` first?).")
        if not user.is_staff:
            raise CommandError(f"{options['user']} is not a site administrator: the admin API would refuse its token.")
        if options["renew"]:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
