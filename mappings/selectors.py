"""What the pages show about a synchronization's mappings, from this site's side."""
from __future__ import annotations

from dataclasses import dataclass

from mappings.models import Mapping
from mappings.services import LOCAL_DIRECTIONS, MappingInput, mapping_local_view
from synchronizations.models import Synchronization


@dataclass
class MappingRow:
    mapping: Mapping
    view: MappingInput

    @property
    def issue_types(self) -> str:
        return ", ".join(f"{local} ↔ {partner}" for local, partner in self.view.issue_types)

    @property
    def comments(self) -> str:
        return "Not synced" if self.view.comments == "off" else LOCAL_DIRECTIONS[self.view.comments]


def mapping_rows(sync: Synchronization) -> list[MappingRow]:
    return [MappingRow(m, mapping_local_view(m, sync.role))
            for m in Mapping.objects.filter(synchronization=sync, deleted_at__isnull=True)]
