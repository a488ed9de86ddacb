"""Template helpers: safe links, numbers, epoch times, durations, lookups, query strings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from webui.filters import Filters
from webui.templatetags import errortrail_webui as tags


@pytest.mark.parametrize("url, ok", [
    ("https://github.com/o/r/issues/1", True), ("http://tracker.test/x?y=1#z", True), ("/errors/known/B-001/", True),
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), ("data:text/html,x", False),
    ("//evil.test/x", False), ("https://user@evil.test/", False), ("", False), (None, False), ("relative/x", False),
    ("https://a.test/\\evil", True),
])
def test_safe_href(url, ok):
    assert tags.safe_href(url) == (url if ok else "")


def test_small_filters():
    assert tags.num(1234567) == "1,234,567" and tags.num(None) == "\u2014" and tags.num("abc") == "abc"
    assert tags.ms_datetime(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert tags.ms_datetime("x") is None and tags.ms_datetime(None) is None
    assert [tags.duration(s) for s in (4.2, 185, 7300, 200000)] == ["4 s", "3 min", "2 h", "2 d"]
    assert tags.duration(None) == "\u2014"
    assert tags.get_item({"a": 1}, "a") == 1 and tags.get_item(None, "a") is None
    assert tags.qs(Filters(cls="csrf"), page=2) == "?range=24h&cls=csrf&page=2"
    assert tags.cls_css("csrf") == "cls-csrf" and tags.cls_css('x" onload="y') == "cls-other"
    assert tags.cls_name("probe") == "scanner probe"
