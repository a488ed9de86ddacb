"""Projections of the error stream: groups, hourly counts, sampled logs, distinct users, checkpoints."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ErrorGroup(models.Model):
    """One pattern (fingerprint): what it is, exact counts, state and signal bookkeeping."""

    UNRESOLVED, IGNORED, RESOLVED = "unresolved", "ignored", "resolved"
    STATES = [(UNRESOLVED, "unresolved"), (IGNORED, "ignored"), (RESOLVED, "resolved")]

    fingerprint = models.CharField(max_length=64)
    basis = models.TextField(help_text="The canonical string the fingerprint hashes: why these errors are one group.")
    title = models.CharField(max_length=256)
    cls = models.CharField("class", max_length=16)
    error_type = models.CharField(max_length=32)
    status = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=16, blank=True, default="")
    path = models.CharField(max_length=2048, blank=True, default="", help_text="Path of the first event.")
    route = models.CharField(max_length=512, blank=True, default="")
    culprit = models.CharField(max_length=512, blank=True, default="")
    exc_type = models.CharField(max_length=256, blank=True, default="")
    exc_message = models.TextField(blank=True, default="")
    csrf_kind = models.CharField(max_length=32, blank=True, default="")
    frames = models.JSONField(default=list, blank=True)
    release = models.CharField(max_length=128, blank=True, default="", help_text="Release of the latest event.")
    environment = models.CharField(max_length=64, blank=True, default="")
    count = models.BigIntegerField(default=0, help_text="Exact occurrences (event weights summed).")
    users = models.IntegerField(default=0, help_text="Distinct users/clients, exact up to DISTINCT_USERS_CAP.")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_event_id = models.CharField(max_length=20, blank=True, default="")
    state = models.CharField(max_length=12, choices=STATES, default=UNRESOLVED)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    threshold_crossed_at = models.DateTimeField(null=True, blank=True,
                                                help_text="Event time the count reached the threshold.")
    regressed_at = models.DateTimeField(null=True, blank=True, help_text="Event time of the latest regression.")
    # Signal bookkeeping: decided in the batch's transaction, published after commit, then marked sent.
    signal_id = models.CharField(max_length=20, blank=True, default="",
                                 help_text="Id of the latest threshold.crossed decided.")
    signal_regression = models.BooleanField(default=False)
    signal_pending = models.BooleanField(default=False, help_text="Decided and committed, not yet published.")
    signalled_at = models.DateTimeField(null=True, blank=True, help_text="When the latest signal was published.")
    # Owned by the projector and derived from event times only, so replay reproduces them.
    sample_minute = models.BigIntegerField(default=-1, help_text="Epoch minute of the latest stored sample.")
    sample_count = models.IntegerField(default=0, help_text="Samples stored in sample_minute.")
    fixed_at_seen = models.BigIntegerField(default=0,
                                           help_text="fixed_at (ms) of the known entry after_fix_count counts from.")
    after_fix_count = models.BigIntegerField(default=0)

    class Meta:
        # No index on count or last_seen: every batch changes them, and unindexed columns keep PostgreSQL's
        # updates HOT. 10^4 groups sort in memory; ranges come from ErrorHourly.
        constraints = [models.UniqueConstraint(fields=["fingerprint"], name="errgroup_fingerprint")]
        indexes = [
            models.Index(fields=["signal_pending"], name="errgroup_signal_pending", condition=Q(signal_pending=True)),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.count})"


# Foreign keys to ErrorGroup carry no database constraint: the projector is their only writer, and the
# deferred per-row checks would cost the ingest path a lookup per hourly, sample and user row.


class ErrorLog(models.Model):
    """One stored sample of an error (rate-limited per group and minute; the group's counts stay exact)."""

    event_id = models.CharField(max_length=20)
    stream_id = models.CharField(max_length=41, help_text="The stream entry it came from.")
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="samples", db_index=False,
                              db_constraint=False)
    fingerprint = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    error_type = models.CharField(max_length=32)
    status_code = models.PositiveSmallIntegerField()
    cls = models.CharField("class", max_length=16)
    method = models.CharField(max_length=16, blank=True, default="")
    url = models.CharField(max_length=4096)
    path = models.CharField(max_length=2048)
    route = models.CharField(max_length=512, blank=True, default="")
    host = models.CharField(max_length=255, blank=True, default="")
    # A plain id and name, no foreign key: the site's users may live in another database.
    user_id = models.CharField(max_length=64, blank=True, default="")
    user_name = models.CharField(max_length=150, blank=True, default="")
    client = models.CharField(max_length=32, blank=True, default="", help_text="Salted hash of address and agent.")
    request_data = models.JSONField(default=dict, blank=True)
    csrf_kind = models.CharField(max_length=32, blank=True, default="")
    exc_type = models.CharField(max_length=256, blank=True, default="")
    exc_message = models.TextField(blank=True, default="")
    culprit = models.CharField(max_length=512, blank=True, default="")
    frames = models.JSONField(default=list, blank=True)
    release = models.CharField(max_length=128, blank=True, default="")
    environment = models.CharField(max_length=64, blank=True, default="")
    known_bug = models.CharField(max_length=16, blank=True, default="", help_text="Known issue capture showed.")
    weight = models.IntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id"], name="errlog_event_id")]
        indexes = [
            models.Index(fields=["group", "-timestamp"], name="errlog_group_latest"),
            models.Index(fields=["timestamp"], name="errlog_timestamp"),
        ]

    @property
    def user(self) -> str:
        """The user as the site showed it: name, else id, else empty."""
        return self.user_name or self.user_id

    def __str__(self) -> str:
        return f"{self.event_id} {self.status_code} {self.path}"


class ErrorHourly(models.Model):
    """Occurrences of one group in one hour (charts, and top groups over a time range)."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="hours", db_index=False,
                              db_constraint=False)
    hour = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "hour"], name="errhourly_group_hour")]
        indexes = [models.Index(fields=["hour", "group"], name="errhourly_hour_group")]


class ClassHourly(models.Model):
    """Occurrences of one error class in one hour."""

    cls = models.CharField("class", max_length=16)
    hour = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "cls"], name="classhourly_hour_cls")]


class GroupUser(models.Model):
    """A distinct user (their id, else capture's client hash) of a group as a 64-bit hash, up to DISTINCT_USERS_CAP."""

    # ErrorGroup.users adds the rows a batch really inserted (ON CONFLICT DO NOTHING, in the checkpoint's
    # transaction): redelivery and replay cannot count anyone twice. Exact up to the cap, then "N+".

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="+", db_index=False,
                              db_constraint=False)
    key_hash = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "key_hash"], name="groupuser_group_key")]


class Checkpoint(models.Model):
    """The last stream entry applied per shard stream, and the fencing epoch of the lease holder."""

    stream = models.CharField(max_length=200)
    last_ms = models.BigIntegerField(default=0)
    last_seq = models.BigIntegerField(default=0)
    epoch = models.BigIntegerField(default=0, help_text="Bumped by every lease acquisition; commits check it.")
    owner = models.CharField(max_length=200, blank=True, default="")
    applied = models.BigIntegerField(default=0, help_text="Entries applied since the last replay.")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream"], name="checkpoint_stream")]

    @property
    def last_id(self) -> str:
        """The checkpoint as a stream id."""
        return f"{self.last_ms}-{self.last_seq}"

    def __str__(self) -> str:
        return f"{self.stream} @ {self.last_id}"
