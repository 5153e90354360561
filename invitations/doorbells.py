"""One queued doorbell per partner at a time: a burst of messages rings the worker once, not once each.

A doorbell (`invitations.tasks.deliver_message`) claims every message due for its partner, batch
after batch. So while one rung for a partner still waits in the queue, a message committed for the
same partner needs no doorbell of its own: that one will claim it. The mark lives in Redis, shared
by the site's web and worker processes: `ring_wanted` sets it (SET NX, with an expiry) and says
whether to ring; the doorbell clears it (`rung_taken`) before it claims anything. A message that
found the mark set was committed before the mark was cleared, so before the claim's query: it is
claimed. A doorbell that is lost keeps its mark until it expires (DOORBELL_MARK_SECONDS); meanwhile
the sweep delivers, as for any lost doorbell.

Without Redis (the embedded default) every message rings its own doorbell, as does any message
when Redis cannot be reached.
"""
from __future__ import annotations

import logging
import threading

import redis
from django.conf import settings

log = logging.getLogger(__name__)

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    if not url or settings.DOORBELL_MARK_SECONDS <= 0:
        return None
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=settings.BROKER_CONNECT_TIMEOUT,
                                                 socket_timeout=settings.BROKER_SOCKET_TIMEOUT)
        return _clients[url]


def _mark(recipient: str) -> str:
    return f"issuesync:doorbell:{settings.CELERY_TASK_DEFAULT_QUEUE}:{recipient}"


def ring_wanted(recipient: str) -> bool:
    """Whether a message just committed for `recipient` must ring: False while a doorbell for it is queued."""
    client = _redis()
    if client is None:
        return True
    try:
        return bool(client.set(_mark(recipient), 1, nx=True, ex=max(1, round(settings.DOORBELL_MARK_SECONDS))))
    except redis.RedisError as e:
        log.info("doorbell mark for %s not read (%s): ringing", recipient, e)
        return True


def rung_taken(recipient: str) -> None:
    """A doorbell for `recipient` starts: messages committed from now on ring again."""
    client = _redis()
    if client is None:
        return
    try:
        client.delete(_mark(recipient))
    except redis.RedisError as e:  # the mark then expires; until then the sweep delivers
        log.warning("doorbell mark for %s not cleared: %s", recipient, e)
