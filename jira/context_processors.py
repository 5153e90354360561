from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    # `site_name` is also what Django's LoginView puts in its own context (the request's host and
    # port), which wins over this; pages that must show this site's name use `jira_site_name`.
    return {"site_name": settings.SITE_NAME, "jira_site_name": settings.SITE_NAME,
            "site_address": settings.SITE_ADDRESS}
