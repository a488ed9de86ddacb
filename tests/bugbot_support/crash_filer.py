"""A run_bugbot that dies (os._exit) right after the tracker created an issue, before anything is recorded.

Run as `python -m tests.bugbot_support.crash_filer`; BUGBOT_TEST_DB_NAME names the test database to use,
the rest of the configuration comes from the environment (ERRORTRAIL_*, GITHUB_*).
"""

from __future__ import annotations

import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = os.environ["BUGBOT_TEST_DB_NAME"]
    import django

    django.setup()
    from bugbot.trackers import gh, github

    for cls in (github.GitHubTracker, gh.GhTracker):
        def create(self, *args, _original=cls.create, **kwargs):
            _original(self, *args, **kwargs)
            os._exit(9)

        cls.create = create
    from django.core.management import call_command

    call_command("run_bugbot", "--until-idle", "--consumer", os.environ.get("BUGBOT_CONSUMER", "c1"))


if __name__ == "__main__":
    main()
