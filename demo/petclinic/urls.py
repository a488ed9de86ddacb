"""URLs of the demo site, wired to errortrail the way the README tells site owners to."""

import os

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic.base import RedirectView
from django.views.static import serve

from demo.clinic import views
from demo.petclinic.env import env_bool

urlpatterns = [
    path("", views.home, name="home"),
    # Pages without an icon link (the admin, the dashboard) make browsers ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("clinic/favicon.svg"), permanent=True)),
    path("pets/<int:pk>/", views.pet_detail, name="pet"),
    path("pets/<int:pk>/invoice/", views.invoice, name="invoice"),
    path("appointments/<int:pk>/book/", views.book, name="book"),
    path("api/pets/", views.api_pets, name="api-pets"),
    path("api/pets/<int:pk>/", views.api_pet, name="api-pet"),
    path("admin/", admin.site.urls),
    path("errors/capture/", include("capture.urls")),
    path("errors/", include("webui.urls")),  # the staff dashboard (and bugbot's GitHub webhook)
]

if env_bool(os.environ, "DJANGO_SERVE_STATIC", False):
    # The container image serves its collected static files itself (no web server in front in the example);
    # a real deployment lets its web server or CDN serve STATIC_ROOT.
    urlpatterns += [re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT})]

handler400 = "capture.views.bad_request"
handler403 = "capture.views.permission_denied"
handler404 = "capture.views.page_not_found"
handler500 = "capture.views.server_error"
