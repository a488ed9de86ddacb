"""Template helpers of the dashboard: query strings, safe links, numbers, epoch times, durations."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from django import template

from webui import charts
from webui.filters import Filters

register = template.Library()
_SAFE_URL = re.compile(r"(?:https?://[^/\s?#@\\]+(?:[/?#]\S*)?|/(?!/)\S*)\Z", re.IGNORECASE)


@register.simple_tag
def qs(filters: Filters, **changes: Any) -> str:
    """`?query` of the filters with some values changed (escaped by the template like any output)."""
    return "?" + filters.query(**changes)


@register.filter
def safe_href(url: Any) -> str:
    """The URL when it is http(s) or a path on this site, else '' (never javascript: or data:)."""
    url = str(url or "")
    return url if _SAFE_URL.match(url) else ""


@register.filter
def num(value: Any) -> str:
    """An integer with thousands separators ('—' when unknown)."""
    if value is None or value == "":
        return "\u2014"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def ms_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds as an aware datetime (shown in the site's timezone by the date filter)."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@register.filter
def duration(seconds: Any) -> str:
    """A short age: '4 s', '3 min', '2 h', '5 d'."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "\u2014"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{int(s // size)} {unit}"
    return f"{int(s)} s"


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """mapping[key], or None."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def cls_css(cls: Any) -> str:
    """The CSS class colouring an error class."""
    return charts.css_class(str(cls))


@register.filter
def cls_name(cls: Any) -> str:
    """A reader's name of an error class."""
    return charts.class_name(str(cls))
