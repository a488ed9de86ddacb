"""The test site's URLs plus bugbot's webhook under errors/ (as a site with the dashboard mounts it)."""

from django.urls import include, path

from tests.site.urls import handler400, handler403, handler404, handler500  # noqa: F401
from tests.site.urls import urlpatterns as site

urlpatterns = [*site, path("errors/", include("bugbot.urls"))]
