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
_BUG_ID = re.compile(r"[A-Z][A-Z0-9]{0,5}-\d{1,9}\Z")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}\Z")


class KnownMapError(ValueError):
    """A known-issue entry that is not valid."""


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
            raise KnownMapError(f"bad bug id {str(self.bug_id)[:20]!r}")
        if self.status not in STATUSES:
            raise KnownMapError(f"bad status {str(self.status)[:20]!r}")
        if not isinstance(self.message, str) or len(self.message) > MAX_MESSAGE:
            raise KnownMapError("message must be a string of at most 1000 characters")
        if not isinstance(self.url, str) or (self.url and not self.url.startswith(("https://", "http://", "/"))):
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
        return json.dumps({k: v for k, v in asdict(self).items() if v}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "KnownEntry":
        """Parse a hash value; raises KnownMapError on anything invalid."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise KnownMapError(f"not JSON: {exc}") from None
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
        # The most specific glob wins: longest literal text first, then bug id for a stable order.
        self.patterns = sorted(patterns, key=lambda e: (-len(e.glob.replace("*", "")), e.bug_id))

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
