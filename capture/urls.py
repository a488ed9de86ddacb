"""Staff-only previews of the friendly pages, for development (mount with include("capture.urls"))."""

from django.urls import path

from capture import preview

app_name = "errortrail_capture"

urlpatterns = [
    path("preview/<str:kind>/", preview.preview, name="preview"),
]
