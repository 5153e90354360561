from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class MappingsConfig(AppConfig):
    """What an accepted synchronization syncs: project pairs, issue types, fields, values, comments."""

    name = "mappings"

    def ready(self) -> None:
        from invitations.kinds import kind_register
        from mappings.selectors import mapping_enabled_names, mapping_rows
        from mappings.services import mappings_check_scope
        from mappings.wire import KINDS
        from synchronizations.extensions import detail_context_register, scope_dependents_register
        from synchronizations.signals import scope_changed

        for kind in KINDS:
            kind_register(kind)

        def check_scope(sender: Any, synchronization: Any, **kwargs: Any) -> None:
            mappings_check_scope(synchronization)

        scope_changed.connect(check_scope, weak=False, dispatch_uid="mappings.check_scope")
        detail_context_register(lambda sync: {"mappings": mapping_rows(sync)})
        scope_dependents_register(mapping_enabled_names)
