"""Bugbot's URLs (the dashboard includes them under its prefix)."""

from django.urls import path

from bugbot import webhook

app_name = "bugbot"

urlpatterns = [
    path("github/webhook/", webhook.github_webhook, name="github-webhook"),
]
