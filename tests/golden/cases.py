"""The events the golden msgpack files pin: add cases (and files) for new versions, never rewrite a file."""

from __future__ import annotations

import os
from pathlib import Path

from contracts import codec
from contracts.events import BugFailed, BugFiled, ErrorObserved, ThresholdCrossed

GOLDEN_DIR = Path(__file__).resolve().parent
WRITE_ENV = "ERRORTRAIL_WRITE_GOLDEN"

FP = "5d41402abc4b2a76b9719d911017c592ae9f2a5e0b6c3f1d8e7a6b5c4d3e2f10"
ID_A = "069S1ERNFC0000000001"
ID_B = "069S1ERNFC0000000002"
TS = 1733300000123

FRAMES = [
    {
        "module": "demo.pets.views",
        "function": "pet_detail",
        "filename": "/srv/demo/pets/views.py",
        "lineno": 42,
        "context": "pet = Pet.objects.get(pk=pk)",
        "vars": {"pk": "17", "request": "<WSGIRequest: GET '/pets/17/'>", "password": "[Filtered]"},
    },
    {"module": "demo.pets.models", "function": "age", "lineno": None},
]

CASES = {
    "error.observed.v1": ErrorObserved(
        id=ID_A,
        ts=TS,
        status=500,
        error_type="500",
        cls="app_error",
        method="GET",
        path="/pets/17/",
        url="https://clinic.example/pets/17/?tab=visits",
        fingerprint=FP,
        basis="v1|exc|5xx|ZeroDivisionError|frames=demo.pets.views:pet_detail>demo.pets.models:age|msg=division by zero",
        route="pets/<int:pk>/",
        host="clinic.example",
        user_id="7",
        user_name="ana",
        client="203.0.113.9",
        request={
            "query": {"tab": "visits"},
            "headers": {"User-Agent": "Mozilla/5.0", "Accept": "text/html"},
            "body": None,
            "form": {"name": "Rex", "tags": ["dog", "good"], "weight": 12.5, "vaccinated": True, "visits": -3},
            "note": "päť ✓",
        },
        exc_type="ZeroDivisionError",
        exc_message="division by zero",
        culprit="demo.pets.models:age",
        frames=FRAMES,
        release="1.4.2",
        environment="production",
        known_bug="B-012",
        weight=3,
    ),
    "error.observed.v1.minimal": ErrorObserved(
        id=ID_B,
        ts=TS,
        status=403,
        error_type="csrf",
        cls="csrf",
        method="POST",
        path="/checkout/pay/",
        url="https://clinic.example/checkout/pay/",
        fingerprint=FP,
        basis="v1|http|4xx|csrf|csrf=no_cookie|path=/checkout/pay/",
    ),
    "threshold.crossed.v1": ThresholdCrossed(
        id=ID_A,
        ts=TS,
        fingerprint=FP,
        basis="v1|http|4xx|404|route=pets/<int:pk>/",
        title="404 on pets/<int:pk>/",
        cls="broken_link",
        error_type="404",
        status=404,
        method="GET",
        path="/pets/17/",
        count=4,
        threshold=3,
        first_seen=TS - 3_600_000,
        last_seen=TS,
        route="pets/<int:pk>/",
        users=2,
        culprit="demo.pets.views:pet_detail",
        exc_type="Http404",
        exc_message="No Pet matches the given query.",
        frames=FRAMES[:1],
        sample_request="GET /pets/17/ (Referer: /pets/)",
        sample_event_id=ID_B,
        csrf_kind="token_missing",
        release="1.4.2",
        environment="staging",
        regression=True,
    ),
    "threshold.crossed.v1.minimal": ThresholdCrossed(
        id=ID_A,
        ts=TS,
        fingerprint=FP,
        basis="v1|http|5xx|500|path=/api/pets/",
        title="500 on /api/pets/",
        cls="app_error",
        error_type="500",
        status=500,
        method="POST",
        path="/api/pets/",
        count=3,
        threshold=3,
        first_seen=TS,
        last_seen=TS,
    ),
    "bug.filed.v1": BugFiled(
        id=ID_A,
        ts=TS,
        fingerprint=FP,
        bug_id="B-012",
        issue_url="https://github.com/acme/clinic/issues/12",
        backend="github",
        adopted=True,
        reopened=True,
    ),
    "bug.filed.v1.minimal": BugFiled(
        id=ID_B, ts=TS, fingerprint=FP, bug_id="B-1", issue_url="/errortrail/bugs/B-1", backend="local"
    ),
    "bug.failed.v1": BugFailed(
        id=ID_A,
        ts=TS,
        fingerprint=FP,
        bug_id="B-012",
        backend="gh",
        reason="HTTP 502 from api.github.com",
        attempts=5,
        final=True,
    ),
    "bug.failed.v1.minimal": BugFailed(
        id=ID_B, ts=TS, fingerprint=FP, bug_id="B-1", backend="github", reason="rate limited", attempts=1
    ),
}


def path_of(name: str) -> Path:
    """The golden file of a case."""
    return GOLDEN_DIR / f"{name}.msgpack"


def write_missing() -> list[Path]:
    """Write the files of cases that have none; an existing file is never rewritten."""
    written = []
    for name, event in CASES.items():
        target = path_of(name)
        if not target.exists():
            target.write_bytes(codec.encode(event))
            written.append(target)
    return written


def writing_enabled() -> bool:
    """Whether the run was explicitly asked to write missing golden files."""
    return os.environ.get(WRITE_ENV) == "1"


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    if not writing_enabled():
        raise SystemExit(f"set {WRITE_ENV}=1 to write missing golden files")
    for written_path in write_missing():
        print(f"wrote {written_path}")
