"""The Celery app (`celery -A bugbot.celery worker -B`): Django settings, CELERY_* namespace, broker = our Redis."""

from __future__ import annotations

from typing import Any

from celery import Celery

app = Celery("errortrail")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_after_configure.connect
def _defaults(sender: Celery, **kwargs: Any) -> None:
    """Broker and result backend default to errortrail's Redis; beat runs the scan every interval."""
    from django.conf import settings

    from bugbot import conf

    cfg = conf.get()
    if not getattr(settings, "CELERY_BROKER_URL", None):
        sender.conf.broker_url = cfg["REDIS_URL"]
    sender.conf.beat_schedule = {
        "errortrail-scan-errors": {
            "task": "bugbot.tasks.scan_errors",
            "schedule": cfg["SCAN_INTERVAL_MINUTES"] * 60.0,
        },
        **(sender.conf.beat_schedule or {}),
    }


app.autodiscover_tasks(["bugbot"])
