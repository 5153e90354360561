"""What the pages show about a synchronization's mappings, from this site's side."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mappings.fields import site_fields
from mappings.models import Mapping
from mappings.services import LOCAL_DIRECTIONS, MappingInput, mapping_local_view
from synchronizations.models import Synchronization

ARROWS = {"both": "↔", "to_partner": "→", "from_partner": "←"}


@dataclass
class MappingRow:
    mapping: Mapping
    view: MappingInput
    field_names: str = ""  # "Summary ↔ Summary, Customer → Client": the fields named, not counted

    @property
    def issue_types(self) -> str:
        return ", ".join(f"{local} ↔ {partner}" for local, partner in self.view.issue_types)

    @property
    def comments(self) -> str:
        return "Not synced" if self.view.comments == "off" else LOCAL_DIRECTIONS[self.view.comments]


def mapping_rows(sync: Synchronization) -> list[MappingRow]:
    ours = {f["id"]: f["name"] for f in site_fields()}
    theirs = {f["id"]: f["name"] for f in (sync.partner_visible or {}).get("mappable_fields", [])}
    rows = []
    for m in Mapping.objects.filter(synchronization=sync, deleted_at__isnull=True):
        view = mapping_local_view(m, sync.role)
        names = ", ".join(f"{ours.get(local, local)} {ARROWS.get(direction, '↔')} {theirs.get(partner, partner)}"
                          for local, partner, direction in view.fields)
        rows.append(MappingRow(m, view, names))
    return rows


def mapping_enabled_names(sync: Synchronization) -> dict[Any, str]:
    """The enabled mappings by id: what a narrower scope may disable."""
    return dict(Mapping.objects.filter(synchronization=sync, enabled=True, deleted_at__isnull=True)
                .values_list("pk", "name"))
