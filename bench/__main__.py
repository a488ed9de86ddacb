"""`python -m bench [NAME ...]`: run every benchmark module of this package (or the named ones)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def benchmarks() -> list[str]:
    """Names of the modules directly in bench/ (not bench.rig) that define main()."""
    here = Path(__file__).resolve().parent
    found = []
    for info in pkgutil.iter_modules([str(here)]):
        if info.ispkg or info.name.startswith("_"):
            continue
        if callable(getattr(importlib.import_module(f"bench.{info.name}"), "main", None)):
            found.append(info.name)
    return sorted(found)


def main(argv: list[str]) -> int:
    """Run the selected benchmarks one after another; benchmarks report, so the exit code is theirs."""
    available = benchmarks()
    chosen = argv or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    status = 0
    for name in chosen:
        print(f"== bench.{name}", flush=True)
        status = max(status, importlib.import_module(f"bench.{name}").main([]) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
