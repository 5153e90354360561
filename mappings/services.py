"""Every change to a mapping, and applying the partner's mapping messages.

Saving on either site sends the whole mapping with its version through the
same outbox; an edit made on a stale version is refused, never merged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invitations.kinds import Incoming
from mappings.fields import OPTION_KINDS, compatibility_error, site_fields
from mappings.filters import FilterError, filter_compile
from mappings.models import Direction, Mapping, sides
from synchronizations.models import Role, Synchronization
from synchronizations.services import ActionRefused, User, synchronization_locked, synchronization_send, username
from synchronizations.states import ACCEPTED, Configured, next_status

# Directions as the admin sees them, from this site's side.
LOCAL_DIRECTIONS = {"both": "Both ways", "to_partner": "To the partner only", "from_partner": "From the partner only"}


class StaleMapping(ActionRefused):
    """The mapping changed since the admin loaded it."""


@dataclass
class MappingInput:
    """A mapping as this site's admin edits it: "local" is this site, "partner" the other."""

    name: str
    local_project: str
    partner_project: str
    issue_types: list[tuple[str, str]] = field(default_factory=list)  # (local, partner)
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (local, partner, local direction)
    value_maps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # local field: [(partner, local)]
    comments: str = "off"  # "off" or a local direction
    filter: str = ""
    enabled: bool = True


def _canonical_direction(role: str, local_direction: str) -> str:
    if local_direction == "both":
        return Direction.BOTH
    outgoing = local_direction == "to_partner"
    inviter_sends = outgoing == (role == Role.INVITER)
    return Direction.INVITER_TO_INVITEE if inviter_sends else Direction.INVITEE_TO_INVITER


def local_direction(role: str, direction: str) -> str:
    if direction == Direction.BOTH:
        return "both"
    inviter_sends = direction == Direction.INVITER_TO_INVITEE
    return "to_partner" if inviter_sends == (role == Role.INVITER) else "from_partner"


def mapping_local_view(mapping: Mapping, role: str) -> MappingInput:
    me, partner = sides(role)
    return MappingInput(
        name=mapping.name,
        local_project=getattr(mapping, f"{me}_project"),
        partner_project=getattr(mapping, f"{partner}_project"),
        issue_types=[(p[me], p[partner]) for p in mapping.issue_types],
        fields=[(f[me], f[partner], local_direction(role, f["direction"])) for f in mapping.field_pairs],
        value_maps={
            next((f[me] for f in mapping.field_pairs if f["inviter"] == k), k):
                [(v[partner], v[me]) for v in values]
            for k, values in mapping.value_maps.items()
        },
        comments="off" if mapping.comments == "off" else local_direction(role, mapping.comments),
        filter=mapping.filter,
        enabled=mapping.enabled,
    )


