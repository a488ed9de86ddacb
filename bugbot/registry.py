"""Publishing the known-issue map from KnownIssue rows, always after the transaction that changed them commits."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from redis.exceptions import RedisClusterException

from bugbot import conf, connection
from bugbot.models import KnownIssue
from contracts import known as known_map

log = logging.getLogger(__name__)
_ERRORS = (redis.RedisError, RedisClusterException, OSError)


def entries() -> list[known_map.KnownEntry]:
    """Every valid entry of the registry."""
    out = []
    for issue in KnownIssue.objects.order_by("id").iterator():
        entry = issue.to_entry()
        if entry is None:
            log.warning("bugbot: known issue %s cannot be published (invalid entry)", issue.pk)
        else:
            out.append(entry)
    return out


def republish() -> int | None:
    """Rebuild the whole map from the database; the new version, or None when Redis refused."""
    try:
        return known_map.publish(connection.client(), conf.names(), entries())
    except _ERRORS as exc:
        log.warning("bugbot: could not republish the known-issue map: %s", exc)
        return None


def republish_if_lost() -> int | None:
    """Republish when Redis lost the map (a restart without persistence); None when nothing was missing."""
    try:
        if connection.client().exists(conf.names().known_version):
            return None
    except _ERRORS:
        return None
    if not KnownIssue.objects.exists():
        return None
    log.warning("bugbot: the known-issue map was missing from Redis; republishing it")
    return republish()


def publish_one(pk: int, old_key: str | None = None) -> int | None:
    """Put (or remove) one issue's entry; the new version, or None when Redis refused (the scan repairs it)."""
    issue = KnownIssue.objects.filter(pk=pk).first()
    entry = issue.to_entry() if issue else None
    try:
        client, names = connection.client(), conf.names()
        if entry is None:
            return known_map.remove(client, names, old_key) if old_key else None
        return known_map.put(client, names, entry, replaces=old_key)
    except _ERRORS as exc:
        log.warning("bugbot: could not publish known issue %s: %s", pk, exc)
        return None


def changed(pk: int, old_key: str | None = None) -> None:
    """Publish this issue's entry once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_one(pk, old_key))


def _removed(key: str) -> None:
    try:
        known_map.remove(connection.client(), conf.names(), key)
    except _ERRORS as exc:
        log.warning("bugbot: could not remove %s from the known-issue map: %s", key, exc)


@receiver(post_save, sender=KnownIssue)
def _saved(sender: Any, instance: KnownIssue, **kwargs: Any) -> None:
    old = getattr(instance, "_loaded_key", None)
    changed(instance.pk, old if old != instance.map_key else None)
    instance._loaded_key = instance.map_key


@receiver(post_delete, sender=KnownIssue)
def _deleted(sender: Any, instance: KnownIssue, **kwargs: Any) -> None:
    key = getattr(instance, "_loaded_key", None) or instance.map_key
    transaction.on_commit(lambda: _removed(key))
