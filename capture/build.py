"""Request and exception -> classification, fingerprint and a scrubbed, bounded error.observed event."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import orjson
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.utils.functional import empty

from capture.frames import ExcInfo, exception_summary, frame_entries, frame_stack
from capture.scrub import FILTERED, Scrubber
from contracts import fingerprint as fp
from contracts import ids
from contracts.events import ErrorObserved

_FORM_TYPES = ("application/x-www-form-urlencoded",)
_JSON_TYPES = ("application/json",)
_TEXT_TYPES = ("text/",)
_META_NAMES = {"Content-Type": "CONTENT_TYPE", "Content-Length": "CONTENT_LENGTH"}
_SHRUNK = {"[Truncated]": "request data dropped: event over the size limit"}


@dataclass(slots=True)
class Observation:
    """What capture decided about one error before the page is rendered: class, fingerprint, known issue."""

    event_id: str
    ts_ms: int
    status: int
    error_type: str
    cls: str
    fingerprint: str
    basis: str
    route: str | None
    csrf_kind: str | None = None
    exc_type: str | None = None
    exc_message: str | None = None
    culprit: str | None = None
    frames: list = field(default_factory=list)
    known: Any = None
    kept: list = field(default_factory=list, repr=False)  # (frame, lineno) pairs whose details to_event fills in


@lru_cache(maxsize=8)
def _scrubber(keys: tuple, max_string: int, max_depth: int, max_items: int) -> Scrubber:
    return Scrubber(keys, max_string, max_depth, max_items)


def scrubber(cfg: Any) -> Scrubber:
    """The scrubber for the current settings."""
    return _scrubber(cfg["SCRUB_KEYS"], cfg["MAX_STRING"], cfg["MAX_DEPTH"], cfg["MAX_ITEMS"])


@lru_cache(maxsize=8)
def _probe_regex(patterns: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def classify(
    status: int,
    path: str,
    user_agent: str,
    referer: str,
    host: str | None,
    *,
    csrf: bool,
    disallowed_host: bool,
    probe_patterns: tuple[str, ...],
    crawler_agents: tuple[str, ...],
    quiet_404: tuple[str, ...] = (),
) -> str:
    """The event class of an error response."""
    if status >= 500:
        return "app_error"
    if csrf:
        return "csrf"
    agent = user_agent.lower()
    if disallowed_host or (probe_patterns and _probe_regex(probe_patterns).search(path)):
        return "probe"
    if agent and any(word in agent for word in crawler_agents):
        return "probe"
    if status == 404:
        # Browsers fetch icons and manifests on their own, with the page as Referer: not a broken link.
        quiet = quiet_404 and _probe_regex(quiet_404).search(path)
        if referer and host and not quiet and urlsplit(referer).netloc.lower() == host.lower():
            return "broken_link"
        return "not_found"
    if status in (401, 403):
        return "permission"
    return "client_error"


_HEADER_CHARS = 2048


def _header(request: HttpRequest, name: str) -> str:
    """A request header, cut to 2 KiB: a hostile megabyte must cost capture nothing more."""
    value = request.META.get("HTTP_" + name.upper().replace("-", "_"), "")
    return value[:_HEADER_CHARS] if isinstance(value, str) else ""


_HOST_ATTR = "_errortrail_host"


@lru_cache(maxsize=4)
def _plain_allowed_hosts(allowed: tuple[str, ...]) -> frozenset[str]:
    """Allowed hosts that are plain names (no wildcard, no leading dot, no IPv6 brackets)."""
    return frozenset(h.lower() for h in allowed if h and "*" not in h and not h.startswith(".") and "[" not in h)


def host_of(request: HttpRequest) -> tuple[str | None, bool]:
    """(validated host or the raw one, whether it was disallowed) without raising; worked out once per request."""
    found = request.__dict__.get(_HOST_ATTR)
    if found is None:
        try:
            raw = request._get_raw_host()
            domain, _, port = raw.lower().partition(":")
            if (not port or port.isdigit()) and domain in _plain_allowed_hosts(tuple(settings.ALLOWED_HOSTS)):
                found = (raw, False)  # the common case, without Django's costly host regex
            else:
                found = (request.get_host(), False)
        except DisallowedHost:
            raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME") or ""
            found = (str(raw)[:255], True)
        except Exception:
            found = (None, False)
        request.__dict__[_HOST_ATTR] = found
    return found


def observe(
    request: HttpRequest,
    status: int,
    cfg: Any,
    exc_info: ExcInfo | None = None,
    csrf_reason: str | None = None,
) -> Observation:
    """Classify and fingerprint an error (no I/O)."""
    scrub = scrubber(cfg)
    path = request.path
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) or None
    host, disallowed = host_of(request)
    csrf_kind = fp.csrf_kind(csrf_reason) if csrf_reason is not None else None
    cls = classify(
        status,
        path,
        _header(request, "User-Agent"),
        _header(request, "Referer"),
        host,
        csrf=csrf_kind is not None,
        disallowed_host=disallowed,
        probe_patterns=cfg["PROBE_PATTERNS"],
        crawler_agents=cfg["CRAWLER_AGENTS"],
        quiet_404=cfg["QUIET_404_PATTERNS"],
    )
    error_type = "csrf" if csrf_kind else str(status)
    exc_type = exc_message = culprit = None
    kept: list = []
    if exc_info is not None and status >= 500:
        exc_type, exc_message, culprit, kept = exception_summary(exc_info, cfg, scrub)
        basis = fp.exception_basis(status, exc_type, frame_stack(kept), exc_message, culprit=culprit)
    else:
        basis = fp.http_basis(status, error_type, route, scrub.text(path, 2048), csrf_kind)
    ts_ms = time.time_ns() // 1_000_000
    return Observation(
        event_id=ids.new_id(ts_ms),
        ts_ms=ts_ms,
        status=status,
        error_type=error_type,
        cls=cls,
        fingerprint=fp.fingerprint(basis),
        basis=basis,
        route=route,
        csrf_kind=csrf_kind,
        exc_type=exc_type,
        exc_message=exc_message,
        culprit=culprit,
        kept=kept,
    )


def _user(request: HttpRequest) -> tuple[str | None, str | None]:
    """The user's id and name, only if authentication already loaded it (never a database query here)."""
    lazy = request.__dict__.get("user")
    if lazy is None:
        return None, None
    user = lazy.__dict__.get("_wrapped", lazy) if hasattr(lazy, "__dict__") else lazy
    if user is empty or user is None or not getattr(user, "is_authenticated", False):
        return None, None
    try:
        return str(user.pk)[:64], str(user.get_username())[:150]
    except Exception:
        return None, None


