from __future__ import annotations

from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    """Issue Sync itself: issues and comments flow between partner sites through the active mappings."""

    name = "replication"
    verbose_name = "Issue replication"

    def ready(self) -> None:
        from jira.signals import issue_changed
        from replication import receivers, wire

        wire.kinds_register()
        issue_changed.connect(receivers.on_issue_changed, dispatch_uid="replication.on_issue_changed")
