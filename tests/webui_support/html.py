"""What a strict CSP (default-src 'self') would block or an XSS would need, found in rendered HTML."""

from __future__ import annotations

from html.parser import HTMLParser


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler attribute")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    ("javascript:", "data:", "vbscript:")):
                self.problems.append(f"<{tag} {name}={value[:30]!r}> script URL")
            if name in ("href", "src") and (value or "").startswith(("http://", "https://", "//")) and tag in (
                    "script", "link", "img", "iframe"):
                self.problems.append(f"<{tag} {name}={value[:40]!r}> loads from another host")
        if tag == "script" and not found.get("src"):
            self.problems.append("<script> without src (inline script)")
        if tag == "style":
            self.problems.append("<style> element (inline style)")
        if tag in ("iframe", "object", "embed"):
            self.problems.append(f"<{tag}> element")

    handle_startendtag = handle_starttag


def csp_problems(html: str) -> list[str]:
    """Everything in the page a strict CSP would block, or that runs script; [] for a clean page."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    return scan.problems


def tags(html: str, name: str) -> list[dict]:
    """Attributes of every <name> element."""
    scan = _Scan()
    scan.feed(html)
    return [attrs for tag, attrs in scan.tags if tag == name]
