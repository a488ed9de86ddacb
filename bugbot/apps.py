"""Django app config for bugbot."""

from django.apps import AppConfig


class BugbotConfig(AppConfig):
    name = "bugbot"
    label = "errortrail_bugbot"
    verbose_name = "errortrail bugbot"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bugbot import checks, registry  # noqa: F401  (system checks; publish on every KnownIssue change)
