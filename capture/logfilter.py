"""A logging filter that scrubs secrets from log records, for Django's own loggers (django.request, django.security).

Django logs every 500 with its traceback (whose last line is the exception message) and every 4xx with the
request path, so a secret in an exception message or a URL reaches the site's logs whatever errortrail does.
Add the filter to the handlers that receive those records (see docs/logging.md):

    LOGGING = {..., "filters": {"scrub": {"()": "capture.logfilter.ScrubFilter"}},
               "handlers": {"console": {..., "filters": ["scrub"]}}}
"""

from __future__ import annotations

import logging
from functools import lru_cache

from capture import conf
from capture.scrub import Scrubber

MAX_MESSAGE_CHARS = 16 * 1024
MAX_TRACEBACK_CHARS = 64 * 1024


@lru_cache(maxsize=4)
def _scrubber(keys: tuple[str, ...]) -> Scrubber:
    return Scrubber(keys, MAX_MESSAGE_CHARS)


class ScrubFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack text with capture's scrubbing rules; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            scrub = _scrubber(conf.safe()["SCRUB_KEYS"])
            record.msg = scrub.text(record.getMessage(), MAX_MESSAGE_CHARS)
            record.args = None
            if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # formatters then print exc_text, the scrubbed copy
            if record.exc_text:
                record.exc_text = scrub.text(record.exc_text, MAX_TRACEBACK_CHARS)
            if record.stack_info:
                record.stack_info = scrub.text(record.stack_info, MAX_TRACEBACK_CHARS)
        except Exception:  # a broken record or setting: a placeholder line rather than an unscrubbed one
            record.msg, record.args = "[errortrail could not scrub this log record]", None
            record.exc_info = record.exc_text = record.stack_info = None
        return True
