"""Failed-login lockout (django-axes) wired into every way in: the login pages and the APIs.

Every `django.contrib.auth.authenticate(request=..., ...)` goes through `LockoutBackend` first: after
LOGIN_LOCKOUT_FAILURES wrong passwords for one username from one client address, that username is
refused there, even with the right password, until LOGIN_LOCKOUT_MINUTES have passed since the failure
that locked it (an admin sees the lock at /django-admin/axes/accessattempt/ and may unlock it sooner by
deleting it). Pages get the login page with the reason, APIs a JSON 429 with the same message.
"""
from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.conf import settings as axes_settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db import router
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.response import Response

from issuesync.prepared import Param, Prepared

API_PREFIXES = ("/api/", "/rest/")


class LockoutBackend(AxesStandaloneBackend):
    """axes' backend, except for `authenticate()` without a request (a shell, a management command).

    No client stands behind such a call, so there is nothing to throttle; axes would refuse it outright.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None,  # type: ignore[override]
                     password: str | None = None, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler (AXES_HANDLER), with the attempts that every login counts read by a
    statement built once per process (issuesync.prepared).

    axes builds that query with the ORM on each login, the API's included, where building it took more
    than the database's answer (docs/benchmarks.md). The count is the same: the failures since the
    cool-off began, summed per lockout parameter set, the highest of them. Anything the statement does
    not say (no cool-off, a parameter without a value) is counted by axes itself.
    """

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        parameters = get_client_parameters(get_client_username(request, credentials),
                                           request.axes_ip_address, request.axes_user_agent,  # type: ignore[attr-defined]
                                           request, credentials)
        if (axes_settings.AXES_COOLOFF_TIME is None or not parameters
                or any(not isinstance(value, str) or not value for kw in parameters for value in kw.values())):
            return int(super().get_failures(request, credentials))
        since = get_cool_off_threshold(request)
        using = router.db_for_read(AccessAttempt)
        return max(sum(a.failures_since_start for a in _recent_attempts(tuple(kw)).all(using, since=since, **kw))
                   for kw in parameters)


@functools.cache
def _recent_attempts(names: tuple[str, ...]) -> Prepared[AccessAttempt]:
    """The attempts matching a lockout parameter set (`names`: their values) made at or after `since`."""
    field = AccessAttempt._meta.get_field
    return Prepared(lambda: AccessAttempt.objects.filter(
        attempt_time__gte=Param("since", field("attempt_time")),
        **{name: Param(name, field(name)) for name in names}).only("failures_since_start"))


def lockout_message() -> str:
    cooloff: timedelta = settings.AXES_COOLOFF_TIME
    seconds = round(cooloff.total_seconds())
    period = f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
    return (f"Too many failed login attempts: this account is locked for {period}. "
            "Try again later, or ask a Jira administrator to unlock it.")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked-out login attempt is answered, 429 either way."""
    if request.path.startswith("/rest/"):  # the site's Jira REST API answers in Jira's error shape
        return JsonResponse({"errorMessages": [lockout_message()], "errors": {}}, status=429)
    if request.path.startswith(API_PREFIXES) or "json" in request.headers.get("Accept", ""):
        return JsonResponse({"detail": lockout_message()}, status=429)
    return render(request, "registration/login.html", {"lockout": lockout_message()}, status=429)


def locked_out_response(request: Any) -> Response | None:
    """The lockout's answer for a DRF request axes refused: DRF authenticates on its own request object,
    where axes leaves its flag (AxesMiddleware looks only at Django's), so the lockout is answered here."""
    if getattr(request, "axes_locked_out", False):
        return Response({"detail": lockout_message()}, status=429)
    return None
