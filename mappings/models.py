"""Mappings: shared by both sites, stored in one orientation (inviter side, invitee side).

Both sites hold the same rows with the same ids and versions; each page
shows them from its own side ("this site" / "partner").
"""
from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from synchronizations.models import Role, Synchronization


class Direction(models.TextChoices):
    BOTH = "both", "Both ways"
    INVITER_TO_INVITEE = "inviter_to_invitee", "Inviter to invitee"
    INVITEE_TO_INVITER = "invitee_to_inviter", "Invitee to inviter"


class Mapping(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    synchronization = models.ForeignKey(Synchronization, on_delete=models.CASCADE, related_name="mappings")
    name = models.CharField(max_length=120)
    inviter_project = models.CharField(max_length=10)
    invitee_project = models.CharField(max_length=10)
    issue_types = models.JSONField(default=list)  # [{"inviter": "Bug", "invitee": "Bug"}]
    field_pairs = models.JSONField(default=list)  # [{"inviter": "summary", "invitee": "summary", "direction": "both"}]
    value_maps = models.JSONField(default=dict)  # {inviter field id: [{"inviter": "Highest", "invitee": "Blocker"}]}
    comments = models.CharField(max_length=20, default="off")  # "off" or a Direction
    filter = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=False)
    warning = models.CharField(max_length=300, blank=True)  # why it was disabled for the admin to see
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=300, blank=True)
    # A deleted mapping stays as a tombstone so an edit crossing the delete cannot bring it back.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def wire(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "name": self.name, "inviter_project": self.inviter_project,
            "invitee_project": self.invitee_project, "issue_types": self.issue_types, "field_pairs": self.field_pairs,
            "value_maps": self.value_maps, "comments": self.comments, "filter": self.filter,
            "enabled": self.enabled, "version": self.version, "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


def sides(role: str) -> tuple[str, str]:
    """(this site's side, the partner's side) for a synchronization role."""
    return ("inviter", "invitee") if role == Role.INVITER else ("invitee", "inviter")
