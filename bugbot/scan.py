"""The periodic scan: run ERRORTRAIL["SCAN_STEPS"] in order, each failure logged and the rest still run."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

from django.utils.module_loading import import_string

from bugbot import conf, connection, filing, registry, sync

log = logging.getLogger(__name__)


def republish() -> dict[str, Any]:
    """Rebuild the known-issue map from the database (repairs a Redis that lost it)."""
    return {"version": registry.republish()}


def sync_issues() -> dict[str, Any]:
    """Pull tracker issue states (closed / reopened) changed since the last sync."""
    return sync.sync_from_tracker(filing.tracker())


def retry_filings() -> dict[str, Any]:
    """File what is due: pending retries, held issues when the caps have room, abandoned claims."""
    return filing.retry_due()


def prune_deliveries() -> dict[str, Any]:
    """Forget old webhook delivery ids."""
    return {"deleted": sync.prune_deliveries()}


def run(steps: tuple[str, ...] | None = None, resolve: Callable[[str], Any] = import_string) -> dict[str, Any]:
    """Run each step (a dotted path to a callable); a missing one is a warning, a failing one is logged."""
    steps = conf.get()["SCAN_STEPS"] if steps is None else steps
    results: dict[str, Any] = {}
    for path in steps:
        try:
            step = resolve(path)
        except ImportError as exc:
            log.warning("scan: step %s is not available: %s", path, exc)
            results[path] = {"missing": str(exc)[:200]}
            continue
        started = time.monotonic()
        try:
            outcome = step()
        except Exception as exc:  # one broken step must not stop the others
            log.exception("scan: step %s failed", path)
            results[path] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        results[path] = {"result": outcome, "seconds": round(time.monotonic() - started, 3)}
    _record(results)
    return results


def _record(results: dict[str, Any]) -> None:
    try:
        connection.client().hset(conf.names().scan_state, mapping={
            "bugbot:last_run_ms": int(time.time() * 1000),
            "bugbot:last_result": json.dumps(results, default=str)[:20000],
        })
    except Exception as exc:  # the figures are for the dashboard; the scan itself is done
        log.warning("scan: could not record the run: %s", exc)