def _validate(sync: Synchronization, data: MappingInput) -> dict[str, Any]:
    """Check the admin's input against both scopes; return the canonical (inviter/invitee) form."""
    errors: dict[str, list[str]] = {}

    def err(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    me, partner = sides(sync.role)
    own_projects = set(sync.scope.visible_projects().values_list("key", flat=True))
    own_types = set(sync.scope.visible_issue_types().values_list("name", flat=True))
    theirs = sync.partner_visible or {}
    partner_projects = {p["key"] for p in theirs.get("projects", [])}
    partner_types = {t["name"] for t in theirs.get("issue_types", [])}
    own_fields = {f["id"]: f for f in site_fields()}
    partner_fields = {f["id"]: f for f in theirs.get("mappable_fields", [])}

    if not data.name.strip():
        err("name", "Enter a name for the mapping.")
    if data.local_project not in own_projects:
        err("local_project", "Choose one of this site's projects that the scope shows.")
    if data.partner_project not in partner_projects:
        err("partner_project", "Choose one of the partner's projects that its scope shows.")
    if not data.issue_types:
        err("issue_types", "Add at least one pair of issue types.")
    for local, remote in data.issue_types:
        if not (local and remote):
            err("issue_types", f"Pair {local or remote} with an issue type of the other site.")
            continue
        if local not in own_types:
            err("issue_types", f"{local} is not an issue type this site's scope shows.")
        if remote not in partner_types:
            err("issue_types", f"{remote} is not an issue type the partner's scope shows.")
    canonical_fields = []
    option_pairs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for local, remote, direction in data.fields:
        if direction not in LOCAL_DIRECTIONS:
            err("fields", f"Choose a direction for {local}.")
            continue
        if not (local and remote):
            err("fields", f"Pair {own_fields.get(local, partner_fields.get(remote, {})).get('name', local or remote)} "
                          f"with a field of the other site.")
            continue
        lf, pf = own_fields.get(local), partner_fields.get(remote)
        if lf is None:
            err("fields", f"{local} is not a field of this site.")
            continue
        if pf is None:
            err("fields", f"{remote} is not a field of the partner.")
            continue
        problem = compatibility_error(lf, pf)
        if problem:
            err("fields", problem)
            continue
        canonical_fields.append({me: local, partner: remote, "direction": _canonical_direction(sync.role, direction)})
        if lf["kind"] in OPTION_KINDS:
            option_pairs[local] = (lf, pf)
    canonical_values: dict[str, list[dict[str, str]]] = {}
    for local_field, pairs in data.value_maps.items():
        if local_field not in option_pairs:
            err("value_maps", f"Values can only be mapped for a mapped select or status field, not {local_field}.")
            continue
        lf, pf = option_pairs[local_field]
        inviter_field = next(f["inviter"] for f in canonical_fields if f[me] == local_field)
        for remote_value, local_value in pairs:
            if lf["options"] and local_value not in lf["options"]:
                err("value_maps", f"{local_value} is not a value of {lf['name']}.")
            elif pf["options"] and remote_value not in pf["options"]:
                err("value_maps", f"{remote_value} is not a value of the partner's {pf['name']}.")
            else:
                canonical_values.setdefault(inviter_field, []).append({me: local_value, partner: remote_value})
    if data.comments != "off" and data.comments not in LOCAL_DIRECTIONS:
        err("comments", "Choose whether and which way comments sync.")
    try:
        filter_compile(data.filter)
    except FilterError as e:
        err("filter", f"The filter is not valid: {e}")
    if errors:
        raise ValidationError(errors)
    return {
        f"{me}_project": data.local_project, f"{partner}_project": data.partner_project,
        "issue_types": [{me: local, partner: remote} for local, remote in data.issue_types],
        "field_pairs": canonical_fields, "value_maps": canonical_values,
        "comments": "off" if data.comments == "off" else _canonical_direction(sync.role, data.comments),
        "filter": data.filter.strip(), "name": data.name.strip(), "enabled": data.enabled, "warning": "",
    }


def _editable(synchronization: Synchronization) -> Synchronization:
    sync = synchronization_locked(synchronization.pk)
    if sync is None:
        raise Synchronization.DoesNotExist("Synchronization matching query does not exist.")
    if sync.status not in ACCEPTED:
        raise ActionRefused(
            f"Mappings can be configured once the invitation is accepted; this synchronization is "
            f"{sync.get_status_display()}."
        )
    return sync


def _locked_mapping(sync: Synchronization, mapping_id: Any, base_version: int | None) -> Mapping:
    mapping = Mapping.objects.select_for_update().filter(pk=mapping_id, synchronization=sync,
                                                         deleted_at__isnull=True).first()
    if mapping is None:
        raise ActionRefused("This mapping no longer exists; it was deleted.")
    if base_version is not None and base_version != mapping.version:
        raise StaleMapping(
            f"This mapping was changed by {mapping.updated_by or 'the partner'} at "
            f"{mapping.updated_at:%Y-%m-%d %H:%M:%S} UTC. Reload to see the change, then edit again."
        )
    return mapping


def _stamp(mapping: Mapping, user: User) -> None:
    mapping.version += 1
    mapping.updated_at = timezone.now()
    mapping.updated_by = f"{username(user) or 'admin'} ({settings.SITE_ADDRESS})"


def refresh_status(sync: Synchronization) -> None:
    """After a change to the mappings: the state table says what it makes of the synchronization.

    (Active while at least one mapping is enabled, Not configured when none is; nothing for
    a synchronization that is not accepted, or no longer.)
    """
    enabled = Mapping.objects.filter(synchronization=sync, enabled=True, deleted_at__isnull=True).exists()
    new = next_status(sync.status_enum, Configured.SOME_ENABLED if enabled else Configured.NONE_ENABLED)
    if new is not None:
        sync.status = new


def mapping_save(
    *, synchronization: Synchronization, data: MappingInput, mapping_id: Any = None,
    base_version: int | None = None, user: User = None,
) -> Mapping:
    """Add (no mapping_id) or edit a mapping; `base_version` is the version the admin edited."""
    with transaction.atomic():
        sync = _editable(synchronization)
        values = _validate(sync, data)
        if mapping_id is None:
            mapping = Mapping(synchronization=sync, updated_at=timezone.now())
        else:
            mapping = _locked_mapping(sync, mapping_id, base_version)
        for key, value in values.items():
            setattr(mapping, key, value)
        _stamp(mapping, user)
        mapping.save()
        refresh_status(sync)
        synchronization_send(sync, "mapping_saved", {"mapping": mapping.wire()}, user)
        sync.save()
    return mapping


def mapping_set_enabled(
    *, mapping: Mapping, enabled: bool, base_version: int | None = None, user: User = None
) -> Mapping:
    with transaction.atomic():
        sync = _editable(mapping.synchronization)
        locked = _locked_mapping(sync, mapping.pk, base_version)
        if enabled:
            # Re-check against today's scopes: a mapping disabled by narrowing stays off until fixed.
            _validate(sync, mapping_local_view(locked, sync.role))
        locked.enabled = enabled
        locked.warning = ""
        _stamp(locked, user)
        locked.save()
        refresh_status(sync)
        synchronization_send(sync, "mapping_saved", {"mapping": locked.wire()}, user)
        sync.save()
    return locked


def mapping_delete(*, mapping: Mapping, base_version: int | None = None, user: User = None) -> None:
    with transaction.atomic():
        sync = _editable(mapping.synchronization)
        locked = _locked_mapping(sync, mapping.pk, base_version)
        locked.deleted_at = timezone.now()
        locked.enabled = False
        _stamp(locked, user)
        locked.save()
        refresh_status(sync)
        synchronization_send(sync, "mapping_deleted", {"id": str(locked.pk), "version": locked.version}, user)
        sync.save()


def mapping_message_apply(sync: Synchronization, message: Incoming) -> None:
    """Apply a partner's mapping message; the caller holds the synchronization's lock.

    Versions decide: a newer version replaces ours; when both sites edited the
    same version at once, the inviter's edit wins on both sides; a delete wins
    over any edit (the tombstone stays).
    """
    if message.kind == "mapping_deleted":
        Mapping.objects.filter(pk=message.payload["id"], synchronization=sync).update(
            deleted_at=timezone.now(), enabled=False
        )
        refresh_status(sync)
        return
    data = message.payload["mapping"]
    mapping = Mapping.objects.select_for_update().filter(pk=data["id"]).first()
    if mapping is not None and mapping.synchronization_id != sync.pk:
        return
    sender_is_inviter = sync.role == Role.INVITEE
    if mapping is not None and (
        mapping.deleted_at
        or data["version"] < mapping.version
        or (data["version"] == mapping.version and not sender_is_inviter)
    ):
        return
    if mapping is None:
        mapping = Mapping(id=data["id"], synchronization=sync)
    for key in ("name", "inviter_project", "invitee_project", "issue_types", "field_pairs", "value_maps", "comments",
                "filter", "enabled", "version", "updated_by"):
        setattr(mapping, key, data[key])
    mapping.updated_at = parse_datetime(data["updated_at"]) or timezone.now()
    mapping.warning = ""
    mapping.save()
    mappings_check_scope(sync)


def mappings_check_scope(sync: Synchronization) -> list[Mapping]:
    """Disable (never delete) the mappings that either scope no longer shows. Same result on both sites."""
    me, partner = sides(sync.role)
    own_projects = set(sync.scope.visible_projects().values_list("key", flat=True))
    own_types = set(sync.scope.visible_issue_types().values_list("name", flat=True))
    theirs = sync.partner_visible or {}
    partner_projects = {p["key"] for p in theirs.get("projects", [])}
    partner_types = {t["name"] for t in theirs.get("issue_types", [])}
    disabled = []
    for mapping in Mapping.objects.filter(synchronization=sync, enabled=True, deleted_at__isnull=True):
        hidden = [getattr(mapping, f"{me}_project")] if getattr(mapping, f"{me}_project") not in own_projects else []
        if getattr(mapping, f"{partner}_project") not in partner_projects:
            hidden.append(getattr(mapping, f"{partner}_project"))
        hidden += [p[me] for p in mapping.issue_types if p[me] not in own_types]
        hidden += [p[partner] for p in mapping.issue_types if p[partner] not in partner_types]
        if hidden:
            mapping.enabled = False
            mapping.warning = (f"Disabled because a scope no longer shows {', '.join(sorted(set(hidden)))}. "
                               "Widen the scope or edit the mapping, then enable it again.")
            mapping.save(update_fields=["enabled", "warning"])
            disabled.append(mapping)
    refresh_status(sync)
    return disabled
