"""Plain factory functions for bugbot tests."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from contracts import ids
from contracts.events import ThresholdCrossed


def fp(seed: Any) -> str:
    """A fingerprint derived from anything."""
    return hashlib.sha256(str(seed).encode()).hexdigest()


def csrf_signal(seed: Any = "csrf-book", **overrides: Any) -> ThresholdCrossed:
    """A threshold.crossed of a CSRF failure on the booking form."""
    now = int(time.time() * 1000)
    fields: dict[str, Any] = dict(
        id=ids.new_id(), ts=now, fingerprint=fp(seed),
        basis="v1|http|4xx|csrf|csrf=token_missing|route=appointments/<int:pk>/book/",
        title="CSRF failure on POST appointments/<int:pk>/book/", cls="csrf", error_type="csrf", status=403,
        method="POST", path="/appointments/3/book/", count=3, threshold=3, first_seen=now - 60_000, last_seen=now,
        route="appointments/<int:pk>/book/", users=2, csrf_kind="token_missing",
        sample_request="POST /appointments/3/book/ Content-Type: application/x-www-form-urlencoded",
        release="1.4.2", environment="test",
    )
    fields.update(overrides)
    return ThresholdCrossed(**fields)


def error_signal(seed: Any = "keyerror", **overrides: Any) -> ThresholdCrossed:
    """A threshold.crossed of a 500 with an exception and in-app frames."""
    now = int(time.time() * 1000)
    fields: dict[str, Any] = dict(
        id=ids.new_id(), ts=now, fingerprint=fp(seed), basis="v1|exc|5xx|KeyError|frames=clinic.views:invoice|msg=x",
        title="KeyError in clinic.views:invoice", cls="app_error", error_type="500", status=500, method="GET",
        path="/invoices/17/", count=5, threshold=3, first_seen=now - 3_600_000, last_seen=now,
        route="invoices/<int:pk>/", users=1, culprit="clinic.views:invoice", exc_type="KeyError",
        exc_message="'total'",
        frames=[
            {"module": "clinic.views", "function": "invoice", "filename": "clinic/views.py", "lineno": 42,
             "context": "total = prices['total']", "vars": {"pk": "17"}},
        ],
        sample_request="GET /invoices/17/",
    )
    fields.update(overrides)
    return ThresholdCrossed(**fields)
