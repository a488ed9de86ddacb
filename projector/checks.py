"""System checks: projector.E001... for settings the consumer cannot run with, each with a fix."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from contracts.config import ConfigError
from projector import conf

ROUTER = "projector.router.ProjectorRouter"
VENDORS = ("postgresql", "postgis", "sqlite", "spatialite")


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    """E001 unusable value, E002 BLOCK_MS not under the socket timeout, E003/W004 database alias, E005 vendor."""
    try:
        cfg = conf.get()
    except ConfigError as exc:
        return [Error(f"errortrail projector settings: {exc}", hint="Fix the value in ERRORTRAIL or the environment.",
                      id="projector.E001")]
    out = []
    if cfg["PROJECTOR_BLOCK_MS"] >= cfg["PROJECTOR_SOCKET_TIMEOUT_S"] * 1000:
        out.append(Error(
            f"PROJECTOR_BLOCK_MS ({cfg['PROJECTOR_BLOCK_MS']}) is not below the socket timeout "
            f"({cfg['PROJECTOR_SOCKET_TIMEOUT_S']} s): every idle read would time out.",
            hint="Keep PROJECTOR_BLOCK_MS at 1000-2000 and PROJECTOR_SOCKET_TIMEOUT_S a few seconds above it.",
            id="projector.E002"))
    alias = cfg["DATABASE"]
    if alias not in settings.DATABASES:
        out.append(Error(f"ERRORTRAIL['DATABASE'] names {alias!r}, which is not in DATABASES.",
                         hint="Use 'default' or add that alias to DATABASES.", id="projector.E003"))
        return out
    if alias != "default" and ROUTER not in (getattr(settings, "DATABASE_ROUTERS", None) or []):
        out.append(Warning(f"The projection tables live in {alias!r} but {ROUTER} is not in DATABASE_ROUTERS.",
                           hint=f"Add {ROUTER!r} to DATABASE_ROUTERS.", id="projector.W004"))
    engine = settings.DATABASES[alias].get("ENGINE", "")
    if not any(vendor in engine for vendor in VENDORS):
        out.append(Error(f"The projector supports PostgreSQL and SQLite, not {engine}.",
                         hint="Point ERRORTRAIL['DATABASE'] at a PostgreSQL (or SQLite) alias.", id="projector.E005"))
    return out
