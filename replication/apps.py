from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_save


class ReplicationConfig(AppConfig):
    """Issue Sync itself: issues and comments flow between partner sites through the active mappings."""

    name = "replication"
    verbose_name = "Issue replication"

    def ready(self) -> None:
        from jira.panels import issue_panel_register
        from jira.signals import issue_changed
        from replication import receivers, selectors, views, wire
        from synchronizations.extensions import detail_context_register, row_notes_register

        wire.kinds_register()
        row_notes_register(selectors.row_notes)
        detail_context_register(selectors.detail_context)
        issue_changed.connect(receivers.on_issue_changed, dispatch_uid="replication.on_issue_changed")
        post_save.connect(receivers.on_mapping_saved, sender="mappings.Mapping",
                          dispatch_uid="replication.on_mapping_saved")
        issue_panel_register(views.issue_panel)
        request_started.connect(receivers.on_request_started, dispatch_uid="replication.on_request_started")
        request_finished.connect(receivers.on_request_finished, dispatch_uid="replication.on_request_finished")
