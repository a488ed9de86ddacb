"""A URLconf mounting bugbot's URLs the way the dashboard will (under errors/)."""

from django.urls import include, path

urlpatterns = [path("errors/", include("bugbot.urls"))]
