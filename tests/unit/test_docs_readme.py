"""The README and docs/: the two commands first, links and screenshots that exist, instructions that match the
example site, and a configuration table that matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bugbot import conf as bugbot_conf
from capture import conf as capture_conf
from projector import conf as projector_conf

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
SETTINGS = {s.name: s for m in (capture_conf, projector_conf, bugbot_conf) for s in m.SETTINGS}


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_opens_with_the_two_commands():
    text = README.read_text()
    assert text.startswith("# errortrail\n")
    first_block = text.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]
    order = [text.index(h) for h in ("## A five-minute tour", "## Adding errortrail to an existing Django site",
                                     "## Configuration")]
    assert order == sorted(order)


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_local_links_and_anchors_resolve(page):
    text = page.read_text()
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target}"
        if fragment:
            headings = [anchor(h) for h in re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)]
            assert fragment in headings, f"{page.name}: {target}"


def test_screenshots_are_small_pngs_and_all_used():
    shots = sorted((REPO / "docs" / "screenshots").glob("*.png"))
    assert len(shots) >= 5
    readme = README.read_text()
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.name
        assert shot.stat().st_size < 300 * 1024, shot.name
        assert f"docs/screenshots/{shot.name}" in readme, f"{shot.name} is not shown in the README"


def test_the_integration_steps_match_the_example_site():
    readme = README.read_text()
    settings = (REPO / "demo" / "petclinic" / "settings.py").read_text()
    urls = (REPO / "demo" / "petclinic" / "urls.py").read_text()
    for line in ('CSRF_FAILURE_VIEW = "capture.views.csrf_failure"', 'LOGIN_URL = "/admin/login/"'):
        assert line in readme and line in settings
    for name in ("bad_request", "permission_denied", "page_not_found", "server_error"):
        assert f'"capture.views.{name}"' in readme and f'"capture.views.{name}"' in urls
    for include in ('path("errors/capture/", include("capture.urls"))', 'path("errors/", include("webui.urls"))'):
        assert include in readme and include in urls
    middleware = settings.split("MIDDLEWARE = [", 1)[1].split("]", 1)[0]
    assert middleware.index("SecurityMiddleware") < middleware.index("ErrorCaptureMiddleware") < \
        middleware.index("CsrfViewMiddleware")
    for app in ("capture", "projector", "bugbot", "webui"):
        assert f'"{app}"' in readme and f'"{app}"' in settings
    for command in ("run_projector --consumer", "run_bugbot --consumer", "celery -A bugbot.celery worker",
                    "celery -A bugbot.celery beat"):
        assert command in readme


def test_the_readme_configuration_table_matches_the_code():
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 10
    for row in rows:
        variables, keys, default = (cell.strip() for cell in row.strip("|").split("|")[:3])
        keys = [k.strip("` ") for k in re.split(r", | / ", keys)]
        variables = [v.strip("` ") for v in re.split(r", | / ", variables)]
        first = SETTINGS[keys[0]]
        assert variables[0] in first.env, row  # the variable sets that key
        shown = default.split(", ")[0].split(" / ")[0].strip(" `")
        expected = str(first.default).lower() if isinstance(first.default, bool) else str(first.default)
        if shown not in ("–", "(empty)") and not shown.startswith(("<tmp>", "REDIS_URL")):
            assert shown == expected, row
        elif shown == "–":
            assert first.default in ("", ()), row
