"""Settings from the environment: DATABASE_URL, booleans and lists (pure functions, no Django)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean environment variable ('1', 'true', 'yes', 'on' and their opposites)."""
    raw = environ.get(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {raw[:40]!r}")


def env_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    """A comma-separated environment variable as a list of non-empty items."""
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def database_from_url(url: str, base_dir: Path | None = None) -> dict[str, Any]:
    """A Django DATABASES entry from sqlite:///relative, sqlite:////absolute or postgres://user:pw@host:port/db."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///name.db is relative (to base_dir, else the working directory); sqlite:////tmp/x.db absolute.
        raw = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not raw or parts.netloc:
            raise ValueError(f"expected sqlite:///path/to/file.sqlite3, got {url!r}")
        if raw == ":memory:":
            return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        path = Path(raw)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    if scheme in _POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ValueError("expected postgres://user@host:port/database, got a URL without a database name")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r}: use sqlite:/// or postgres://")


def database(environ: Mapping[str, str] = os.environ, default_path: Path | None = None) -> dict[str, Any]:
    """DATABASES['default']: DATABASE_URL when set, else SQLite at default_path."""
    url = environ.get("DATABASE_URL", "").strip()
    if url:
        return database_from_url(url)
    if default_path is None:
        raise ValueError("DATABASE_URL is not set and there is no default database")
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_path)}
