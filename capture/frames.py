"""An exception -> type, scrubbed message, culprit and in-app frames with scrubbed, bounded local variables."""

from __future__ import annotations

import linecache
import reprlib
import sys
import sysconfig
from functools import lru_cache
from types import TracebackType
from typing import Any

from django.http import HttpRequest
from django.http.request import HttpHeaders
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

from capture.scrub import FILTERED, Scrubber

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

MAX_VARS = 20
_LIBRARY_PATHS = tuple(
    {p for p in (sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")) if p}
)
_REPR = reprlib.Repr()
_REPR.maxstring = 160
_REPR.maxother = 160
_REPR.maxlevel = 2
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 8


class _AlwaysOnFilter(SafeExceptionReporterFilter):
    """Django's filter for @sensitive_variables, active even with DEBUG on."""

    def is_active(self, request: Any) -> bool:
        return True


_FILTER = _AlwaysOnFilter()


def current_exc_info() -> ExcInfo | None:
    """sys.exc_info() when an exception is being handled."""
    info = sys.exc_info()
    return info if info[0] is not None else None  # type: ignore[return-value]


@lru_cache(maxsize=4096)
def in_app(module: str, filename: str, exclude: tuple[str, ...]) -> bool:
    """Whether a frame belongs to the site rather than to a library or the standard library."""
    if any(module == prefix or module.startswith(prefix + ".") for prefix in exclude):
        return False
    return not filename.startswith(_LIBRARY_PATHS)


def _frame_value(value: Any, scrub: Scrubber, request: Any = None) -> str:
    """One local variable as scrubbed, bounded text; containers are scrubbed by key before repr."""
    parts = getattr(request, "__dict__", {})  # META, and COOKIES once a view has read it (never parsed here)
    if isinstance(value, HttpHeaders) or (isinstance(value, dict) and (value is parts.get("META")
                                                                          or value is parts.get("COOKIES"))):
        # Headers, cookies and the WSGI environ hold credentials under any name (X-Shop-Key, cart_ref, the
        # server's environment): only the allowlisted headers are kept, in the event's request data.
        return f"<{type(value).__name__}: {len(value)} entries, not kept>"
    if isinstance(value, str):
        return FILTERED if value.startswith("****") else scrub.text(value, 200)
    if isinstance(value, HttpRequest):
        # Its repr carries the full query string; the event has the scrubbed one already.
        return f"<{type(value).__name__}: {scrub.text(str(value.method), 16)} {scrub.text(value.path, 160)!r}>"
    if isinstance(value, MultiValueDict):
        value = scrub.mapping(value.lists(), depth=1, total=len(value))
    elif isinstance(value, (dict, list, tuple, set, frozenset)):
        value = scrub.value(value, depth=1)
    return scrub.text(_REPR.repr(value), 200)  # reprlib survives a broken __repr__


def _frame_vars(request: Any, frame: Any, scrub: Scrubber) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        pairs = _FILTER.get_traceback_frame_variables(request, frame)
    except Exception:  # site code's odd locals must never break capture
        return {"[error]": "variables unavailable"}
    for name, value in list(pairs)[:MAX_VARS]:
        key = scrub.text(str(name), 64)
        out[key] = FILTERED if scrub.sensitive_key(key) else _frame_value(value, scrub, request)
    return out


def exception_summary(exc_info: ExcInfo, cfg: Any, scrub: Scrubber) -> tuple[str, str, str, list]:
    """(type name, scrubbed message, culprit, kept in-app (frame, lineno) innermost last): cheap, before the page."""
    exc_type, exc, tb = exc_info
    module_name = exc_type.__module__
    type_name = exc_type.__qualname__ if module_name == "builtins" else f"{module_name}.{exc_type.__qualname__}"
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable exception>"
    kept: list[tuple[Any, int]] = []
    last: tuple[str, str] | None = None
    exclude = cfg["IN_APP_EXCLUDE"]
    while tb is not None:
        frame = tb.tb_frame
        last = (str(frame.f_globals.get("__name__", "?")), frame.f_code.co_name)
        if in_app(last[0], frame.f_code.co_filename, exclude):
            kept.append((frame, tb.tb_lineno))
        tb = tb.tb_next
    kept = kept[-cfg["MAX_FRAMES"] :]
    if kept:
        culprit = f"{kept[-1][0].f_globals.get('__name__', '?')}:{kept[-1][0].f_code.co_name}"
    else:
        culprit = f"{last[0]}:{last[1]}" if last else type_name
    return type_name[:256], scrub.text(message, 2048), culprit[:512], kept


def frame_stack(kept: list) -> list[tuple[str, str]]:
    """(module, function) of kept frames, for the fingerprint."""
    return [(str(frame.f_globals.get("__name__", "?"))[:256], frame.f_code.co_name[:256]) for frame, _ in kept]


def frame_entries(kept: list, request: Any, cfg: Any, scrub: Scrubber) -> list[dict[str, Any]]:
    """Full frame details (file, line, context, scrubbed locals): the costly part, done after the response."""
    return [_frame(frame, lineno, request, cfg, scrub) for frame, lineno in kept]


def exception_details(exc_info: ExcInfo, request: Any, cfg: Any, scrub: Scrubber) -> tuple[str, str, str, list]:
    """(type name, scrubbed message, culprit, in-app frames innermost last) of an exception."""
    type_name, message, culprit, kept = exception_summary(exc_info, cfg, scrub)
    return type_name, message, culprit, frame_entries(kept, request, cfg, scrub)


def _frame(frame: Any, lineno: int, request: Any, cfg: Any, scrub: Scrubber) -> dict[str, Any]:
    code = frame.f_code
    entry: dict[str, Any] = {
        "module": str(frame.f_globals.get("__name__", "?"))[:256],
        "function": code.co_name[:256],
        "filename": code.co_filename[-512:],
        "lineno": lineno,
        "context": scrub.text(linecache.getline(code.co_filename, lineno).strip(), 500),
    }
    if cfg["FRAME_VARS"]:
        entry["vars"] = _frame_vars(request, frame, scrub)
    return entry
