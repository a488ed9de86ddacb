"""Django admin for ErrorLog and ErrorGroup (read-only projections) and KnownIssue (message and status editable).

List filters use fixed choices: Django's default filter on a plain column would SELECT DISTINCT over 10^6 rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from bugbot import services
from bugbot.models import KnownIssue
from contracts.events import CLASSES
from projector.models import ErrorGroup, ErrorLog


class ClassFilter(admin.SimpleListFilter):
    """Error class, from the contract's fixed list."""

    title = "class"
    parameter_name = "cls"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(c, c) for c in CLASSES]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(cls=self.value()) if self.value() else queryset


class StatusClassFilter(admin.SimpleListFilter):
    """HTTP status class (4xx / 5xx)."""

    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("4", "4xx"), ("5", "5xx")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in ("4", "5"):
            return queryset
        low = int(self.value()) * 100
        return queryset.filter(status_code__gte=low, status_code__lt=low + 100)


class RecentFilter(admin.SimpleListFilter):
    """Last 24 hours / 7 days / 30 days, on the model's own time column."""

    title = "time"
    parameter_name = "within"
    field = "timestamp"
    SPANS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1d", "last 24 hours"), ("7d", "last 7 days"), ("30d", "last 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        span = self.SPANS.get(self.value() or "")
        return queryset.filter(**{f"{self.field}__gte": timezone.now() - span}) if span else queryset


class LastSeenFilter(RecentFilter):
    """Groups seen recently."""

    field = "last_seen"


class ReadOnlyAdmin(admin.ModelAdmin):
    """A projection: viewable by staff with view permission, never added, changed or deleted here."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ErrorGroup)
class ErrorGroupAdmin(ReadOnlyAdmin):
    list_display = ("title", "cls", "status", "count", "users", "state", "last_seen", "release")
    list_filter = (ClassFilter, "state", LastSeenFilter)
    search_fields = ("title", "=fingerprint", "route", "culprit")
    ordering = ("-last_seen",)
    list_per_page = 50


@admin.register(ErrorLog)
class ErrorLogAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "status_code", "cls", "method", "path", "user_name", "release", "event_id")
    list_filter = (ClassFilter, StatusClassFilter, RecentFilter)
    search_fields = ("=event_id", "=fingerprint", "path", "exc_type")
    ordering = ("-timestamp",)
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("request_data", "frames")


@admin.register(KnownIssue)
class KnownIssueAdmin(admin.ModelAdmin):
    """Edits go through save(), which republishes the known-issue map; filing fields are bugbot's."""

    list_display = ("bug_id", "title", "status", "filing_state", "created_by", "error_type", "url_glob", "created_at")
    list_filter = ("status", "filing_state", "created_by", "backend")
    search_fields = ("bug_id", "title", "=error_fingerprint", "github_issue_url", "url_glob")
    ordering = ("-created_at",)
    fields = ("bug_id", "title", "friendly_message", "status", "error_fingerprint", "error_type", "url_glob",
              "github_issue_url", "backend", "filing_state", "attempts", "last_error", "created_by", "created_at",
              "filed_at", "fixed_at", "regression_count")
    readonly_fields = tuple(f for f in fields if f not in ("friendly_message", "status"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: KnownIssue, form: Any, change: bool) -> None:
        """Through bugbot's service: fixed_at set, the status pushed to the tracker, the map republished."""
        services.update(obj, message=obj.friendly_message, status=obj.status)
