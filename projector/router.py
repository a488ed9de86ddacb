"""Database router sending the projection tables to ERRORTRAIL["DATABASE"] (only needed when not 'default')."""

from __future__ import annotations

from typing import Any

from projector import conf
from projector.apps import ProjectorConfig

LABEL = ProjectorConfig.label


class ProjectorRouter:
    """Reads, writes and migrations of the projector's models go to the configured alias."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        """The alias for reads of projector models."""
        return conf.get()["DATABASE"] if model._meta.app_label == LABEL else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        """Relations among projector models only."""
        labels = {obj1._meta.app_label, obj2._meta.app_label}
        if LABEL in labels:
            return labels == {LABEL}
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        """Projector tables only on the configured alias."""
        if app_label == LABEL:
            return db == conf.get()["DATABASE"]
        return None
