"""Settings resolution shared by every app: ERRORTRAIL dict entry, else environment variable, else default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting or environment variable with a value that cannot be used."""


def parse_bool(raw: Any) -> bool:
    """'true'/'1'/'yes'/'on' and their opposites, or a bool."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"expected true or false, got {str(raw)[:40]!r}")


def parse_int(raw: Any) -> int:
    """An integer from an int or a string."""
    if isinstance(raw, bool):
        raise ConfigError("expected an integer, got a boolean")
    try:
        return int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise ConfigError(f"expected an integer, got {str(raw)[:40]!r}") from None


def parse_float(raw: Any) -> float:
    """A number from a number or a string."""
    if isinstance(raw, bool):
        raise ConfigError("expected a number, got a boolean")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, got {str(raw)[:40]!r}") from None
    if value != value:
        raise ConfigError("expected a number, got NaN")
    return value


def parse_list(raw: Any) -> tuple[str, ...]:
    """A tuple of strings from a sequence or a comma-separated string."""
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, (list, tuple)):
        return tuple(str(part) for part in raw)
    if isinstance(raw, (set, frozenset)):
        return tuple(sorted(str(part) for part in raw))
    raise ConfigError(f"expected a list or a comma-separated string, got {type(raw).__name__}")


def parse_str(raw: Any) -> str:
    """A string."""
    if raw is None:
        return ""
    return str(raw)


PARSERS: dict[type, Callable[[Any], Any]] = {
    bool: parse_bool,
    int: parse_int,
    float: parse_float,
    tuple: parse_list,
    str: parse_str,
}


@dataclass(frozen=True)
class Setting:
    """One key of the ERRORTRAIL settings dict, its environment variables, default, minimum and meaning."""

    name: str
    default: Any
    doc: str
    env: tuple[str, ...] = ()
    minimum: float | None = None

    def parse(self, raw: Any) -> Any:
        """Coerce a raw value to the default's type and check its minimum."""
        if raw is None and self.default is None:
            return None
        kind = type(self.default) if self.default is not None else str
        value = PARSERS.get(kind, lambda v: v)(raw)
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"must be at least {self.minimum}")
        return value


def resolve(specs: Iterable[Setting], user: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Each setting from the user dict, else its first set environment variable, else its default."""
    out: dict[str, Any] = {}
    for setting in specs:
        if setting.name in user:
            raw, source = user[setting.name], f"ERRORTRAIL[{setting.name!r}]"
        else:
            found = next((var for var in setting.env if environ.get(var) not in (None, "")), None)
            if found is None:
                out[setting.name] = setting.default
                continue
            raw, source = environ[found], f"environment variable {found}"
        try:
            out[setting.name] = setting.parse(raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return out
