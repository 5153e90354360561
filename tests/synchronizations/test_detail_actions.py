"""The detail page shows the buttons the state table allows, and no others."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from synchronizations.states import Action, InvitationStatus, allowed_actions
from tests.factories import synchronization

pytestmark = pytest.mark.django_db
BUTTONS = {Action.EDIT_SCOPE: ">Edit scope</a>", Action.DELETE: 'id="delete-dialog"',
           Action.REMOVE: 'id="remove-dialog"'}


@pytest.mark.parametrize("status", [s for s in InvitationStatus if s != InvitationStatus.INVITATION_RECEIVED])
def test_it_shows_the_buttons_of_the_allowed_actions(client: Client, status: InvitationStatus) -> None:
    client.force_login(User.objects.create_superuser("admin", password="admin"))
    sync = synchronization(status=status)
    html = client.get(f"/plugins/servlet/ac/issue-sync/synchronizations/{sync.pk}/").content.decode()
    allowed = set(allowed_actions(status))
    assert allowed  # every status shown here allows something
    for action, button in BUTTONS.items():
        assert (button in html) == (action in allowed), (status, action)


def test_it_answers_the_open_detail_page_304_while_nothing_changed(client: Client) -> None:
    client.force_login(User.objects.create_superuser("admin", password="admin"))
    sync = synchronization(status=InvitationStatus.NOT_CONFIGURED)
    url = f"/plugins/servlet/ac/issue-sync/synchronizations/{sync.pk}/"
    first = client.get(url, HTTP_X_LIVE_DETAIL="1")
    assert first.status_code == 200 and b"<html" not in first.content
    etag = first["ETag"]
    # Each render masks its CSRF tokens afresh: still the same content, so the same ETag and a 304.
    again = client.get(url, HTTP_X_LIVE_DETAIL="1", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    sync.name = "Renamed by the partner"
    sync.save()
    changed = client.get(url, HTTP_X_LIVE_DETAIL="1", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and b"Renamed by the partner" in changed.content
    assert changed["ETag"] != etag
