"""The known-issue registry: KnownIssue, the bug-id counter and webhook deliveries already processed."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from contracts.known import KnownEntry, KnownMapError


class Status(models.TextChoices):
    OPEN = "open", "open"
    FIXED = "fixed", "fixed"
    WONTFIX = "wontfix", "won't fix"


class Filing(models.TextChoices):
    PENDING = "pending", "pending"
    FILING = "filing", "filing"
    FILED = "filed", "filed"
    FAILED = "failed", "failed"
    HELD = "held", "held by cap"
    NONE = "none", "not filed"


class CreatedBy(models.TextChoices):
    AUTO = "auto", "automatically"
    STAFF = "staff", "by staff"


class KnownIssue(models.Model):
    """A bug users may hit: exact (one fingerprint) or a pattern (error type + URL glob), and its tracker issue."""

    bug_id = models.CharField(max_length=16, db_index=True)
    bug_number = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    title = models.CharField(max_length=256, blank=True)
    error_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    error_type = models.CharField(max_length=32, blank=True, help_text="Pattern: error type (csrf, 404, …; * for any).")
    url_glob = models.CharField(max_length=512, blank=True, help_text="Pattern: URL path glob (/api/*).")
    friendly_message = models.TextField(max_length=1000, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_by = models.CharField(max_length=8, choices=CreatedBy.choices, default=CreatedBy.AUTO)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    backend = models.CharField(max_length=16, blank=True)
    github_issue_url = models.CharField(max_length=1024, blank=True)
    issue_number = models.PositiveIntegerField(null=True, blank=True, db_index=True)

    filing_state = models.CharField(max_length=8, choices=Filing.choices, default=Filing.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="When it used a cap slot.")
    cap_exempt = models.BooleanField(default=False, help_text="A staff member asked: caps do not hold it.")
    needs_reopen = models.BooleanField(default=False)
    filed_at = models.DateTimeField(null=True, blank=True)

    fixed_at = models.DateTimeField(null=True, blank=True)
    regression_count = models.PositiveIntegerField(default=0)
    event = models.JSONField(default=dict, blank=True, help_text="The threshold.crossed map it was filed from.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["error_fingerprint"], condition=~Q(error_fingerprint=""),
                name="bugbot_one_issue_per_fingerprint",
            ),
            models.UniqueConstraint(
                fields=["bug_id"], condition=Q(error_fingerprint=""), name="bugbot_one_pattern_per_bug_id"
            ),
            models.CheckConstraint(
                condition=~Q(error_fingerprint="") | (~Q(error_type="") & ~Q(url_glob="")),
                name="bugbot_exact_or_pattern",
            ),
        ]
        indexes = [models.Index(fields=["filing_state", "next_attempt_at"], name="bugbot_filing_due")]

    def __str__(self) -> str:
        return self.title or self.bug_id

    @classmethod
    def from_db(cls, db, field_names, values):  # noqa: ANN001, ANN206 - Django's signature
        """Remember the map key it was loaded with, so a changed key replaces the old entry."""
        instance = super().from_db(db, field_names, values)
        if "error_fingerprint" in field_names and "bug_id" in field_names:
            instance._loaded_key = instance.map_key
        return instance

    @property
    def is_pattern(self) -> bool:
        """Whether it covers an error type + URL glob rather than one fingerprint."""
        return not self.error_fingerprint

    @property
    def marker_key(self) -> str:
        """What its issue's hidden marker names: the fingerprint, or the bug id of a pattern."""
        return self.error_fingerprint or f"pattern-{self.bug_id}"

    @property
    def map_key(self) -> str:
        """Its field in the known-issue map."""
        return f"fp:{self.error_fingerprint}" if self.error_fingerprint else f"pat:{self.bug_id}"

    def to_entry(self, url: str = "") -> KnownEntry | None:
        """Its known-map entry (None when the row cannot make a valid one)."""
        fixed_ms = int(self.fixed_at.timestamp() * 1000) if self.fixed_at and self.status == Status.FIXED else 0
        try:
            return KnownEntry(
                bug_id=self.bug_id,
                message=(self.friendly_message or "")[:1000],
                status=self.status,
                url=self.github_issue_url or url,
                fingerprint=self.error_fingerprint,
                error_type="" if self.error_fingerprint else self.error_type,
                glob="" if self.error_fingerprint else self.url_glob,
                fixed_at=fixed_ms,
            )
        except KnownMapError:
            return None


class BugCounter(models.Model):
    """A named counter row; updating it first in a transaction serializes writers on PostgreSQL and SQLite."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class ProcessedDelivery(models.Model):
    """A GitHub webhook delivery already applied (deliveries are redelivered with the same id)."""

    delivery_id = models.CharField(max_length=64, primary_key=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return self.delivery_id