def _client(request: HttpRequest) -> str | None:
    """A salted hash of address and user agent: counts distinct clients without storing who they are."""
    addr = request.META.get("REMOTE_ADDR") or ""
    if not addr:
        return None
    key = hashlib.sha256(f"errortrail-client:{settings.SECRET_KEY}".encode()).digest()
    text = f"{addr}|{_header(request, 'User-Agent')}".encode("utf-8", "replace")
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:24]


def scrubbed_url(path: str, query: str, scrub: Scrubber) -> tuple[str, dict[str, Any]]:
    """The path plus scrubbed query string, and the query as a scrubbed mapping."""
    pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=None)
    cleaned = [
        (scrub.text(k, 128), FILTERED if scrub.sensitive_key(k) else scrub.text(v, 256))
        for k, v in pairs[: scrub.max_items]
    ]
    mapping = scrub.mapping(cleaned, total=len(pairs))
    safe_path = scrub.text(path, 2048)
    if not cleaned:
        return safe_path, mapping
    return f"{safe_path}?{urlencode(cleaned, safe='[]')}"[:4096], mapping


def _body(request: HttpRequest, cfg: Any, scrub: Scrubber) -> dict[str, Any]:
    """Request body data, never reading a large or streamed upload."""
    content_type = (request.content_type or "").lower()
    sensitive = getattr(request, "sensitive_post_parameters", None)
    if "_post" in request.__dict__ and request.method == "POST":
        post = request.__dict__["_post"]
        out: dict[str, Any] = {"form": scrub.mapping(_filtered_post(post, sensitive), total=len(post))}
        files = request.__dict__.get("_files")
        if files:
            out["files"] = [
                {
                    "field": scrub.text(k, 128),
                    "name": scrub.text(getattr(f, "name", "") or "", 256),
                    "size": getattr(f, "size", 0),
                }
                for k, f in list(files.items())[: scrub.max_items]
            ]
        return out
    if content_type.startswith("multipart/"):
        return {"body": "[Omitted: multipart upload not read]"}
    raw = request.__dict__.get("_body")
    if raw is None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return {"body": "[Omitted: bad Content-Length]"}
        if length <= 0:
            return {}
        if length > cfg["MAX_BODY_BYTES"]:
            return {"body": f"[Omitted: {length} bytes over the {cfg['MAX_BODY_BYTES']} byte limit]"}
        try:
            raw = request.body
        except Exception:
            return {"body": "[Omitted: body already consumed as a stream]"}
    if len(raw) > cfg["MAX_BODY_BYTES"]:
        return {"body": f"[Omitted: {len(raw)} bytes over the {cfg['MAX_BODY_BYTES']} byte limit]"}
    if sensitive == "__ALL__":
        return {"body": FILTERED}
    if content_type.startswith(_JSON_TYPES) or content_type.endswith("+json"):
        try:
            return {"json": scrub.value(orjson.loads(raw))}
        except orjson.JSONDecodeError:
            return {"body": scrub.binary(raw)}
    if content_type.startswith(_FORM_TYPES):
        pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {"form": scrub.mapping(_filtered_post(pairs, sensitive), total=len(pairs))}
    if content_type.startswith(_TEXT_TYPES) or not content_type:
        return {"body": scrub.binary(raw)}
    return {"body": f"[Omitted: {len(raw)} bytes of {content_type[:64]}]"}


