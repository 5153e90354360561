"""Celery tasks: thin, they load by id and call the service."""
from __future__ import annotations

from celery import shared_task

from synchronizations.models import Synchronization


@shared_task(ignore_result=True)
def synchronization_catch_up(synchronization_id: str) -> int:
    """A mapping was enabled (again): bring its issues up to date, and apply what waited for it."""
    from replication.services import synchronization_catch_up as catch_up

    sync = Synchronization.objects.filter(pk=synchronization_id).first()
    return catch_up(synchronization=sync) if sync is not None else 0
