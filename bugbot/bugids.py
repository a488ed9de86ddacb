"""Bug ids: B-NNN formatting and parsing, and atomic allocation that never hands out a number twice."""

from __future__ import annotations

import logging
import re
import threading
from typing import Callable

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Greatest

from bugbot import conf
from bugbot.models import BugCounter, KnownIssue

log = logging.getLogger(__name__)

COUNTER = "bug_id"
LOCK = "filing"
REMOTE = "remote_max"


def format_bug_id(number: int, prefix: str | None = None) -> str:
    """B-007, B-999, B-1000."""
    return f"{prefix or conf.get()['BUG_PREFIX']}-{number:03d}"


def parse_bug_number(text: str, prefix: str | None = None) -> int | None:
    """The number of a `B-NNN` at the start of a title or bug ref (None when there is none)."""
    prefix = re.escape(prefix or conf.get()["BUG_PREFIX"])
    match = re.match(rf"\s*{prefix}-(\d{{1,9}})(?!\d)", text or "")
    return int(match.group(1)) if match else None


def local_max() -> int:
    """The highest bug number recorded in the database."""
    return KnownIssue.objects.aggregate(top=Max("bug_number"))["top"] or 0


def _ensure(name: str) -> None:
    try:
        with transaction.atomic():
            BugCounter.objects.create(name=name, value=0)
    except IntegrityError:  # a concurrent first user created it
        pass


def lock(name: str = LOCK) -> None:
    """Serialize this transaction with every other holder of `name` (a row UPDATE: first statement, held to commit)."""
    if not BugCounter.objects.filter(name=name).update(value=F("value") + 1):
        _ensure(name)
        BugCounter.objects.filter(name=name).update(value=F("value") + 1)


def _raise_to(name: str, value: int) -> None:
    """Raise a counter to at least `value` (writes first, so SQLite never has to upgrade a read lock)."""
    with transaction.atomic():
        if not BugCounter.objects.filter(name=name).update(value=Greatest(F("value"), Value(value))):
            _ensure(name)
            BugCounter.objects.filter(name=name).update(value=Greatest(F("value"), Value(value)))


def allocate(floor: int = 0) -> int:
    """The next bug number above both the counter and `floor`; call inside the transaction that stores it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate() must run inside the transaction that records the id")
    floor = max(int(floor), local_max())
    if not BugCounter.objects.filter(name=COUNTER).update(value=Greatest(F("value"), Value(floor)) + 1):
        _ensure(COUNTER)
        BugCounter.objects.filter(name=COUNTER).update(value=Greatest(F("value"), Value(floor)) + 1)
    return BugCounter.objects.get(name=COUNTER).value


def peek() -> int:
    """The number the next allocation would give, if nobody allocates first (for previews)."""
    row = BugCounter.objects.filter(name=COUNTER).first()
    return max(row.value if row else 0, local_max()) + 1


def remote_max() -> int | None:
    """The highest tracker B-NNN recorded so far (None until the tracker was read once)."""
    row = BugCounter.objects.filter(name=REMOTE).first()
    return row.value if row else None


class RemoteFloor:
    """The highest B-NNN in the tracker's titles, read once per process (retried while it fails) and recorded."""

    def __init__(self) -> None:
        self._value: int | None = None
        self._lock = threading.Lock()

    def get(self, fetch: Callable[[], int]) -> int | None:
        """The value, fetching it when unknown; None (and a warning) when the tracker cannot say."""
        with self._lock:
            if self._value is None:
                try:
                    value = int(fetch())
                except Exception as exc:  # the tracker being down must not stop ids being allocated
                    log.warning("bugbot: could not read the highest bug id from the tracker: %s", exc)
                    return None
                _raise_to(REMOTE, value)
                self._value = value
            return self._value

    def reset(self) -> None:
        """Forget the cached value."""
        with self._lock:
            self._value = None


remote_floor = RemoteFloor()
