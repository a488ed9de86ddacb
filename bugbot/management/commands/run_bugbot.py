"""`python manage.py run_bugbot`: file threshold.crossed signals as tracker issues."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand

from bugbot import loop


class Command(BaseCommand):
    help = "Consume threshold.crossed signals and file each new pattern as a B-NNN issue, exactly once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--consumer", help="Stable consumer name (default: ERRORTRAIL['CONSUMER'] or the host).")
        parser.add_argument("--until-idle", action="store_true", help="Exit once the signals stream is drained.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        consumer = loop.build(options.get("consumer"))
        loop.install_signal_handlers(consumer)
        consumer.run(until_idle=options["until_idle"])
        stats = consumer.stats
        self.stdout.write(f"run_bugbot {consumer.cfg.consumer}: {stats.processed} signals handled, {stats.dead} "
                          f"dead-lettered")
