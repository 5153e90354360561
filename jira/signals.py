"""The one in-process signal every change to an issue sends, after its transaction commits.

Receivers (issue sync) subscribe to `issue_changed` without the site knowing them; `Origin` tells
them where the change came from, so a change applied from a partner is never sent back to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from jira.models import Changelog, Comment, Issue, RemoteLink


class OriginKind(StrEnum):
    PERSON = "person"        # a page, with the browser session
    API_TOKEN = "api_token"  # the REST API (a token, or a session calling it)
    PARTNER = "partner"      # applied from a partner site's synchronization


@dataclass(frozen=True)
class Origin:
    """Where a change came from: a person, an API token, or a partner link."""

    kind: OriginKind
    user_id: int | None = None
    token_id: int | None = None
    partner: str = ""  # the partner's address or link id, as issue sync names it

    @classmethod
    def person(cls, user_id: int | None) -> Origin:
        return cls(OriginKind.PERSON, user_id=user_id)

    @classmethod
    def api_token(cls, user_id: int | None, token_id: int | None) -> Origin:
        return cls(OriginKind.API_TOKEN, user_id=user_id, token_id=token_id)

    @classmethod
    def partner_link(cls, partner: str, user_id: int | None = None) -> Origin:
        return cls(OriginKind.PARTNER, user_id=user_id, partner=partner)

    @property
    def ref(self) -> str:
        """A short text stored with the changelog entry."""
        if self.kind == OriginKind.PARTNER:
            return self.partner
        if self.kind == OriginKind.API_TOKEN and self.token_id is not None:
            return f"token:{self.token_id}"
        return ""


class IssueEvent(StrEnum):
    CREATED = "issue_created"
    UPDATED = "issue_updated"
    DELETED = "issue_deleted"
    COMMENT_CREATED = "comment_created"
    COMMENT_UPDATED = "comment_updated"
    COMMENT_DELETED = "comment_deleted"
    REMOTE_LINK_SAVED = "remote_link_saved"


@dataclass(frozen=True)
class IssueChange:
    """What `issue_changed` carries. `changelog` is empty for comments and links (Jira keeps none)."""

    event: IssueEvent
    issue: Issue
    origin: Origin
    changelog: Changelog | None = None
    comment: Comment | None = None
    remote_link: RemoteLink | None = None


# Sent with sender=Issue and change=IssueChange, once per service call, after commit.
issue_changed = Signal()


# Sent by `seed_site` once the site's data is there; a receiver may return a few words for its output
# (invitations creates the site's signing key here).
site_seeded = Signal()
