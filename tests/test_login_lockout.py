"""Failed-login lockout: the login page, the Django admin's login and API authentication that calls
authenticate(request=...) all lock an account out after LOGIN_LOCKOUT_FAILURES wrong passwords."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

LOCKED = "Too many failed login attempts"


@pytest.fixture
def admin(db: None) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "admin")


def _login(client: Client, password: str, path: str = "/login/") -> int:
    return client.post(path, {"username": "admin", "password": password}).status_code


def _move_time_past_the_lock() -> None:
    # Instead of sleeping through the cool-off: the attempts happened that long ago.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time
                                 - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def test_it_locks_the_login_page_after_the_configured_failures_with_a_message(admin: User) -> None:
    client = Client()
    answers = [_login(client, "wrong") for _ in range(20)]
    limit = settings.LOGIN_LOCKOUT_FAILURES
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, "did not match"
    assert set(answers[limit - 1:]) == {429}
    r = client.post("/login/", {"username": "admin", "password": "admin"})
    assert r.status_code == 429  # the right password, refused while locked
    assert LOCKED in r.content.decode() and "locked for 15 minutes" in r.content.decode()
    assert "_auth_user_id" not in client.session

    _move_time_past_the_lock()
    r = client.post("/login/", {"username": "admin", "password": "admin"})
    assert r.status_code == 302 and client.session["_auth_user_id"] == str(admin.pk)
    assert not AccessAttempt.objects.exists()  # a success starts the count again


def test_it_locks_the_django_admin_login_too_and_shows_the_lock_to_an_admin(admin: User) -> None:
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        _login(guesser, "wrong", "/django-admin/login/")
    assert _login(guesser, "admin", "/django-admin/login/") == 429
    # The lock is the guessing client's: the admin elsewhere logs in and sees it.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(other, "admin") == 302
    page = other.get("/django-admin/axes/accessattempt/").content.decode()
    assert "203.0.113.9" in page and "admin" in page


class _BasicView(APIView):
    # What the REST v3 API tokens will do: an authentication class that calls authenticate(request=...).
    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.get_username()})


def test_it_locks_api_authentication_that_goes_through_authenticate(admin: User) -> None:
    factory, view = APIRequestFactory(), _BasicView.as_view()

    def call(password: str) -> Response:
        request = factory.get("/api/anything/")
        request.META["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(
            f"admin:{password}".encode()).decode()
        return view(request)  # type: ignore[no-any-return]

    assert call("admin").data == {"user": "admin"}
    answers = [call("wrong").status_code for _ in range(20)]
    limit = settings.LOGIN_LOCKOUT_FAILURES
    assert set(answers[: limit - 1]) == {401} and set(answers[limit - 1:]) == {429}
    r = call("admin")
    assert r.status_code == 429 and LOCKED in r.data["detail"]
    _move_time_past_the_lock()
    assert call("admin").data == {"user": "admin"}


def test_an_api_client_gets_the_lockout_as_json(admin: User) -> None:
    client = Client()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        _login(client, "wrong")
    r = client.post("/login/", {"username": "admin", "password": "admin"}, headers={"Accept": "application/json"})
    assert r.status_code == 429 and LOCKED in r.json()["detail"]


def test_it_locks_the_jira_rest_api_s_token_logins_with_jira_s_error_shape(admin: User) -> None:
    from jira.services import api_token_create

    _, token = api_token_create(user=admin, label="script")
    client = Client()

    def call(secret: str) -> tuple[int, dict]:
        basic = base64.b64encode(f"admin@example.com:{secret}".encode()).decode()
        r = client.get("/rest/api/3/myself", HTTP_AUTHORIZATION=f"Basic {basic}")
        return r.status_code, r.json()

    answers = [call("not-the-token") for _ in range(20)]
    failures = settings.LOGIN_LOCKOUT_FAILURES
    assert [status for status, _ in answers[:failures - 1]] == [401] * (failures - 1)
    assert {status for status, _ in answers[failures:]} == {429}
    assert LOCKED in answers[-1][1]["errorMessages"][0]
    assert call(token)[0] == 429  # the right token too, while locked
    _move_time_past_the_lock()
    assert call(token)[0] == 200


def test_the_handler_counts_recent_failures_as_axes_own_database_handler_does(admin: User) -> None:
    """issuesync.lockout.LockoutHandler reads the count with a statement of its own: the same number as
    axes' handler, for each state the attempts can be in."""
    from axes.handlers.database import AxesDatabaseHandler
    from django.test import RequestFactory
    from django.utils import timezone

    from issuesync.lockout import LockoutHandler

    def counts(ip: str = "10.0.0.1", username: str = "admin") -> tuple[int, int]:
        request = RequestFactory().post("/login/")
        request.axes_ip_address, request.axes_user_agent = ip, "agent"  # type: ignore[attr-defined]
        request.axes_attempt_time = timezone.now()  # type: ignore[attr-defined]
        credentials = {"username": username}
        return (LockoutHandler().get_failures(request, credentials),
                AxesDatabaseHandler().get_failures(request, credentials))

    assert counts() == (0, 0)
    now = timezone.now()
    for n, (ip, user, failures, ago) in enumerate((
            ("10.0.0.1", "admin", 3, 0), ("10.0.0.1", "admin", 2, 60), ("10.0.0.2", "admin", 5, 0),
            ("10.0.0.1", "grace", 7, 0), ("10.0.0.1", "admin", 9, settings.AXES_COOLOFF_TIME.total_seconds() + 5))):
        made = AccessAttempt.objects.create(username=user, ip_address=ip, user_agent=f"agent {n}",
                                            failures_since_start=failures, get_data="", post_data="",
                                            http_accept="", path_info="/login/")
        # attempt_time is set when an attempt is made (auto_now_add): moved back as _move_time_past_the_lock does
        AccessAttempt.objects.filter(pk=made.pk).update(attempt_time=now - timedelta(seconds=ago))
    assert counts() == (5, 5)  # the two recent ones of this username from this address; not the expired one
    assert counts(ip="10.0.0.2") == (5, 5) and counts(username="grace") == (7, 7)
    assert counts(ip="10.0.0.9") == (0, 0) and counts(username="") == counts(username="")  # axes' own without a name
