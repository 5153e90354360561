"""System checks for the settings the wire cannot run without."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_site_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    from invitations.directory import InvalidAddress, SiteDirectory, normalize_address

    errors = []
    try:
        normalize_address(settings.SITE_ADDRESS)
    except InvalidAddress as e:
        errors.append(Error(f"SITE_ADDRESS is not valid: {e}", id="issuesync.E001"))
    try:
        SiteDirectory.from_setting(settings.SITE_DIRECTORY)
    except ValueError as e:
        errors.append(Error(f"SITE_DIRECTORY is not valid: {e}", id="issuesync.E002"))
    return errors
