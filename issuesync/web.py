"""View pieces every app may use: the admin-only decorator and the API's translation of refusals.

It imports no app, so any app may import it (see the layers contract in pyproject.toml).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from issuesync.lockout import locked_out_response

View = Callable[..., HttpResponse]


class Refused(Exception):  # noqa: N818
    """An action does not apply to what is stored now: nothing changed.

    The API answers 409 with its text, a page shows it as a message. Services raise subclasses.
    """


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def jira_admin_required(view: View) -> View:
    """Anonymous -> login page; signed-in non-admin -> a clear 403 page (not a redirect)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            return render(request, "synchronizations/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: a locked-out login as 429, the services' refusals as HTTP (bad input 400,
    wrong state 409)."""
    locked_out = locked_out_response(context.get("request"))
    if locked_out is not None:
        return locked_out
    if isinstance(exc, ValidationError):
        exc = DRFValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    elif isinstance(exc, Refused):
        exc = Conflict(str(exc))
    return exception_handler(exc, context)
