"""run_bugbot's loop: threshold.crossed signals from the signals stream into filings, plus due retries."""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.db import InterfaceError, OperationalError, close_old_connections

from bugbot import conf, connection, filing, registry
from bugbot.consumer import ConsumerConfig, Message, Reject, StreamConsumer
from contracts.events import BugFailed, BugFiled, ThresholdCrossed
from contracts.names import GROUP_BUGBOT

log = logging.getLogger(__name__)
ROLE = "bugbot"


def handle(messages: list[Message]) -> None:
    """File (or reopen) each signal; the audit events bugbot itself writes are skipped."""
    close_old_connections()
    for message in messages:
        event = message.event
        if isinstance(event, ThresholdCrossed):
            outcome = filing.handle_signal(event)
            log.info("bugbot: signal %s for %s: %s", message.id, event.fingerprint[:12], outcome)
        elif not isinstance(event, (BugFiled, BugFailed)):
            raise Reject(f"unexpected {event.TYPE} on the signals stream")


def tick() -> Any:
    """Restore a lost known-issue map; retry due filings (pending after a failure, held, abandoned claims)."""
    close_old_connections()
    registry.republish_if_lost()
    outcomes = filing.retry_due()
    if outcomes:
        log.info("bugbot: retries: %s", outcomes)
    return outcomes


def build(consumer: str | None = None, **overrides: Any) -> StreamConsumer:
    """The bugbot consumer, configured from settings."""
    cfg, names = conf.get(), conf.names()
    name = consumer or cfg["CONSUMER"]
    config = ConsumerConfig(
        stream=names.signals, group=GROUP_BUGBOT, consumer=name, dead_stream=names.signals_dead,
        heartbeat_key=names.heartbeat(ROLE, name), role=ROLE, count=cfg["BATCH_COUNT"], block_ms=cfg["BLOCK_MS"],
        claim_idle_ms=cfg["CLAIM_IDLE_MS"], claim_every_s=cfg["CLAIM_EVERY_S"], max_deliveries=cfg["MAX_DELIVERIES"],
        heartbeat_ttl_s=cfg["HEARTBEAT_TTL_S"], tick_every_s=cfg["RETRY_EVERY_S"], dead_maxlen=cfg["DEAD_MAXLEN"],
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return StreamConsumer(connection.client(), config, handle, tick=tick, transient=(OperationalError, InterfaceError))


def install_signal_handlers(consumer: StreamConsumer) -> None:
    """First SIGTERM/SIGINT: finish the batch and stop; a second one: stop now (unacked entries stay pending)."""

    def on_signal(signum: int, frame: Any) -> None:
        if consumer.stopping.is_set():
            raise SystemExit(128 + signum)
        log.info("bugbot: signal %d: finishing the current batch, then stopping", signum)
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
