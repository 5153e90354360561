"""The Celery app: configured from Django settings (CELERY_*), tasks found in the apps."""
from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from kombu.transport import sqlalchemy as kombu_sqlalchemy

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuesync.settings")

# The embedded broker (kombu's SQLAlchemy transport) polls its table for tasks, once a
# second by default, which made every doorbell wait up to a second per task. Its
# transport options all go to create_engine(), which refuses `polling_interval`,
# so the interval is set on the transport class instead.
EMBEDDED_BROKER_POLLING_SECONDS = 0.1
# A run whose chain went silent (a killed worker) goes on within the stall time plus this.
RUNS_SWEEP_INTERVAL_SECONDS = 5
kombu_sqlalchemy.Transport.polling_interval = EMBEDDED_BROKER_POLLING_SECONDS

app = Celery("issuesync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def setup_periodic_tasks(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # The sweep rings the doorbell again for every outbox row that is overdue:
    # it covers lost broker messages and long backoffs kept in the database.
    # A sweep that waited in the queue longer than the grace is dropped: the
    # doorbells ahead of it are still being worked through, and a newer sweep follows.
    sender.add_periodic_task(
        settings.DELIVERY_SWEEP_INTERVAL_SECONDS,
        sender.signature("invitations.tasks.sweep_outbox"),
        name="sweep outbox",
        expires=settings.DELIVERY_SWEEP_GRACE_SECONDS,
    )
    # A first synchronization whose task chain went silent (a killed worker, a restarted site) goes on.
    sender.add_periodic_task(
        RUNS_SWEEP_INTERVAL_SECONDS, sender.signature("replication.tasks.sync_runs_sweep"),
        name="sweep issue sync runs", expires=RUNS_SWEEP_INTERVAL_SECONDS,
    )
    sender.add_periodic_task(
        settings.MISSED_CHANGES_SWEEP_INTERVAL_SECONDS, sender.signature("replication.tasks.missed_changes_sweep"),
        name="sweep issue changes not sent", expires=settings.MISSED_CHANGES_SWEEP_INTERVAL_SECONDS,
    )
    if settings.MESSAGE_RETENTION_DAYS > 0:
        sender.add_periodic_task(
            settings.MESSAGE_PRUNE_INTERVAL_SECONDS, sender.signature("invitations.tasks.prune_messages"),
            name="prune messages", expires=settings.MESSAGE_PRUNE_INTERVAL_SECONDS,
        )


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(sender: Any = None, **kwargs: object) -> None:
    """What Django does around each request: drop a connection that broke or outlived CONN_MAX_AGE.

    Celery's own closing is relaxed by CELERY_DB_REUSE_MAX, so this keeps a worker
    from holding on to a broken connection (a restarted database) between tasks.
    """
    from django.db import close_old_connections

    if not getattr(getattr(sender, "request", None), "is_eager", False):  # eager: the caller's connection
        close_old_connections()
