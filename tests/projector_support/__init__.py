"""Shared helpers for the projector's tests (factories, stream writers, aggregate snapshots)."""
