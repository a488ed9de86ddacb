"""The staff dashboard's URLs: mount with path("errors/", include("webui.urls")); bugbot's webhook comes along."""

from django.urls import include, path

from webui.views import api, dead, known, overview, patterns

app_name = "webui"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("patterns/", overview.patterns, name="patterns"),
    path("patterns/<str:fingerprint>/", patterns.pattern, name="pattern"),
    path("patterns/<str:fingerprint>/known/", patterns.mark_known, name="mark-known"),
    path("patterns/<str:fingerprint>/file/", patterns.file_bug, name="file-bug"),
    path("patterns/<str:fingerprint>/state/", patterns.set_state, name="set-state"),
    path("known/", known.known_list, name="known-list"),
    path("known/new/", known.create_pattern, name="known-create"),
    path("known/<int:pk>/edit/", known.edit, name="known-edit"),
    path("known/<int:pk>/retry/", known.retry, name="known-retry"),
    path("known/<str:bug_id>/", known.known_detail, name="known"),
    path("dead/", dead.dead_list, name="dead"),
    path("dead/requeue/", dead.act, {"action": "requeue"}, name="dead-requeue"),
    path("dead/discard/", dead.act, {"action": "discard"}, name="dead-discard"),
    path("api/series/", api.series, name="api-series"),
    path("api/top/", api.top, name="api-top"),
    path("api/health/", api.pipeline_health, name="api-health"),
    path("", include("bugbot.urls")),
]
