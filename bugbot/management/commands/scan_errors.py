"""`python manage.py scan_errors`: run the periodic scan once (what Celery beat runs every interval)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from bugbot import scan


class Command(BaseCommand):
    help = "Run ERRORTRAIL['SCAN_STEPS'] once: re-signal missed groups, republish, sync issues, retry, prune, trim."

    def handle(self, *args: Any, **options: Any) -> None:
        results = scan.run()
        for step, result in results.items():
            self.stdout.write(f"{step}: {json.dumps(result, default=str)}")
