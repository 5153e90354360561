"""Print a new API token for a user, for scripts: `manage.py api_token USERNAME [--label NAME]`."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jira.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (HTTP Basic: the user's email and this token)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--label", default="Command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not user.email:
            raise CommandError(f"{user.username} has no email address: API tokens are used with the email.")
        _, token = api_token_create(user=user, label=options["label"])
        self.stdout.write(token)
