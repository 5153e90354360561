from __future__ import annotations

from django.apps import AppConfig


class JiraConfig(AppConfig):
    """The simulated Jira site's own data: projects, issue types, the app switch."""

    name = "jira"
    verbose_name = "Simulated Jira site"
