"""The known-issue map: its Redis format (hash + version counter), matching, and its writer."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any, Iterable

from contracts.names import Names

STATUSES = ("open", "fixed", "wontfix")
EXACT_PREFIX = "fp:"
PATTERN_PREFIX = "pat:"
MAX_MESSAGE = 1000
MAX_URL = 1024
_BUG_ID = re.compile(r"[A-Z][A-Z0-9]{0,5}-\d{1,9}\Z")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}\Z")
_HTTP_URL = re.compile(r"https?://[^/?#@]+(?:[/?#]|\Z)", re.IGNORECASE)
_UNSAFE_URL_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")
_GLOB_WILDCARDS = re.compile(r"\[[^\]]*\]|[*?]")
_REQUIRED = ("bug_id", "message", "status")


class KnownMapError(ValueError):
    """A known-issue entry that is not valid."""


def _show(value: Any) -> str:
    return repr(value[:20]) if isinstance(value, str) else f"<{type(value).__name__}>"


def _safe_url(url: str) -> bool:
    """An http(s) URL with a host or a site path: no other scheme, no '//' or '\\' tricks, no spaces."""
    if _UNSAFE_URL_CHARS.search(url) or len(url) > MAX_URL:
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    return bool(_HTTP_URL.match(url))


def specificity(glob: str) -> int:
    """How many characters of a glob are literal ('*', '?' and '[...]' classes are not)."""
    return len(_GLOB_WILDCARDS.sub("", glob))


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """One known issue as the live site sees it: exact (fingerprint) or pattern (error type + URL glob)."""

    bug_id: str
    message: str
    status: str = "open"
    url: str = ""
    fingerprint: str = ""
    error_type: str = ""
    glob: str = ""
    fixed_at: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.bug_id, str) or not _BUG_ID.match(self.bug_id):
            raise KnownMapError(f"bad bug id {_show(self.bug_id)}")
        if not isinstance(self.status, str) or self.status not in STATUSES:
            raise KnownMapError(f"bad status {_show(self.status)}")
        for name in ("message", "url", "fingerprint", "error_type", "glob"):
            if not isinstance(getattr(self, name), str):
                raise KnownMapError(f"{name} must be a string")
        if len(self.message) > MAX_MESSAGE:
            raise KnownMapError(f"message must be at most {MAX_MESSAGE} characters")
        if self.url and not _safe_url(self.url):
            raise KnownMapError("url must be empty, a site path or an http(s) URL")
        if not isinstance(self.fixed_at, int) or isinstance(self.fixed_at, bool) or self.fixed_at < 0:
            raise KnownMapError("fixed_at must be epoch milliseconds (0 when not fixed)")
        if self.fingerprint:
            if self.glob or self.error_type or not _FINGERPRINT.match(self.fingerprint):
                raise KnownMapError("an exact entry has a 64-hex fingerprint and no pattern")
        elif not (self.glob and self.error_type) or len(self.glob) > 512 or len(self.error_type) > 32:
            raise KnownMapError("an entry needs a fingerprint, or an error type and a URL glob")

    @property
    def key(self) -> str:
        """Its field in the Redis hash."""
        if self.fingerprint:
            return EXACT_PREFIX + self.fingerprint
        return f"{PATTERN_PREFIX}{self.bug_id}"

    def to_json(self) -> str:
        """The hash value."""
        data = {k: v for k, v in asdict(self).items() if v or k in _REQUIRED}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "KnownEntry":
        """Parse a hash value; raises KnownMapError on anything invalid."""
        try:
            data = json.loads(raw)
        except (ValueError, TypeError, RecursionError) as exc:
            raise KnownMapError(f"not JSON: {type(exc).__name__}: {exc}"[:200]) from None
        if not isinstance(data, dict):
            raise KnownMapError("not a JSON object")
        allowed = {"bug_id", "message", "status", "url", "fingerprint", "error_type", "glob", "fixed_at"}
        if set(data) - allowed:
            raise KnownMapError(f"unknown keys {sorted(set(data) - allowed)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise KnownMapError(str(exc)) from None


class KnownMap:
    """An immutable snapshot of the map with fast matching."""

    def __init__(self, entries: Iterable[KnownEntry] = (), version: int = 0, invalid: int = 0) -> None:
        self.version = version
        self.invalid = invalid
        self.exact: dict[str, KnownEntry] = {}
        patterns: list[KnownEntry] = []
        for entry in entries:
            if entry.fingerprint:
                self.exact[entry.fingerprint] = entry
            else:
                patterns.append(entry)
        # The most specific glob wins: most literal characters, then a named error type over "*", then bug id.
        self.patterns = sorted(patterns, key=lambda e: (-specificity(e.glob), e.error_type == "*", e.bug_id))

    def __len__(self) -> int:
        return len(self.exact) + len(self.patterns)

    def entries(self) -> list[KnownEntry]:
        """Every entry."""
        return [*self.exact.values(), *self.patterns]

    def match(self, fingerprint: str, error_type: str, path: str) -> KnownEntry | None:
        """The open known issue covering this error, if any (exact fingerprint first)."""
        entry = self.exact.get(fingerprint)
        if entry is not None and entry.status == "open":
            return entry
        for entry in self.patterns:
            if (
                entry.status == "open"
                and entry.error_type in ("*", error_type)
                and fnmatchcase(path, entry.glob)
            ):
                return entry
        return None


def parse(raw: dict[Any, Any], version: int = 0) -> KnownMap:
    """The map from an HGETALL reply; invalid entries are skipped and counted."""
    entries = []
    invalid = 0
    for key, value in raw.items():
        key = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        try:
            entry = KnownEntry.from_json(value)
        except KnownMapError:
            invalid += 1
            continue
        if entry.key != key:
            invalid += 1
            continue
        entries.append(entry)
    return KnownMap(entries, version=version, invalid=invalid)


def parse_version(raw: Any) -> int:
    """The version counter's value (0 when unset or garbage)."""
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


def publish(client: Any, names: Names, entries: Iterable[KnownEntry]) -> int:
    """Replace the whole map atomically and bump its version; returns the new version."""
    mapping = {entry.key: entry.to_json() for entry in entries}
    pipe = client.pipeline(transaction=True)
    pipe.delete(names.known)
    if mapping:
        pipe.hset(names.known, mapping=mapping)
    pipe.incr(names.known_version)
    return int(pipe.execute()[-1])


def put(client: Any, names: Names, entry: KnownEntry, replaces: str | None = None) -> int:
    """Add or change one entry (removing the field it replaces, if its key changed); returns the new version."""
    pipe = client.pipeline(transaction=True)
    if replaces and replaces != entry.key:
        pipe.hdel(names.known, replaces)
    pipe.hset(names.known, entry.key, entry.to_json())
    pipe.incr(names.known_version)
    return int(pipe.execute()[-1])


def remove(client: Any, names: Names, key: str) -> int:
    """Remove one entry by its hash field; returns the new version."""
    pipe = client.pipeline(transaction=True)
    pipe.hdel(names.known, key)
    pipe.incr(names.known_version)
    return int(pipe.execute()[-1])


def load(client: Any, names: Names) -> KnownMap:
    """Read the map and its version in one round trip."""
    pipe = client.pipeline(transaction=True)
    pipe.get(names.known_version)
    pipe.hgetall(names.known)
    version, raw = pipe.execute()
    return parse(raw, parse_version(version))
