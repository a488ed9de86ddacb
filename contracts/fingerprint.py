"""Fingerprint algorithm v1: which errors are one pattern, with the canonical string kept as "why grouped"."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache

ALGORITHM = 1

CSRF_KINDS = (
    "bad_origin",
    "no_referer",
    "malformed_referer",
    "insecure_referer",
    "bad_referer",
    "no_cookie",
    "bad_cookie",
    "token_missing",
    "token_incorrect",
    "token_malformed",
    "other",
)

_CSRF_RULES = (
    ("Origin checking failed", "bad_origin"),
    ("Referer checking failed - no Referer", "no_referer"),
    ("Referer checking failed - Referer is malformed", "malformed_referer"),
    ("Referer checking failed - Referer is insecure", "insecure_referer"),
    ("Referer checking failed", "bad_referer"),
    ("CSRF cookie not set", "no_cookie"),
    ("CSRF cookie", "bad_cookie"),
    ("CSRF token missing", "token_missing"),
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b")
# From a run start, taken possessively: "[\w.+-]+@" tried every start of a long run (quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
# Every digit run, also inside identifiers ("user_17", "pet42"): ids glued to names must not split a pattern.
_NUMBER = re.compile(r"(?:(?<!\w)[-+])?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']{24,}'|\"[^\"]{24,}\"")
_SPACE = re.compile(r"\s+")
_MAX_MESSAGE = 300


def csrf_kind(reason: str | None) -> str:
    """The kind of a Django CSRF rejection reason, never its variable text (origins, referers)."""
    if not reason:
        return "other"
    for prefix, kind in _CSRF_RULES:
        if reason.startswith(prefix):
            return kind
    if reason.startswith("CSRF token from"):
        return "token_incorrect" if reason.rstrip(".").endswith("incorrect") else "token_malformed"
    return "other"


def _segment(seg: str) -> str:
    if not seg:
        return seg
    if seg.isdigit():
        return "<int>"
    if _UUID.fullmatch(seg):
        return "<uuid>"
    if len(seg) >= 16 and re.fullmatch(r"[0-9a-fA-F]+", seg):
        return "<hash>"
    if len(seg) >= 20 and re.fullmatch(r"[\w-]+", seg) and re.search(r"\d", seg) and re.search(r"[A-Za-z]", seg):
        return "<token>"
    if _EMAIL.fullmatch(seg):
        return "<email>"
    if _DATE.fullmatch(seg):
        return "<date>"
    return seg


def normalize_path(path: str) -> str:
    """A path with ids, uuids, hashes, tokens, emails and dates replaced by placeholders."""
    return "/".join(_segment(seg) for seg in path.split("?", 1)[0].split("/"))


@lru_cache(maxsize=1024)
def normalize_message(message: str | None) -> str:
    """An exception message with numbers, ids, emails, dates and long quoted values replaced."""
    if not message:
        return ""
    text = message[:2000]
    text = _UUID.sub("<uuid>", text)
    text = _EMAIL.sub("<email>", text)
    text = _DATE.sub("<date>", text)
    text = _QUOTED.sub("<str>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<num>", text)
    return _SPACE.sub(" ", text).strip()[:_MAX_MESSAGE]


def status_class(status: int) -> str:
    """'4xx' for 404 and so on."""
    return f"{status // 100}xx"


def http_basis(status: int, error_type: str, route: str | None, path: str, csrf_reason_kind: str | None = None) -> str:
    """Canonical string of an HTTP error (no exception): status class, type, CSRF kind, route or normalized path."""
    where = f"route={route}" if route else f"path={normalize_path(path)}"
    parts = [f"v{ALGORITHM}", "http", status_class(status), error_type]
    if csrf_reason_kind:
        parts.append(f"csrf={csrf_reason_kind}")
    parts.append(where)
    return "|".join(parts)


def exception_basis(
    status: int, exc_type: str, frames: Iterable[tuple[str, str]], message: str | None, culprit: str | None = None
) -> str:
    """Canonical string of a 5xx with an exception: type, culprit, in-app frames (no line numbers), normalized message."""
    stack = ">".join(f"{module}:{function}" for module, function in frames)
    parts = [f"v{ALGORITHM}", "exc", status_class(status), exc_type]
    if culprit:
        parts.append(f"culprit={culprit}")
    parts += [f"frames={stack}", f"msg={normalize_message(message)}"]
    return "|".join(parts)


def fingerprint(basis: str) -> str:
    """sha256 hex of a canonical string."""
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()
