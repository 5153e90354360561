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


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sync_run_step(run_id: str, ticket: str) -> None:
    """One chunk of a first synchronization; rings itself for the next one (a killed worker's chunk is
    rolled back and redelivered, and the sweep takes over a chain that went silent)."""
    from replication.runs import run_step

    wait = run_step(run_id=run_id, ticket=ticket)
    if wait is not None:
        sync_run_step.apply_async((run_id, ticket), countdown=wait or None)


@shared_task(ignore_result=True)
def sync_runs_sweep() -> int:
    from replication.runs import runs_sweep

    return runs_sweep()


@shared_task(ignore_result=True)
def missed_changes_sweep() -> int:
    """Send the changes whose push after commit never ran (replication.services.missed_changes_push)."""
    from replication.services import missed_changes_push

    return missed_changes_push()
