"""Publishing threshold.crossed after commit, then marking it sent (repeating it is harmless: bugbot dedups)."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from contracts import codec
from contracts.names import EVENT_FIELD, Names
from projector import handlers
from projector.store import Store

log = logging.getLogger(__name__)


def announce(client: Any, names: Names, store: Store, group_ids: Iterable[int], threshold: int, maxlen: int) -> int:
    """Publish the pending signal of each group (from its committed row); returns how many were sent."""
    rows = [row for row in store.group_rows(group_ids) if row["signal_id"]]
    if not rows:
        return 0
    pipe = client.pipeline(transaction=False)
    sent = []
    for row in rows:
        try:
            event = handlers.signal_event(row, threshold, row.get("sample"))
            data = codec.encode(event)
        except (codec.ContractError, KeyError, TypeError, ValueError) as exc:
            log.error("cannot build the signal of group %s: %s", row["fingerprint"], exc)
            continue
        pipe.xadd(names.signals, {EVENT_FIELD: data}, maxlen=maxlen, approximate=True)
        sent.append((row["id"], row["signal_id"]))
    if sent:
        pipe.execute()
        store.mark_signalled(sent)
        log.info("published %d threshold.crossed signal(s)", len(sent))
    return len(sent)
