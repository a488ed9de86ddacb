"""`python manage.py run_bugbot`: file threshold.crossed signals as tracker issues."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from bugbot import loop


class Command(BaseCommand):
    help = "Consume threshold.crossed signals and file each new pattern as a B-NNN issue, exactly once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--consumer", help="Stable consumer name (default: ERRORTRAIL['CONSUMER'] or the host).")
        parser.add_argument("--until-idle", action="store_true", help="Exit once the signals stream is drained.")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = loop.build(options.get("consumer"))
        loop.install_signal_handlers(consumer)
        code = consumer.run(until_idle=options["until_idle"])
        if code:
            raise SystemExit(code)
