"""Every stream, consumer group, key and field name errortrail uses (nobody else spells them)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "errortrail:"
EVENT_FIELD = "e"
GROUP_PROJECTOR = "projector"
GROUP_BUGBOT = "bugbot"
MAX_SHARDS = 1024


def hash_tag(key: str) -> str | None:
    """The part of a key Redis Cluster hashes when it has one: text between the first '{' and the next '}'."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


def shard_for(fingerprint: str, shards: int) -> int:
    """The shard (0..shards-1) an event with this fingerprint belongs to."""
    if shards <= 1:
        return 0
    try:
        return int(fingerprint[:8], 16) % shards
    except ValueError:
        return sum(fingerprint.encode()) % shards


@dataclass(frozen=True)
class Names:
    """Redis names under one prefix; shard keys share a hash tag so they live on one cluster node.

    With cluster=True (Redis Cluster) shard keys are tagged even with one shard, and the signals' dead letters
    share the signals stream's slot; a single Redis keeps the plain names.
    """

    prefix: str = DEFAULT_PREFIX
    shards: int = 1
    cluster: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not self.prefix:
            raise ValueError("prefix must be a non-empty string")
        if ("{" in self.prefix or "}" in self.prefix) and hash_tag(self.prefix) is None:
            raise ValueError("prefix may hold braces only as one complete, non-empty hash tag such as {app}")
        if not isinstance(self.shards, int) or isinstance(self.shards, bool) or not 1 <= self.shards <= MAX_SHARDS:
            raise ValueError(f"shards must be an integer between 1 and {MAX_SHARDS}")
        if not isinstance(self.cluster, bool):
            raise ValueError("cluster must be True or False")

    def _shard(self, shard: int, name: str) -> str:
        if not 0 <= shard < self.shards:
            raise ValueError(f"shard {shard} out of range 0..{self.shards - 1}")
        if self.shards == 1 and not self.cluster:
            return f"{self.prefix}{name}"
        return f"{self.prefix}{{{shard}}}:{name}"

    def errors(self, shard: int = 0) -> str:
        """The error stream of a shard."""
        return self._shard(shard, "errors")

    def errors_for(self, fingerprint: str) -> str:
        """The error stream an event with this fingerprint goes to."""
        return self.errors(shard_for(fingerprint, self.shards))

    def all_errors(self) -> list[str]:
        """Every shard's error stream."""
        return [self.errors(i) for i in range(self.shards)]

    def dead(self, shard: int = 0) -> str:
        """The dead-letter stream of a shard's error consumers."""
        return self._shard(shard, "dead")

    def lease(self, shard: int = 0) -> str:
        """The projector lease of a shard."""
        return self._shard(shard, "lease")

    @property
    def signals(self) -> str:
        """The stream of threshold.crossed / bug.* events."""
        return f"{self.prefix}signals"

    @property
    def signals_dead(self) -> str:
        """Dead letters of the signals consumers (on a cluster in the signals stream's slot, for requeueing)."""
        if self.cluster and hash_tag(self.prefix) is None:  # the untagged stream hashes whole: tag with its name
            return f"{self.prefix}{{{self.signals}}}:dead"
        return f"{self.prefix}signals:dead"

    @property
    def known(self) -> str:
        """The known-issue map (hash)."""
        return f"{self.prefix}known"

    @property
    def known_version(self) -> str:
        """The known-issue map's version counter, in the map's cluster slot (they change in one MULTI)."""
        return f"{self.prefix}{{{self.known}}}:version"

    @property
    def known_views(self) -> str:
        """Hash bug id -> how many error pages named that known issue."""
        return f"{self.prefix}known:views"

    @property
    def drops(self) -> str:
        """Hash reason -> events capture could not deliver."""
        return f"{self.prefix}capture:drops"

    @property
    def capture_stats(self) -> str:
        """Hash of capture counters (spooled, flushed, breaker openings)."""
        return f"{self.prefix}capture:stats"

    def spool_done(self, stream: str, batch_id: str) -> str:
        """Marker that a spool batch reached its stream, in the stream's hash slot (makes flushing exactly-once)."""
        tag = hash_tag(stream)
        if tag is None:  # an untagged key hashes whole: tagging the marker with it lands in the same slot
            if "{" in stream or "}" in stream:
                raise ValueError(f"cannot place a marker in the slot of {stream!r}")
            tag = stream
        return f"{self.prefix}{{{tag}}}:spool:done:{batch_id}"

    def heartbeat(self, role: str, consumer: str) -> str:
        """A consumer's heartbeat key."""
        return f"{self.prefix}heartbeat:{role}:{consumer}"

    def heartbeat_pattern(self, role: str = "*") -> str:
        """Pattern matching heartbeat keys of a role (glob characters in the prefix escaped)."""
        prefix = "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in self.prefix)
        return f"{prefix}heartbeat:{role}:*"

    @property
    def bug_counter(self) -> str:
        """The bug-id counter (INCR)."""
        return f"{self.prefix}bugs:next"

    @property
    def scan_state(self) -> str:
        """Hash with the periodic scan's last run figures."""
        return f"{self.prefix}scan"
