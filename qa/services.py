"""QA's two actions: connect this site with a partner in one go, and reset this site to its seed.

Both only call the product's own service functions (and, for the partner, its admin REST
API): a pair made here went through exactly what an admin's clicks go through.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.migrations.loader import MigrationLoader
from rest_framework.authtoken.models import Token

from invitations.directory import InvalidAddress, SiteDirectory, normalize_address
from invitations.models import SiteKey
from jira.models import Project
from mappings.models import Mapping
from mappings.services import MappingInput, mapping_local_view, mapping_save
from qa.partner import PartnerApi, PartnerRefused
from synchronizations.models import Scope, Synchronization
from synchronizations.selectors import synchronization_delivery
from synchronizations.services import synchronization_create
from synchronizations.states import InvitationStatus

ACTIVE = InvitationStatus.ACTIVE
NOT_CONFIGURED = InvitationStatus.NOT_CONFIGURED
# What a QA mapping syncs: the fields the Add mapping form offers first, both ways, with comments.
QA_FIELDS = ("summary", "description")


class ConnectError(Exception):
    """qa_connect could not finish; the message says which step and why."""


@dataclass
class Connected:
    synchronization: Synchronization
    partner_status: str
    mappings: list[Mapping] = field(default_factory=list)
    reused: bool = False
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        sync = self.synchronization
        return {
            "id": str(sync.pk), "name": sync.name, "site": settings.SITE_ADDRESS, "partner": sync.partner_address,
            "status": {settings.SITE_ADDRESS: sync.status, sync.partner_address: self.partner_status},
            "mappings": [_mapping_json(m, sync.role) for m in self.mappings],
            "reused": self.reused, "seconds": round(self.seconds, 2),
        }


def _mapping_json(mapping: Mapping, role: str) -> dict[str, Any]:
    view = mapping_local_view(mapping, role)
    return {"id": str(mapping.pk), "name": view.name, "local_project": view.local_project,
            "partner_project": view.partner_project, "issue_types": [local for local, _ in view.issue_types],
            "enabled": view.enabled}


def pair_connect(
    *, partner_address: str, partner_token: str, mappings: list[tuple[str, str]], user: AbstractBaseUser,
    default_mapping: bool = False, name: str = "", timeout: float = 60, reuse: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Connected:
    """Invite the partner, accept on the partner through its admin API, add and enable the mappings,
    and wait until both sites show the result (Active, or Not configured without mappings).

    Everything that can be checked is checked before anything is created: the address, the
    partner's token, both sides' projects.
    """
    started = time.monotonic()
    deadline = started + timeout
    try:
        address = normalize_address(partner_address)
    except InvalidAddress as e:
        raise ConnectError(f"--partner: {e}") from None
    if address == settings.SITE_ADDRESS:
        raise ConnectError("--partner is this site itself; name the other site.")
    if address not in SiteDirectory.load():
        raise ConnectError(f"{address} is not in this site's directory (SITE_DIRECTORY): it cannot be reached.")
    if not partner_token:
        raise ConnectError(f"No API token for {address}: pass --partner-token (on the partner, "
                           "`manage.py admin_token` prints one).")
    partner = PartnerApi(address, partner_token)
    try:
        partner_projects = partner.project_keys()
    except PartnerRefused as e:
        if e.status in (401, 403):
            raise ConnectError(f"{address} refused the API token ({e.status}): use an administrator's token "
                               "from `manage.py admin_token` run on that site.") from None
        raise ConnectError(f"{address} could not be asked: {e}") from None
    own_projects = set(Project.objects.values_list("key", flat=True))
    if not mappings and default_mapping and own_projects and partner_projects:
        mappings = [(_main_project(settings.SITE_NAME, own_projects), _main_project(_site_name(address),
                                                                                    partner_projects))]
    for local, remote in mappings:
        if local not in own_projects:
            raise ConnectError(f"--mapping {local}={remote}: {local} is not a project of {settings.SITE_ADDRESS} "
                               f"(it has {', '.join(sorted(own_projects))}).")
        if remote not in partner_projects:
            raise ConnectError(f"--mapping {local}={remote}: {remote} is not a project of {address} "
                               f"(it has {', '.join(sorted(partner_projects))}).")
    target = ACTIVE if mappings else NOT_CONFIGURED

    if reuse:
        found = _reusable(partner, address, target)
        if found is not None:
            return Connected(found, target, list(found.mappings.filter(deleted_at__isnull=True)), reused=True,
                             seconds=time.monotonic() - started)

    name = name or f"QA: {settings.SITE_NAME} and {_site_name(address)}"
    try:
        sync = synchronization_create(name=name, partner_address=address, scope_mode=Scope.Mode.SHOW_ALL, user=user)
    except ValidationError as e:
        raise ConnectError(f"The invitation was refused: {'; '.join(e.messages)}") from None
    progress(f"Invited {address}: synchronization {sync.pk}")

    _wait(lambda: (partner.synchronization(str(sync.pk)) or {}).get("status") == InvitationStatus.INVITATION_RECEIVED,
          deadline, sync, f"{address} to receive the invitation")
    try:
        partner.post(f"/api/synchronizations/{sync.pk}/accept/", {"mode": Scope.Mode.SHOW_ALL})
    except PartnerRefused as e:
        raise ConnectError(f"{address} did not accept: {e}") from None
    progress(f"Accepted on {address}")
    _wait(lambda: _reload(sync).status == NOT_CONFIGURED, deadline, sync,
          f"{settings.SITE_ADDRESS} to hear that {address} accepted")

    made = []
    for local, remote in mappings:
        made.append(_mapping_add(sync, local, remote, user))
        progress(f"Mapping {made[-1].name} added and enabled")
    _wait(lambda: _reload(sync).status == target and _partner_status(partner, sync) == target, deadline, sync,
          f"both sites to show {target.label}")
    return Connected(_reload(sync), target, made, seconds=time.monotonic() - started)


def _site_name(address: str) -> str:
    return address.removeprefix("https://").split(".")[0]


def _main_project(site_name: str, keys: set[str]) -> str:
    """The project named like the site (ALPHA on alpha), else the first by key, as the pages list them."""
    return site_name.upper() if site_name.upper() in keys else sorted(keys)[0]


def _reusable(partner: PartnerApi, address: str, target: str) -> Synchronization | None:
    """The newest synchronization with this partner that both sites show as `target`."""
    for sync in Synchronization.listed.filter(partner_address=address, status=target).order_by("-updated_at"):
        if _partner_status(partner, sync) == target:
            return sync
    return None


def _partner_status(partner: PartnerApi, sync: Synchronization) -> str | None:
    return (partner.synchronization(str(sync.pk)) or {}).get("status")


def _reload(sync: Synchronization) -> Synchronization:
    sync.refresh_from_db()
    return sync


def _mapping_add(sync: Synchronization, local: str, remote: str, user: AbstractBaseUser) -> Mapping:
    own_types = [t.name for t in _reload(sync).scope.visible_issue_types()]
    partner_types = {t["name"] for t in (sync.partner_visible or {}).get("issue_types", [])}
    shared = [t for t in own_types if t in partner_types]
    if not shared:
        raise ConnectError(f"--mapping {local}={remote}: the sites have no issue type of the same name to pair.")
    data = MappingInput(
        name=f"{local} <-> {remote}", local_project=local, partner_project=remote,
        issue_types=[(t, t) for t in shared], fields=[(f, f, "both") for f in QA_FIELDS],
        comments="both", enabled=True,
    )
    try:
        return mapping_save(synchronization=sync, data=data, user=user)
    except ValidationError as e:
        raise ConnectError(f"--mapping {local}={remote} was refused: {'; '.join(e.messages)}") from None


def _wait(condition: Callable[[], bool], deadline: float, sync: Synchronization, what: str) -> None:
    """Poll `condition` until the deadline; a timeout says what this site's delivery looks like."""
    last_error = ""
    while True:
        try:
            if condition():
                return
        except PartnerRefused as e:  # a partner restarting is not the end; the deadline is
            last_error = str(e)
        if time.monotonic() > deadline:
            delivery = synchronization_delivery(sync)
            detail = f"; this site's delivery is {delivery.state}" + (f": {delivery.error}" if delivery.error else "")
            if last_error:
                detail += f"; the partner last answered: {last_error}"
            raise ConnectError(f"Timed out waiting for {what} (synchronization {sync.pk}{detail}).")
        time.sleep(0.1)


