#!/usr/bin/env python
"""Django's command-line utility for the demo site (run from anywhere: python demo/manage.py ...)."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    """Run a Django management command against demo.petclinic.settings."""
    # Import the demo as the package `demo` only, never its folders as top-level modules.
    sys.path[0] = str(REPO)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.petclinic.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
