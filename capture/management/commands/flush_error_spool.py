"""Flush events spooled while Redis was unreachable into the error stream (exactly once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from capture import conf, publish
from capture.spool import Spool


class Command(BaseCommand):
    help = "Send events spooled on this host while Redis was unreachable to the error stream."

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = conf.get()
        names = conf.names()
        spool = Spool(cfg["SPOOL_DIR"], cfg["SPOOL_MAX_BYTES"])
        client = publish.make_client(cfg["REDIS_URL"], 5.0, 2.0, cfg["REDIS_CLUSTER"])
        try:
            sent = spool.flush(client, names.spool_done, cfg["STREAM_MAXLEN"])
        except Exception as exc:
            raise CommandError(f"could not flush {cfg['SPOOL_DIR']}: {exc}") from exc
        left = "some files remain (written by running processes)" if spool.has_files() else "the spool is empty"
        self.stdout.write(f"flushed {sent} events from {cfg['SPOOL_DIR']}; {left}")
