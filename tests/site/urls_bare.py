"""A root urlconf without capture's error handlers (for the system checks)."""

from tests.site.urls import urlpatterns  # noqa: F401
