"""Projector loop timings for in-process tests: short blocks, leases and back-off."""

FAST = {
    "PROJECTOR_BLOCK_MS": 20,
    "PROJECTOR_LEASE_TTL_S": 5.0,
    "PROJECTOR_HEARTBEAT_S": 0.5,
    "PROJECTOR_CLAIM_INTERVAL_S": 0.0,
    "PROJECTOR_BACKOFF_MAX_S": 0.05,
}
