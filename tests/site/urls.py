"""URLs of the test site."""

from django.contrib import admin
from django.urls import include, path

from tests.site import views

urlpatterns = [
    path("", views.ok),
    path("pets/<int:pk>/", views.pet),
    path("crash/", views.crash),
    path("crash/secret/", views.crash_with_secret),
    path("crash/post/", views.crash_sensitive_post),
    path("crash/post-all/", views.crash_all_sensitive),
    path("crash/other/", views.crash_other),
    path("crash/locals/", views.crash_with_locals),
    path("crash/form/", views.crash_form),
    path("crash/deep/", views.crash_deep),
    path("denied/", views.denied),
    path("suspicious/", views.suspicious),
    path("teapot/", views.teapot),
    path("upstream/", views.returns_500),
    path("appointments/<int:pk>/book/", views.form),
    path("api/pets/<int:pk>/", views.api_pet),
    path("whoami/", views.whoami),
    path("errors/capture/", include("capture.urls")),
    path("errors/", include("webui.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "capture.views.bad_request"
handler403 = "capture.views.permission_denied"
handler404 = "capture.views.page_not_found"
handler500 = "capture.views.server_error"
