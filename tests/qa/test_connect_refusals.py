"""qa_connect and admin_token refuse what cannot work before they contact anyone or make anything."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from synchronizations.models import Synchronization

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def seeded() -> None:
    call_command("seed_site")


@pytest.mark.parametrize(("args", "error"), [
    (["--partner", "beta.example.com"], "https://yourinstancename.atlassian.net"),
    (["--partner", "https://alpha.atlassian.net"], "is this site itself"),
    (["--partner", "https://gamma.atlassian.net"], "not in this site's directory"),
    (["--partner", "https://beta.atlassian.net", "--partner-token", ""], "No API token for https://beta"),
    (["--partner", "https://beta.atlassian.net", "--mapping", "ALPHA=BETA", "--no-mapping"], "contradict"),
    (["--partner", "https://beta.atlassian.net", "--mapping", "=BETA"], "THIS_PROJECT=PARTNER_PROJECT"),
    (["--partner", "https://beta.atlassian.net", "--user", "member"], "not an administrator"),
])
def test_qa_connect_refuses_with_a_clear_message_and_makes_nothing(args: list[str], error: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARTNER_API_TOKEN", raising=False)
    with pytest.raises(CommandError, match=error.replace(".", r"\.")):
        call_command("qa_connect", *args)
    assert not Synchronization.objects.exists()


def test_qa_connect_says_so_when_the_partner_cannot_be_reached() -> None:
    # The test settings' directory sends beta to a closed port.
    with pytest.raises(CommandError, match="could not be asked: https://beta.atlassian.net could not be reached"):
        call_command("qa_connect", "--partner", "https://beta.atlassian.net", "--partner-token", "x" * 40)
    assert not Synchronization.objects.exists()


def test_admin_token_is_only_for_administrators_that_exist() -> None:
    with pytest.raises(CommandError, match="not a site administrator"):
        call_command("admin_token", "--user", "member")
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("admin_token", "--user", "nobody")


def test_admin_token_prints_the_same_token_until_renewed(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("admin_token")
    call_command("admin_token")
    first, again = capsys.readouterr().out.split()
    call_command("admin_token", "--renew")
    renewed = capsys.readouterr().out.strip()
    assert first == again and len(renewed) == 40 and renewed != first
