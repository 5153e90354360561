"""IssueSync: one running copy is one simulated Jira Cloud site."""
from __future__ import annotations

from issuesync.celery import app as celery_app

__all__ = ["celery_app"]
