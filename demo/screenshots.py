"""Screenshots of the running demo for the README's tour (Playwright driving Chromium).

    make demo                      # in one terminal; wait for the first traffic to finish
    .venv/bin/python demo/screenshots.py --out docs/screenshots
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

CHROMIUM = os.environ.get("ERRORTRAIL_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1100, "height": 720}
# name, path, whether a staff session is needed, height shown (pages longer than that are cut)
SHOTS = (
    ("site-aware", "/pets/4/invoice/", False, 560),
    ("site-server-error", "/errors/capture/preview/server_error/", True, 560),
    ("site-csrf", "/errors/capture/preview/csrf_failure/", True, 560),
    ("dashboard-overview", "/errors/", True, 1500),
    ("dashboard-known", "/errors/known/", True, 560),
)


def shoot(page, path: Path, height: int) -> None:
    """The top `height` pixels of the page (or all of it when shorter)."""
    full = page.evaluate("document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": min(height, full)}
    page.screenshot(path=str(path), full_page=True, clip=clip)


def main(argv: list[str] | None = None) -> int:
    """Log in as the demo's staff user and photograph the tour's pages."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("DEMO_URL") or "http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--user", default=os.environ.get("DEMO_USER", "demo"))
    parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "paws-and-claws"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        anonymous = browser.new_page(viewport=VIEWPORT)
        anonymous.goto(f"{args.url}/vets/", referer=f"{args.url}/")
        shoot(anonymous, args.out / "site-broken-link.png", 560)
        staff = browser.new_page(viewport=VIEWPORT)
        staff.goto(f"{args.url}/admin/login/?next=/errors/")
        staff.fill("#id_username", args.user)
        staff.fill("#id_password", args.password)
        staff.click("input[type=submit]")
        staff.wait_for_url(re.compile(r".*/errors/$"))
        for name, path, as_staff, height in SHOTS:
            page = staff if as_staff else anonymous
            page.goto(f"{args.url}{path}")
            shoot(page, args.out / f"{name}.png", height)
        staff.goto(f"{args.url}/errors/")
        staff.click("text=KeyError")
        shoot(staff, args.out / "dashboard-pattern.png", 900)
        browser.close()
    for shot in sorted(args.out.glob("*.png")):
        print(f"{shot}  {shot.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
