"""Django app config of the clinic."""

from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "demo.clinic"
    label = "clinic"
    verbose_name = "Paws & Claws clinic"
    default_auto_field = "django.db.models.BigAutoField"
