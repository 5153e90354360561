from __future__ import annotations

from django.apps import AppConfig


class MappingsConfig(AppConfig):
    """What an accepted synchronization syncs: project pairs, issue types, fields, values, comments."""

    name = "mappings"
