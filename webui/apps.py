"""Django app config for the staff dashboard."""

from django.apps import AppConfig


class WebuiConfig(AppConfig):
    name = "webui"
    label = "errortrail_webui"
    verbose_name = "errortrail dashboard"
