"""Every user gets a Jira profile (accountId, display name) when created, however it is created."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=User, dispatch_uid="jira-profile-for-user")
def user_profile_create(sender: type[User], instance: User, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        from jira.services import profile_ensure

        profile_ensure(user=instance)
