"""Scrubbing and bounding: secrets out by key and by value, size capped, any input made safe to encode."""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"

_SCHEMES = "bearer|basic|digest|token|apikey"
# A credential runs until whitespace or the next scheme word, so "Bearer a/Bearer b" loses both.
_BEARER = re.compile(rf"(?i)\b({_SCHEMES})(\s+|%20|\+)(?:(?!(?:{_SCHEMES})(?:\s|%20|\+))[A-Za-z0-9._~+/=%-]){{6,}}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}")
_CARD = re.compile(r"(?<!\d)(?<!\d\.)\d(?:[ -]?\d){12,}(?!\.\d)")
_GROUP = re.compile(r"\d+")
_DIGITS = re.compile(r"\d{4}|\d[ -]\d")
_SCHEME = re.compile(rf"(?i){_SCHEMES}")
_USERINFO = re.compile(r"(?<![\w+.-])([A-Za-z][\w+.-]*+://)[^\s/?#@]++@")  # postgres://user:pw@db, https://a:b@host
# One cheap pass: text with none of these cannot hold a secret any rule below would find.
_SUSPECT = re.compile(rf"(?i)eyJ|\d[ -]?\d|[=:]|{_SCHEMES}")


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (card numbers do)."""
    total = 0
    for index, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if index % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _card_sub(match: re.Match) -> str:
    # A run like "order 12 4111 1111 1111 1111" holds the card in some of its groups: try each span of groups,
    # growing leftwards from each end group so the Luhn sum is extended, never recomputed.
    text = match.group()
    groups = [(m.start(), m.end(), m.group()) for m in _GROUP.finditer(text)]
    first = last = None
    for end in range(len(groups)):
        total = count = 0
        for start in range(end, -1, -1):
            for ch in reversed(groups[start][2]):
                n = (ord(ch) - 48) * (1 + count % 2)
                total += n - 9 if n > 9 else n
                count += 1
            if count > 19:
                break
            if count >= 13 and total % 10 == 0:
                first = start if first is None else min(first, start)
                last = end
    if first is None:
        return text
    return text[: groups[first][0]] + FILTERED + text[groups[last][1] :]


def _assigned(match: re.Match) -> str:
    quote = match.group(3)[0] if match.group(3)[0] in "\"'" else ""
    return f"{match.group(1)}{match.group(2)}{quote}{FILTERED}{quote}"


def make_safe_str(value: str) -> str:
    """The string if it encodes as UTF-8, else with unencodable characters escaped."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


class Scrubber:
    """Removes secrets from keyed data and free text, and caps depth, breadth and string length."""

    def __init__(self, keys: tuple[str, ...], max_string: int = 1024, max_depth: int = 5, max_items: int = 50):
        self.keys = tuple(k.lower() for k in keys)
        self.max_string = max_string
        self.max_depth = max_depth
        self.max_items = max_items
        words = "|".join(re.escape(k) for k in sorted(self.keys, key=len, reverse=True)) or "(?!)"
        self._word = re.compile(words)  # searched in lower-cased text: ten times faster than (?i) here
        # The key is a whole run of key characters holding a deny word (a run start, checked ahead, taken
        # possessively): "[\w]*word[\w]*" backtracked cubically and took seconds on "passwordpassword…=".
        self._assign = re.compile(
            r"(?i)(?<![\w.\[\]-])((?=[\w.\[\]-]*?(?:" + words + r"))[\w.\[\]-]++)(['\"]?\s*[=:]\s*)"
            r"(\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|\[[^\]]*\]?|(?:\[Filtered\]|[^\s&\"',;}\]])+)"
        )

    def sensitive_key(self, key: Any) -> bool:
        """Whether a key names a secret (substring match, case-insensitive)."""
        return self._word.search((key if isinstance(key, str) else str(key)).lower()) is not None

    def text(self, value: str, limit: int | None = None) -> str:
        """Free text with bearer tokens, JWTs, card numbers and key=value secrets replaced, then capped."""
        limit = self.max_string if limit is None else limit
        # Scrub a little past the cap so a secret cut in half by truncation is still recognised.
        text = make_safe_str(value[: limit + 64])
        if not _SUSPECT.search(text):
            return text if len(text) <= limit else text[: limit - 1] + "…"
        if "eyJ" in text:
            text = _JWT.sub(FILTERED, text)
        if _SCHEME.search(text):
            text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
        if _DIGITS.search(text):
            text = _CARD.sub(_card_sub, text)
        if "://" in text and "@" in text:
            text = _USERINFO.sub(rf"\1{FILTERED}@", text)
        if ("=" in text or ":" in text) and self._word.search(text.lower()):
            text = self._assign.sub(_assigned, text)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return text

    def value(self, value: Any, depth: int = 0) -> Any:
        """A JSON-like, bounded, scrubbed copy of any value."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if -(2**63) <= value < 2**63 else self.text(str(value))
        if isinstance(value, float):
            return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.binary(bytes(value))
        if depth >= self.max_depth:
            return "[Truncated: too deep]"
        if isinstance(value, dict):
            return self.mapping(value.items(), depth, len(value))
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and self.sensitive_key(value[0]):
            return [self.text(value[0], 128), FILTERED]  # a (key, value) pair, as from dict.items() or parse_qsl
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)[: self.max_items + 1]
            out = [self.value(item, depth + 1) for item in items[: self.max_items]]
            if len(items) > self.max_items or len(value) > self.max_items:
                out.append(f"[Truncated: {len(value) - self.max_items} more]")
            return out
        return self.text(_safe_repr(value), 256)

    def mapping(self, items: Any, depth: int = 0, total: int | None = None) -> dict[str, Any]:
        """A scrubbed, bounded dict from (key, value) pairs."""
        out: dict[str, Any] = {}
        count = 0
        more = False
        for key, item in items:
            if count >= self.max_items:
                more = True
                break
            name = self.text(key if isinstance(key, str) else _safe_repr(key), 128)
            out[name] = FILTERED if self.sensitive_key(name) else self.value(item, depth + 1)
            count += 1
        if more or (total is not None and total > count):
            out["[Truncated]"] = f"{total - count} more keys" if total is not None else "more keys"
        return out

    def binary(self, data: bytes) -> str:
        """Bytes as text when they are UTF-8, else a size note."""
        try:
            return self.text(data[: self.max_string + 64].decode("utf-8"))
        except UnicodeDecodeError:
            return f"[Binary: {len(data)} bytes]"


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ in site code must not break capture
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return text[:512]
