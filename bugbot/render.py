"""Issue title and body from a stored threshold.crossed map (pure; the text is redacted before it leaves)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

from bugbot import redact
from contracts.fingerprint import normalize_path

MARKER_PREFIX = "errortrail:fingerprint="
MAX_TITLE = 256
MAX_SUMMARY = 120
MAX_FRAMES_SHOWN = 12
CLASS_NAMES = {
    "app_error": "server error",
    "csrf": "CSRF failure",
    "permission": "permission denied",
    "not_found": "page not found",
    "broken_link": "broken link",
    "probe": "scanner probe",
    "client_error": "client error",
}


def marker(key: str) -> str:
    """The hidden marker a filed issue carries: `<!-- errortrail:fingerprint=<key> -->`."""
    return f"<!-- {MARKER_PREFIX}{key} -->"


def _plain(value: Any, limit: int = 300) -> str:
    """One redacted line, safe inside inline code and unable to forge a marker."""
    line = redact.text(value, limit).replace("\r", " ").replace("\n", " ")
    return line.replace("<!--", "<!- -").replace("-->", "- ->").replace(MARKER_PREFIX, "errortrail: fingerprint=")


def _code(value: Any, limit: int = 300) -> str:
    """Inline code whose fence is longer than any backtick run inside."""
    line = _plain(value, limit)
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if line.startswith("`") or line.endswith("`") or not line else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def _url(link: str) -> str:
    """A link target that cannot close the markdown link early."""
    return _plain(link, 1000).replace(")", "%29").replace(" ", "%20")


def where(wire: Mapping[str, Any]) -> str:
    """The route pattern with a leading slash, else the path with ids replaced."""
    route = wire.get("route")
    if route:
        return route if route.startswith("/") else "/" + route
    return normalize_path(str(wire.get("path") or "/"))


def summary(wire: Mapping[str, Any]) -> str:
    """`CSRF failure on POST /appointments/<int:pk>/book/`, `KeyError in clinic.views:invoice`, …"""
    cls = wire.get("cls")
    method = str(wire.get("method") or "GET").upper()
    status = wire.get("status")
    if cls == "csrf":
        text = f"CSRF failure on {method} {where(wire)}"
    elif wire.get("exc_type"):
        text = f"{wire['exc_type']} in {wire.get('culprit') or where(wire)}"
    elif cls in ("not_found", "broken_link"):
        text = f"{CLASS_NAMES[cls].capitalize()} ({status}) on {method} {where(wire)}"
    else:
        name = CLASS_NAMES.get(cls, "error")
        text = f"{name.capitalize()} ({status}) on {method} {where(wire)}"
    text = _plain(text, MAX_SUMMARY * 2)
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def title(bug_id: str, wire: Mapping[str, Any]) -> str:
    """`B-014: CSRF failure on POST /appointments/<int:pk>/book/`."""
    return f"{bug_id}: {summary(wire)}"[:MAX_TITLE]


def pattern_title(bug_id: str, error_type: str, glob: str) -> str:
    """Title of a pattern known issue."""
    return f"{bug_id}: {_plain(error_type, 32)} errors on {_plain(glob, 120)}"[:MAX_TITLE]


def _when(ms: Any) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return "unknown"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _frames(frames: Any) -> list[str]:
    lines = []
    for frame in list(frames or [])[-MAX_FRAMES_SHOWN:]:
        if not isinstance(frame, dict):
            continue
        where_ = f"{frame.get('module', '?')}:{frame.get('function', '?')}"
        place = f"{frame.get('filename') or frame.get('module', '?')}:{frame.get('lineno') or '?'}"
        lines.append(f"  {_plain(place, 200)} in {_plain(where_, 200)}")
        if frame.get("context"):
            lines.append("      " + _plain(str(frame["context"]).strip(), 200))
    return lines


def _fence(lines: list[str]) -> list[str]:
    body = "\n".join(lines)
    ticks = "`" * max(3, max((len(run) + 1 for run in re.findall(r"`{3,}", body)), default=3))
    return [ticks, *lines, ticks]


def body(wire: Mapping[str, Any], link: str = "", key: str | None = None) -> str:
    """The issue body: what happened, counts, first/last seen, class, route, exception, sample, link, marker."""
    key = key or str(wire.get("fingerprint", ""))
    cls = wire.get("cls", "")
    count = wire.get("count", 0)
    lines = [
        "errortrail filed this issue automatically: an error pattern reached "
        f"{_plain(wire.get('threshold', '?'), 20)} occurrences.",
        "",
    ]
    if wire.get("regression"):
        lines += ["It had been fixed and came back (a regression).", ""]
    rows = [
        ("What", _plain(CLASS_NAMES.get(cls, cls), 40)),
        ("Class", _code(cls, 40)),
        ("Status", _plain(wire.get("status", "?"), 8)),
        ("Request", _code(str(wire.get("method") or "?").upper() + " " + where(wire), 600)),
        ("Occurrences", f"{_plain(count, 20)} (users affected: {_plain(wire.get('users', 0), 20)})"),
        ("First seen", _when(wire.get("first_seen"))),
        ("Last seen", _when(wire.get("last_seen"))),
    ]
    if wire.get("csrf_kind"):
        rows.append(("CSRF reason", _code(wire["csrf_kind"], 40)))
    if wire.get("release") or wire.get("environment"):
        release, environment = _code(wire.get("release") or "-", 128), _code(wire.get("environment") or "-", 64)
        rows.append(("Release", f"{release} in {environment}"))
    lines += ["| | |", "|---|---|", *(f"| {name} | {value.replace('|', chr(92) + '|')} |" for name, value in rows)]
    if wire.get("exc_type"):
        lines += ["", "### Exception", "", _code(f"{wire['exc_type']}: {wire.get('exc_message') or ''}", 800)]
        if wire.get("culprit"):
            lines += ["", f"Culprit: {_code(wire['culprit'], 300)}"]
        frames = _frames(wire.get("frames"))
        if frames:
            lines += ["", "In-app frames, most recent call last:", "", *_fence(frames)]
    if wire.get("sample_request"):
        lines += ["", "### Sample request (scrubbed)", "", *_fence([_plain(wire["sample_request"], 1024)])]
    if link:
        lines += ["", f"[See this pattern on the dashboard]({_url(link)})"]
    return finish(lines, key)


def pattern_body(error_type: str, glob: str, message: str, link: str = "", key: str = "") -> str:
    """Body of a pattern known issue (one issue for every error of a type on matching URLs)."""
    lines = [
        "errortrail tracks this issue for a pattern of errors:",
        "",
        f"- error type: {_code(error_type, 32)}",
        f"- URLs matching: {_code(glob, 512)}",
    ]
    if message:
        lines += ["", f"Visitors see: {_plain(message, 1000)}"]
    if link:
        lines += ["", f"[See it on the dashboard]({_url(link)})"]
    return finish(lines, key)


def finish(lines: list[str], key: str) -> str:
    """The redacted text, then the fingerprint line and hidden marker (ours, added after the final pass)."""
    text = redact.text("\n".join(lines), 60000)
    return f"{text}\n\n---\nFingerprint: `{key}`\n{marker(key)}\n"


def comment_regression(bug_id: str, wire: Mapping[str, Any], regressions: int) -> str:
    """The comment that reopens an issue after its pattern came back."""
    lines = [
        f"errortrail: {_plain(bug_id, 16)} came back after it was fixed "
        f"(regression {regressions}): {_plain(wire.get('count', '?'), 20)} occurrences, "
        f"last seen {_when(wire.get('last_seen'))}.",
    ]
    if wire.get("release"):
        lines.append(f"Release: {_code(wire['release'], 128)}")
    return redact.text("\n".join(lines), 4000) + f"\n{regression_marker(str(wire.get('fingerprint', '')), regressions)}"


def regression_marker(key: str, regressions: int) -> str:
    """Hidden marker of a regression comment (so a retried reopen does not comment twice)."""
    return f"<!-- errortrail:regression={key}:{regressions} -->"