# --- reset ---------------------------------------------------------------


@dataclass(frozen=True)
class ResetDone:
    key_id: str
    kept_key: bool
    kept_tokens: int


def site_reset(*, new_keys: bool = False) -> ResetDone:
    """Empty every table and seed again, in one transaction: the site as `bin/site prepare` left it.

    By default the site keeps its signing key (partners that pinned it still trust it) and its
    users' API tokens (QA scripts keep working); `new_keys` drops both, like a new site. Every
    table is emptied, whatever apps add later, and ids restart, so two resets give the same rows.
    """
    with transaction.atomic():
        keys = [] if new_keys else list(SiteKey.objects.all())
        tokens = [] if new_keys else list(Token.objects.select_related("user"))
        keep = {SiteKey._meta.db_table} if keys else set()
        tables = [t for t in connection.introspection.django_table_names(only_existing=True, include_views=False)
                  if t not in keep]
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables, reset_sequences=True))
        # What `migrate` makes after the migrations (content types, permissions), from the same migration
        # state, so that their ids come out as on a new site; then the seed itself.
        state = MigrationLoader(connection).project_state()
        emit_post_migrate_signal(0, False, DEFAULT_DB_ALIAS, apps=state.apps, plan=[])
        call_command("seed_site", stdout=StringIO())
        # A token comes back for a user the seed made again (admin, member), with its old key and date.
        users = {u.get_username(): u for u in get_user_model().objects.all()}
        kept = 0
        for token in tokens:
            user = users.get(token.user.get_username())
            if user is not None:
                Token.objects.create(key=token.key, user=user)
                Token.objects.filter(key=token.key).update(created=token.created)
                kept += 1
    key = SiteKey.objects.get(slot=1)
    return ResetDone(key_id=key.key_id, kept_key=bool(keys), kept_tokens=kept)
