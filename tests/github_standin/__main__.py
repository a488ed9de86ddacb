"""Run the stand-in as its own process: `python -m tests.github_standin --port N --repo o/r --token T`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .standin import GitHubStandIn


def main(argv: list[str] | None = None, stop: threading.Event | None = None, announce=print) -> int:
    """Serve until SIGTERM/SIGINT (or `stop` is set); announces the URL (the first line of stdout)."""
    parser = argparse.ArgumentParser(prog="python -m tests.github_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--repo", default="errortrail/site", help="owner/name")
    parser.add_argument("--token", default="standin-token", help="the only token accepted")
    parser.add_argument("--no-seed", action="store_true", help="start without issue #1")
    parser.add_argument("--search-lag", action="store_true", help="search sees new issues only after reindex")
    args = parser.parse_args(argv)
    options = {"seed": ()} if args.no_seed else {}
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with GitHubStandIn(args.repo, args.token, host=args.host, port=args.port, search_lag=args.search_lag,
                       **options) as standin:
        announce(standin.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
