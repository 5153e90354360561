"""Connect this site with a partner in one command: invite, accept on the partner, map, wait for Active."""
from __future__ import annotations

import json
import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from qa.services import Connected, ConnectError, pair_connect


def _pair(value: str) -> tuple[str, str]:
    local, sep, remote = value.partition("=")
    if not sep or not local.strip() or not remote.strip():
        raise ValueError(value)
    return local.strip().upper(), remote.strip().upper()


class Command(BaseCommand):
    help = ("Invite the partner, accept on the partner through its admin REST API, add and enable the mappings, "
            "and wait until both sites show Active. Prints what it made.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partner", required=True, help="The partner's address, https://NAME.atlassian.net.")
        parser.add_argument("--partner-token", default=os.getenv("PARTNER_API_TOKEN", ""),
                            help="An administrator's API token on the partner (`manage.py admin_token` there); "
                                 "default: $PARTNER_API_TOKEN.")
        parser.add_argument("--mapping", action="append", default=[], metavar="PROJECT=PROJECT",
                            help="This site's project = the partner's project; repeat for more. Issue types of "
                                 "the same name are paired; summary, description and comments sync both ways. "
                                 "Default: each site's main project (named like the site, else its first).")
        parser.add_argument("--no-mapping", action="store_true",
                            help="Add no mapping: stop when both sites show Not configured.")
        parser.add_argument("--name", default="", help="The synchronization's name.")
        parser.add_argument("--user", default="admin", help="This site's administrator who acts (default: admin).")
        parser.add_argument("--timeout", type=float, default=60, help="Seconds to wait for both sites (default 60).")
        parser.add_argument("--reuse", action="store_true",
                            help="If both sites already show such a synchronization with this partner, print it "
                                 "instead of making another.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mappings = [_pair(m) for m in options["mapping"]]
        except ValueError as e:
            raise CommandError(f"--mapping {e}: write THIS_PROJECT=PARTNER_PROJECT, for example ALPHA=BETA.") from None
        if options["no_mapping"] and mappings:
            raise CommandError("--no-mapping and --mapping contradict each other.")
        user = get_user_model().objects.filter(username=options["user"], is_staff=True).first()
        if user is None:
            raise CommandError(f"{options['user']!r} is not an administrator of {settings.SITE_ADDRESS}.")
        progress = (lambda _: None) if options["json"] else (lambda line: self.stdout.write(line))
        try:
            done = pair_connect(
                partner_address=options["partner"], partner_token=options["partner_token"].strip(),
                mappings=mappings, default_mapping=not options["no_mapping"], user=user, name=options["name"],
                timeout=options["timeout"], reuse=options["reuse"], progress=progress,
            )
        except ConnectError as e:
            raise CommandError(str(e)) from None
        if options["json"]:
            self.stdout.write(json.dumps(done.as_json(), indent=2))
        else:
            self.stdout.write(_summary(done))


def _summary(done: Connected) -> str:
    sync = done.synchronization
    data = done.as_json()
    lines = [
        f"{'Reused' if done.reused else 'Made'} synchronization “{sync.name}” {sync.pk}",
        *(f"  {site:34} {status}" for site, status in data["status"].items()),
    ]
    for m in data["mappings"]:
        lines.append(f"  mapping {m['name']} {m['id']}: issue types {', '.join(m['issue_types'])}; "
                     "summary, description and comments both ways")
    lines.append(f"  in {data['seconds']} s")
    return "\n".join(lines)
