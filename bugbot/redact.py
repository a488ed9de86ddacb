"""The last pass over text leaving errortrail for a tracker: secrets and personal data out, whatever slipped by."""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"

SECRET_WORDS = (
    "password", "passwd", "pwd", "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key",
    "auth", "session", "cookie", "csrf", "xsrf", "signature", "card", "cvv", "cvc", "iban", "ssn", "private",
    "credential",
)
_WORDS = "|".join(re.escape(w) for w in sorted(SECRET_WORDS, key=len, reverse=True))
# Keys and emails start at a run start and the key run is taken possessively: "[\w.-]*word[\w.-]*" and
# "[\w.+-]+@" tried every start and split of a long run (12 s for "passwordpassword…" of 1 KB).
_ASSIGN = re.compile(
    r"(?i)(?<![\w.-])((?=[\w.-]*?(?:" + _WORDS + r"))[\w.-]++)(\"?'?[ \t]*[=:][ \t]*[\"']?)(?!\[Filtered\])([^\s&\"',;}\]]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic|digest|token|apikey)(\s+|%20|\+)[A-Za-z0-9._~+/=%-]{6,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}")
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}\b|\bAKIA[0-9A-Z]{16}\b")
_CARD = re.compile(r"(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d.])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    rf"(?<![\w:.])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:(?:{_H}(?::{_H}){{0,5}})?|::(?:{_H}:){{0,6}}{_H})(?![\w:])"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return FILTERED if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def text(value: Any, limit: int = 4000) -> str:
    """Text with secrets, card numbers, emails and IP addresses replaced, control characters removed, capped."""
    out = _CONTROL.sub("", str(value if value is not None else ""))[: limit + 64]
    out = _JWT.sub(FILTERED, out)
    out = _GITHUB_TOKEN.sub(FILTERED, out)
    out = _KEY_LIKE.sub(FILTERED, out)
    out = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", out)
    out = _CARD.sub(_card, out)
    out = _ASSIGN.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", out)
    out = _EMAIL.sub("[email]", out)
    out = _IPV4.sub("[ip]", out)
    out = _IPV6.sub("[ip]", out)
    if len(out) > limit:
        out = out[:limit] + "…"
    return out


FREE_TEXT = ("title", "path", "route", "culprit", "exc_type", "exc_message", "sample_request")
FRAME_TEXT = ("module", "function", "filename", "context")


def event_payload(wire: dict) -> dict:
    """A threshold.crossed map with its free-text fields redacted and frame locals dropped (kept on KnownIssue)."""
    out = {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in wire.items()}  # jsonb refuses NUL
    for name in FREE_TEXT:
        if isinstance(out.get(name), str):
            out[name] = text(out[name], 2048)
    frames = []
    for frame in out.get("frames") or []:
        if isinstance(frame, dict):
            kept = {k: v for k, v in frame.items() if k != "vars"}
            for name in FRAME_TEXT:
                if isinstance(kept.get(name), str):
                    kept[name] = text(kept[name], 512)
            frames.append(kept)
    out["frames"] = frames
    return out
