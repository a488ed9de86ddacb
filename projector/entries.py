"""Stream entries to events: decoding with validation, never raising (bad entries become dead-letter reasons)."""

from __future__ import annotations

from typing import Any

from contracts import codec
from contracts.events import ErrorObserved
from contracts.names import EVENT_FIELD

FIELD_KEYS = (EVENT_FIELD.encode(), EVENT_FIELD)


def raw_event(fields: dict) -> Any:
    """An entry's event bytes (None when missing)."""
    return fields.get(FIELD_KEYS[0]) or fields.get(FIELD_KEYS[1])


def decode_fields(fields: dict) -> ErrorObserved | codec.ContractError:
    """An entry's event, or the ContractError saying why it has none (never raises)."""
    try:
        return decode(raw_event(fields))
    except codec.ContractError as exc:
        return exc


def decode(raw: Any) -> ErrorObserved:
    """An entry's event; anything but a valid error.observed raises ContractError."""
    if raw is None:
        raise codec.ContractError("entry has no event field (deleted while pending?)")
    event = codec.decode(raw)
    if not isinstance(event, ErrorObserved):
        raise codec.ContractError(f"expected error.observed, got {event.TYPE}")
    return event
