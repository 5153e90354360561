"""HTTP Basic `email:token`, as Jira Cloud takes it, through Django's authentication.

The token check is an authentication backend reached through `django.contrib.auth.authenticate`,
so that whatever watches logins there (lockout after failures) sees every API login too.
"""
from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from issuesync.prepared import Param, Prepared
from jira.models import ApiToken

BACKEND = "jira.auth.ApiTokenBackend"
LAST_USED_RESOLUTION = datetime.timedelta(minutes=5)  # one write per token per few minutes, not per call


# Every API call authenticates so: the statement is built once per process (issuesync.prepared).
_TOKEN = Prepared(lambda: ApiToken.objects.select_related("user").filter(
    digest=Param("digest", ApiToken._meta.get_field("digest"))))


class ApiTokenBackend(BaseBackend):
    """username = the account's email, password = one of its API tokens."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> User | None:
        if not username or not password:
            return None
        from jira.services import api_token_digest

        token = _TOKEN.first(digest=api_token_digest(password))
        if token is None or not token.user.is_active or token.user.email.casefold() != username.casefold():
            return None
        now = timezone.now()
        if token.last_used is None or now - token.last_used > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        user = token.user
        user.jira_api_token_id = token.pk  # type: ignore[attr-defined]  # the origin of the change
        return user

    def get_user(self, user_id: int) -> User | None:
        # Tokens never open a session (the API authenticates each request alone), but a session made
        # with this backend named (as test clients' force_login does) must still find its user.
        return User.objects.filter(pk=user_id, is_active=True).first()


class JiraBasicAuthentication(BaseAuthentication):
    """DRF side of the backend: reads the Basic header and asks `authenticate()`."""

    def authenticate(self, request: Request) -> tuple[User, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            email, sep, token = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("The Authorization header is not valid Basic credentials.") from None
        if not sep:
            raise exceptions.AuthenticationFailed("The Authorization header is not valid Basic credentials.")
        user = authenticate(request=request._request, username=email, password=token)
        # Another backend (a password) must not open the API: Jira Cloud takes API tokens only.
        if user is None or getattr(user, "backend", None) != BACKEND:
            raise exceptions.AuthenticationFailed("Client must be authenticated to access this resource.")
        return user, getattr(user, "jira_api_token_id", None)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="Jira"'
