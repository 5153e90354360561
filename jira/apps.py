from __future__ import annotations

from django.apps import AppConfig


class JiraConfig(AppConfig):
    """The simulated Jira site's own data: projects, issues, workflow, people, the app switch."""

    name = "jira"
    verbose_name = "Simulated Jira site"

    def ready(self) -> None:
        from jira import receivers  # noqa: F401  (connects the signal receivers)
