from __future__ import annotations

from django.apps import AppConfig


class QaConfig(AppConfig):
    """QA's kit: connect a pair of sites in one command, return a site to its seeded state."""

    name = "qa"
    verbose_name = "QA kit"
