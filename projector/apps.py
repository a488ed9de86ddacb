"""Django app config for projector."""

from django.apps import AppConfig


class ProjectorConfig(AppConfig):
    name = "projector"
    label = "errortrail_projector"
    verbose_name = "errortrail projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from projector import checks  # noqa: F401  (registers the system checks)
