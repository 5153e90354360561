"""The registry of message kinds: which app owns a kind, how its payload looks, how it applies.

The wire knows no domain: each app registers the kinds it owns from its `AppConfig.ready()`
(`kind_register(MessageKind(...))`), as Django apps do with admin models and system checks.
The inbox (invitations.inbox) does the bookkeeping around a kind's `apply`: signature,
sequence, duplicates, recording; `apply` only changes the domain, or raises `NotApplicable`.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

LIFECYCLE = ""  # the stream of a link's own messages (invitation, accept, ...): one order for all of them


_NOT_PLAIN = re.compile("[\x00\ud800-\udfff]")  # what DRF's CharField refuses: NUL, surrogates


class Text(serializers.CharField):
    """A payload's or an envelope's string: DRF's CharField, answered in one step when the value is plainly valid.

    The wire validates every field of every message, and a CharField runs a chain of validators for
    each string (length, NUL, surrogates, one call each): most of a message's validation. A plain
    value (a string within its length, nothing to trim, no NUL or surrogate) is taken as is; anything
    else goes through CharField itself, so the same values pass and the same errors are answered.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._plain = not kwargs.get("validators")
        super().__init__(**kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        if (self._plain and type(data) is str and data and not data[0].isspace() and not data[-1].isspace()
                and (self.max_length is None or len(data) <= self.max_length)
                and (self.min_length is None or len(data) >= self.min_length) and not _NOT_PLAIN.search(data)):
            return data
        return super().run_validation(data)


class NotApplicable(Exception):  # noqa: N818 - the one refusal a kind's handler raises
    """This message does not apply to what the receiver holds: it is refused for good (422).

    The inbox records it as refused (shown in the history; the sender's admin may retry it)
    and the messages after it in its stream go on.
    """


@dataclass(frozen=True)
class Incoming:
    """A verified partner message as a kind's handler sees it."""

    id: uuid.UUID
    kind: str
    link_id: uuid.UUID  # the synchronization id both sites share
    stream: str
    sequence: int
    sender: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class MessageKind:
    """One kind of message: its name on the wire, its payload, how it applies and how the history says it.

    `apply` runs inside the inbox's transaction with the link locked; it returns "applied" or
    "absorbed" (acknowledged, nothing changed) or raises NotApplicable. `describe` gives the
    history's words for a payload (the product's, e.g. "Mapping saved"). `opens_link`: the kind
    that starts a link (the invitation), the only one accepted for a link this site does not know.
    `batch`: entered around consecutive messages of this kind (or of kinds given the same `batch`) that
    one request applies together, inside the inbox's transaction with their links locked, so that
    `apply` may read once what none of them changes (for issue traffic: the synchronization's mappings
    and scope).
    `concurrent`: a request whose messages are all of such kinds, each on a stream of its own (not the
    lifecycle), holds its links in share mode, so that requests for other streams of the same link
    apply side by side; for kinds whose `apply` changes only what its stream names (an issue) and
    locks that first. Anything that changes the link's own state still takes it exclusively.
    """

    name: str
    payload: type[serializers.Serializer]
    apply: Callable[[Incoming], str]
    describe: Callable[[dict[str, Any]], str]
    label: str = ""
    opens_link: bool = False
    author: Callable[[dict[str, Any]], str] | None = None  # who made the change, when the payload says
    batch: Callable[[], AbstractContextManager[Any]] | None = None
    concurrent: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


KINDS: dict[str, MessageKind] = {}


def kind_register(kind: MessageKind) -> None:
    """Called from an app's `AppConfig.ready()`; registering one name twice is a programming error."""
    existing = KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"message kind {kind.name!r} is registered twice")
    KINDS[kind.name] = kind


def kind_get(name: str) -> MessageKind | None:
    return KINDS.get(name)


def kind_describe(name: str, payload: dict[str, Any]) -> str:
    """The history's words for a message; a kind no longer registered is named as it is."""
    kind = KINDS.get(name)
    if kind is None:
        return name
    try:
        return kind.describe(payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        return kind.title
