"""A shard lease in Redis: SET NX PX to take it (or its own after a restart), compare-and-renew in Lua."""

from __future__ import annotations

import uuid
from typing import Any

ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur == false or (ARGV[3] ~= '' and string.sub(cur, 1, string.len(ARGV[3])) == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
SEPARATOR = "|"


class Lease:
    """One shard's lease as held (or wanted) by one consumer."""

    def __init__(self, client: Any, key: str, consumer: str, ttl_s: float) -> None:
        self.client = client
        self.key = key
        self.consumer = consumer
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.token = ""
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)

    @property
    def held(self) -> bool:
        """Whether this process believes it holds the lease."""
        return bool(self.token)

    def holder(self) -> str | None:
        """The consumer holding the lease now, if any."""
        raw = self.client.get(self.key)
        if raw is None:
            return None
        return raw.decode("utf-8", "replace").rsplit(SEPARATOR, 1)[0]

    def acquire(self, force: bool = False) -> bool:
        """Take the lease if it is free or held by this consumer's earlier incarnation (or always, with force)."""
        token = f"{self.consumer}{SEPARATOR}{uuid.uuid4().hex[:12]}"
        if force:
            self.client.set(self.key, token, px=self.ttl_ms)
            self.token = token
            return True
        if int(self._acquire(keys=[self.key], args=[token, self.ttl_ms, self.consumer + SEPARATOR])):
            self.token = token
            return True
        return False

    def renew(self) -> bool:
        """Extend the lease if still ours; False (and forgotten) when it was lost."""
        if not self.token:
            return False
        if int(self._renew(keys=[self.key], args=[self.token, self.ttl_ms])):
            return True
        self.token = ""
        return False

    def release(self) -> None:
        """Give the lease up if still ours."""
        if self.token:
            self._release(keys=[self.key], args=[self.token])
            self.token = ""
