"""The measured app's URLs with capture's friendly handlers."""

from bench.rig.app import urlpatterns  # noqa: F401

handler400 = "capture.views.bad_request"
handler403 = "capture.views.permission_denied"
handler404 = "capture.views.page_not_found"
handler500 = "capture.views.server_error"
