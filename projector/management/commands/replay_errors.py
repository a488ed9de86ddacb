"""replay_errors: rebuild every projection from the error streams, then let the live consumer continue."""

from __future__ import annotations

import re
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projector import conf, stream
from projector.process import tune_process
from projector.replay import LeaseHeld, replay
from projector.store import for_alias

_ID = re.compile(r"\d+(-\d+)?\Z")


class Command(BaseCommand):
    help = "Empty the projection tables and rebuild them from the error streams (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--from", dest="start", default="-", help="First stream id to apply (default: the first).")
        parser.add_argument("--take-lease", action="store_true", help="Run even while a live projector holds a lease.")
        parser.add_argument("--batch", type=int, default=10_000, help="Entries per read and write (default 10000).")

    def handle(self, *args: Any, **options: Any) -> None:
        start = options["start"]
        if start != "-" and not _ID.match(start):
            raise CommandError(f"--from takes a stream id like 1700000000000-0, got {start!r}")
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        cfg = conf.get()
        client = stream.connect(cfg["REDIS_URL"], cfg["PROJECTOR_SOCKET_TIMEOUT_S"], cfg["REDIS_CLUSTER"])
        tune_process()
        tty = self.stdout.isatty() if hasattr(self.stdout, "isatty") else sys.stdout.isatty()
        try:
            result = replay(client, for_alias(cfg["DATABASE"]), conf.names(), cfg, start=start,
                            take_lease=options["take_lease"], batch=options["batch"],
                            progress=self._bar if tty else None)
        except LeaseHeld as exc:
            raise CommandError(f"{exc}: stop run_projector first, or pass --take-lease") from None
        if tty:
            self.stdout.write("")
        rate = result.entries / result.seconds if result.seconds else 0.0
        self.stdout.write(
            f"replayed {result.entries} entries ({result.events} events, {result.invalid} invalid) "
            f"in {result.seconds:.1f}s ({rate:,.0f}/s); consumers continue after "
            + ", ".join(f"{s} {p}" for s, p in result.positions.items()))

    def _bar(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()
