"""The Celery app: configured from Django settings (CELERY_*), tasks found in the apps."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuesync.settings")

app = Celery("issuesync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def setup_periodic_tasks(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # The sweep rings the doorbell again for every outbox row that is due:
    # it covers lost broker messages and long backoffs kept in the database.
    sender.add_periodic_task(
        settings.DELIVERY_SWEEP_INTERVAL_SECONDS,
        sender.signature("invitations.tasks.sweep_outbox"),
        name="sweep outbox",
    )