def _filtered_post(post: Any, sensitive: Any) -> list[tuple[str, Any]]:
    items = post.lists() if hasattr(post, "lists") else ((k, [v]) for k, v in post)
    out = []
    for key, values in items:
        value = values[0] if len(values) == 1 else values
        if sensitive == "__ALL__" or (sensitive and key in sensitive):
            value = FILTERED
        out.append((key, value))
    return out


def _referer(value: str, scrub: Scrubber) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        return "[Omitted: malformed Referer]"
    netloc = parts.netloc.rpartition("@")[2]  # never keep user:password@
    return scrubbed_url(f"{parts.scheme}://{netloc}{unquote(parts.path)}", parts.query, scrub)[0]


def request_data(request: HttpRequest, cfg: Any, scrub: Scrubber) -> tuple[str, dict[str, Any]]:
    """(scrubbed URL, scrubbed and bounded request data) for an event."""
    query = request.META.get("QUERY_STRING", "") or ""
    if not isinstance(query, str):
        query = query.decode("latin-1")
    url, query_map = scrubbed_url(request.path, query[:8192], scrub)
    headers: dict[str, str] = {}
    for name in cfg["HEADER_ALLOWLIST"]:
        value = request.META.get(_META_NAMES.get(name) or "HTTP_" + name.upper().replace("-", "_"))
        if value:
            value = str(value)[: 2 * _HEADER_CHARS]
            if name == "Referer":
                value = _referer(value, scrub)
            headers[name] = scrub.text(value, 512)
    data: dict[str, Any] = {"query": query_map, "headers": headers}
    data.update(_body(request, cfg, scrub))
    return url, data


def to_event(obs: Observation, request: HttpRequest, cfg: Any, weight: int = 1) -> ErrorObserved:
    """The error.observed event of an observation."""
    scrub = scrubber(cfg)
    url, data = request_data(request, cfg, scrub)
    if obs.kept and not obs.frames:
        obs.frames = frame_entries(obs.kept, request, cfg, scrub)
        obs.kept = []  # let the frames go
    user_id, user_name = _user(request)
    host, _ = host_of(request)
    known = obs.known
    return ErrorObserved(
        id=obs.event_id,
        ts=obs.ts_ms,
        status=obs.status,
        error_type=obs.error_type,
        cls=obs.cls,
        method=scrub.text(request.method or "GET", 16),
        path=scrub.text(request.path, 2048),
        url=url,
        fingerprint=obs.fingerprint,
        basis=obs.basis[:2048],
        route=obs.route[:512] if obs.route else None,
        host=scrub.text(host, 255) if host else None,
        user_id=user_id,
        user_name=user_name,
        client=_client(request),
        request=data,
        csrf_kind=obs.csrf_kind,
        exc_type=obs.exc_type,
        exc_message=obs.exc_message,
        culprit=obs.culprit,
        frames=obs.frames,
        release=cfg["RELEASE"][:128] or None,
        environment=cfg["ENVIRONMENT"][:64] or None,
        known_bug=known.bug_id if known is not None else None,
        weight=weight,
    )


def weighted_event(latest: tuple, weight: int, cfg: Any) -> ErrorObserved:
    """One event standing for `weight` held occurrences of a pattern, from the latest one's particulars."""
    obs, method, path, host = latest
    scrub = scrubber(cfg)
    safe_path = scrub.text(path, 2048)
    return ErrorObserved(
        id=ids.new_id(obs.ts_ms),
        ts=obs.ts_ms,
        status=obs.status,
        error_type=obs.error_type,
        cls=obs.cls,
        method=scrub.text(method or "GET", 16),
        path=safe_path,
        url=safe_path,
        fingerprint=obs.fingerprint,
        basis=obs.basis[:2048],
        route=obs.route[:512] if obs.route else None,
        host=scrub.text(host, 255) if host else None,
        request={"coalesced": weight},
        csrf_kind=obs.csrf_kind,
        exc_type=obs.exc_type,
        exc_message=obs.exc_message,
        culprit=obs.culprit,
        release=cfg["RELEASE"][:128] or None,
        environment=cfg["ENVIRONMENT"][:64] or None,
        known_bug=obs.known.bug_id if obs.known is not None else None,
        weight=weight,
    )


def shrink(event: ErrorObserved, level: int) -> ErrorObserved:
    """A smaller copy of an event too large to encode: level 1 drops frame details, level 2 request data too."""
    frames = [{k: v for k, v in f.items() if k in ("module", "function", "filename", "lineno")} for f in event.frames]
    if level == 1:
        return replace(event, frames=frames)
    return replace(event, frames=frames[-10:], request=dict(_SHRUNK))
