"""Django app config for capture."""

from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "capture"
    label = "errortrail_capture"
    verbose_name = "errortrail capture"

    def ready(self) -> None:
        from capture import checks, middleware  # noqa: F401  (registers checks and the exception signal)
