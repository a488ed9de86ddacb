"""run_projector: project the error stream into the database (one active projector per shard)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projector import conf, stream
from projector.loop import Projector
from projector.process import install_signal_handlers, tune_process
from projector.store import for_alias


def parse_shards(raw: str | None, total: int) -> list[int] | None:
    """'0,2' -> [0, 2] (None: every shard)."""
    if not raw:
        return None
    try:
        shards = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise CommandError(f"--shards takes comma-separated numbers, got {raw!r}") from None
    if not shards or any(not 0 <= s < total for s in shards):
        raise CommandError(f"--shards must be between 0 and {total - 1}")
    return shards


class Command(BaseCommand):
    help = "Consume the error stream into ErrorGroup/ErrorLog/hourly counts, exactly once per entry."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--until-idle", action="store_true", help="Exit once every shard is drained.")
        parser.add_argument("--consumer", help="Stable consumer name (default: ERRORTRAIL_CONSUMER, else host-pid).")
        parser.add_argument("--shards", help="Only these shards, e.g. 0,2 (default: a fair share of all).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        cfg = conf.get()
        names = conf.names()
        client = stream.connect(cfg["REDIS_URL"], cfg["PROJECTOR_SOCKET_TIMEOUT_S"], cfg["REDIS_CLUSTER"])
        projector = Projector(
            client, for_alias(cfg["DATABASE"]), cfg, names, consumer=options.get("consumer"),
            shards=parse_shards(options.get("shards"), names.shards), until_idle=options["until_idle"],
        )
        install_signal_handlers(projector)
        tune_process()
        projector.run()
        self.stdout.write(f"run_projector {projector.consumer}: {projector.stats.events} events applied, "
                          f"{projector.stats.dead} dead-lettered")
