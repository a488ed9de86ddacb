"""Applying a plan to the database in one transaction, fenced by the checkpoint row (portable SQL path)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import orjson
from django.db import connections, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone as dj_timezone

from contracts.events import ErrorObserved
from contracts.known import KnownMap
from projector import handlers
from projector.handlers import GroupPlan, GroupState, Plan, Rules
from projector.models import Checkpoint, ClassHourly, ErrorGroup, ErrorHourly, ErrorLog, GroupUser

GROUPS = ErrorGroup._meta.db_table
LOGS = ErrorLog._meta.db_table
HOURLY = ErrorHourly._meta.db_table
CLASS_HOURLY = ClassHourly._meta.db_table
USERS = GroupUser._meta.db_table
CHECKPOINTS = Checkpoint._meta.db_table
PROJECTIONS = (LOGS, HOURLY, CLASS_HOURLY, USERS, GROUPS)
CHUNK = 500

GROUP_INSERT_COLUMNS = (
    "fingerprint", "basis", "title", "cls", "error_type", "status", "method", "path", "route", "culprit",
    "exc_type", "exc_message", "csrf_kind", "frames", "release", "environment", "count", "users",
    "first_seen", "last_seen", "last_event_id", "state", "signal_id", "signal_regression", "signal_pending",
    "sample_minute", "sample_count", "fixed_at_seen", "after_fix_count",
)
LOG_COLUMNS = (
    "event_id", "stream_id", "group_id", "fingerprint", "timestamp", "error_type", "status_code", "cls",
    "method", "url", "path", "route", "host", "user_id", "user_name", "client", "request_data", "csrf_kind",
    "exc_type", "exc_message", "culprit", "frames", "release", "environment", "known_bug", "weight",
)


class Fenced(Exception):
    """The checkpoint moved or its epoch changed: another holder owns this shard now."""


def clean(text: str | None) -> str:
    """A string the database accepts (PostgreSQL refuses NUL characters)."""
    if not text:
        return ""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def json_bytes(value: Any) -> bytes:
    """JSON for a JSON column, NUL escapes replaced (jsonb refuses \\u0000)."""
    data = orjson.dumps(value)
    return data.replace(b"\\u0000", b"\\ufffd") if b"\\u0000" in data else data


def to_datetime(ms: int) -> datetime:
    """Epoch milliseconds -> an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def to_ms(value: datetime | None) -> int:
    """An aware datetime -> epoch milliseconds (0 for None)."""
    return int(round(value.timestamp() * 1000)) if value is not None else 0


def log_row(stream_id: str, event: ErrorObserved, group_id: int) -> tuple:
    """An ErrorLog row in LOG_COLUMNS order (JSON columns as Python values)."""
    return (
        event.id, stream_id, group_id, event.fingerprint, to_datetime(event.ts), clean(event.error_type), event.status,
        event.cls, clean(event.method), clean(event.url), clean(event.path), clean(event.route), clean(event.host),
        clean(event.user_id), clean(event.user_name), clean(event.client), event.request, clean(event.csrf_kind),
        clean(event.exc_type), clean(event.exc_message), clean(event.culprit), event.frames, clean(event.release),
        clean(event.environment), clean(event.known_bug), event.weight,
    )


def group_insert_row(g: GroupPlan) -> tuple:
    """A new group's row in GROUP_INSERT_COLUMNS order (counters start at zero; the update adds them)."""
    e = g.first
    return (
        g.fingerprint, clean(e.basis), clean(handlers.title_for(e)), e.cls, clean(e.error_type), e.status, clean(e.method),
        clean(e.path), clean(e.route), clean(e.culprit), clean(e.exc_type), clean(e.exc_message),
        clean(e.csrf_kind), e.frames, clean(e.release), clean(e.environment), 0, 0, to_datetime(g.first_seen),
        to_datetime(g.last_seen), "", handlers.UNRESOLVED, "", False, False, -1, 0, 0, 0,
    )


class Store:
    """The projection tables of one database alias (portable SQL; PostgreSQL has a faster subclass)."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        # (group id, user hash) pairs known to be committed: skipped before the insert. Only valid while the
        # holder's epoch stands (replay empties the table), so take() and empty() clear it.
        self.seen_users: set[tuple[int, int]] = set()
        self._unconfirmed: list[tuple[int, int]] = []
        # Replay is the only writer of the tables it rebuilds: it keeps every group's state here instead of
        # reading it back each batch. None (the live loop): read in each batch's transaction.
        self.states: dict[str, GroupState] | None = None

    @property
    def connection(self) -> Any:
        return connections[self.alias]

    def atomic(self) -> Any:
        """A transaction on this store's database."""
        return transaction.atomic(using=self.alias)

    # -- checkpoint and fencing -------------------------------------------------------------------

    def take(self, stream: str, owner: str) -> tuple[int, tuple[int, int]]:
        """Start holding a stream: bump its epoch (fencing every earlier holder); returns (epoch, last applied)."""
        self.seen_users.clear()
        with self.atomic():
            row, _ = Checkpoint.objects.using(self.alias).select_for_update().get_or_create(stream=stream)
            row.epoch += 1
            row.owner = owner[:200]
            row.updated_at = dj_timezone.now()
            row.save(using=self.alias, update_fields=["epoch", "owner", "updated_at"])
            return row.epoch, (row.last_ms, row.last_seq)

    def position(self, stream: str) -> tuple[int, int]:
        """The last applied entry of a stream ((0, 0) when none)."""
        row = Checkpoint.objects.using(self.alias).filter(stream=stream).values_list("last_ms", "last_seq").first()
        return tuple(row) if row else (0, 0)

    def _fence(self, cursor: Any, stream: str, epoch: int, last: tuple[int, int]) -> None:
        # The first write of the transaction: takes the row lock (and SQLite's write lock) before anything else.
        cursor.execute(
            f"UPDATE {CHECKPOINTS} SET updated_at = %s WHERE stream = %s AND epoch = %s AND last_ms = %s AND last_seq = %s",
            [dj_timezone.now(), stream, epoch, last[0], last[1]],
        )
        if cursor.rowcount != 1:
            raise Fenced(stream)

    def _advance(self, cursor: Any, stream: str, new_last: tuple[int, int], applied: int) -> None:
        cursor.execute(
            f"UPDATE {CHECKPOINTS} SET last_ms = %s, last_seq = %s, applied = applied + %s WHERE stream = %s",
            [new_last[0], new_last[1], applied, stream],
        )

    # -- one batch --------------------------------------------------------------------------------

    def apply(
        self,
        stream: str,
        epoch: int,
        last: tuple[int, int],
        new_last: tuple[int, int],
        entries: Sequence[tuple[str, ErrorObserved]],
        known: KnownMap,
        rules: Rules,
        safe: bool = False,
    ) -> Plan:
        """Plan and write a batch and move the checkpoint to new_last in one transaction (safe: per-row conflicts)."""
        self._unconfirmed = []
        with self.atomic():
            with self.connection.cursor() as cursor:
                self._fence(cursor, stream, epoch, last)
            plan = self.apply_entries(entries, known, rules, safe)
            with self.connection.cursor() as cursor:
                self._advance(cursor, stream, new_last, plan.events)
        self.confirm()
        return plan

    def confirm(self) -> None:
        """The transaction committed: remember the user pairs it wrote."""
        if len(self.seen_users) > 500_000:
            self.seen_users.clear()
        self.seen_users.update(self._unconfirmed)
        self._unconfirmed = []

    def apply_entries(
        self, entries: Sequence[tuple[str, ErrorObserved]], known: KnownMap, rules: Rules, safe: bool = False,
    ) -> Plan:
        """Plan and write entries inside the caller's transaction."""
        self._unconfirmed = []
        existing = self.existing([event.fingerprint for _, event in entries])
        plan = handlers.plan(entries, existing, known, rules)
        if plan.events:
            ids = self.insert_groups([g for g in plan.groups.values() if g.is_new])
            ids.update({fp: state.id for fp, state in existing.items()})
            seen = self.seen_users
            for fp, g in plan.groups.items():
                gid = g.group_id = ids[fp]
                if g.user_keys:
                    g.user_keys = {h for h in g.user_keys if (gid, h) not in seen}
                    self._unconfirmed.extend((gid, h) for h in g.user_keys)
            users = self.insert_users(plan, ids)
            self.update_groups(plan, ids, users, rules.users_cap)
            self.upsert_hourly(plan, ids)
            if safe:
                Store.insert_samples(self, plan, ids)
            else:
                self.insert_samples(plan, ids)
            self.remember(plan)
        return plan

    def existing(self, fingerprints: Iterable[str]) -> dict[str, GroupState]:
        """The planning state of these groups (from the replay cache when there is one)."""
        wanted = list(set(fingerprints))
        if self.states is None:
            return self.read_groups(wanted)
        missing = [fp for fp in wanted if fp not in self.states]
        if missing:
            self.states.update(self.read_groups(missing))
        return {fp: self.states[fp] for fp in wanted if fp in self.states}

    def remember(self, plan: Plan) -> None:
        """Keep each group's state after the plan (replay only; users stay as read: the SQL caps them)."""
        if self.states is None:
            return
        for fp, g in plan.groups.items():
            old = g.existing or GroupState(g.group_id)
            self.states[fp] = GroupState(
                g.group_id, g.total, old.users, g.state, g.sample_minute, g.sample_count,
                old.crossed or bool(g.crossed_ms), g.regressed_ms or old.regressed_ms, g.fixed_at_seen,
                g.after_fix_count)

    def read_groups(self, fingerprints: list[str]) -> dict[str, GroupState]:
        """The planning state of the groups that exist among these fingerprints."""
        out: dict[str, GroupState] = {}
        fields = ("id", "fingerprint", "count", "users", "state", "sample_minute", "sample_count",
                  "threshold_crossed_at", "regressed_at", "fixed_at_seen", "after_fix_count")
        for i in range(0, len(fingerprints), CHUNK):
            rows = ErrorGroup.objects.using(self.alias).filter(fingerprint__in=fingerprints[i : i + CHUNK])
            for r in rows.values_list(*fields):
                out[r[1]] = GroupState(r[0], r[2], r[3], r[4], r[5], r[6], r[7] is not None, to_ms(r[8]), r[9], r[10])
        return out

    def insert_groups(self, new: list[GroupPlan]) -> dict[str, int]:
        """Insert groups seen for the first time; returns fingerprint -> id."""
        if not new:
            return {}
        ops = self.connection.ops
        rows = []
        for g in new:
            row = list(group_insert_row(g))
            row[13] = json_bytes(row[13]).decode()
            row[18], row[19] = ops.adapt_datetimefield_value(row[18]), ops.adapt_datetimefield_value(row[19])
            rows.append(row)
        marks = ", ".join(["%s"] * len(GROUP_INSERT_COLUMNS))
        with self.connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {GROUPS} ({', '.join(GROUP_INSERT_COLUMNS)}) VALUES ({marks})", rows)
        found = ErrorGroup.objects.using(self.alias).filter(fingerprint__in=[g.fingerprint for g in new])
        return dict(found.values_list("fingerprint", "id"))

    def insert_users(self, plan: Plan, ids: dict[str, int]) -> dict[int, int]:
        """Record distinct users not seen before; returns group id -> how many were new."""
        pairs = [(ids[fp], h) for fp, g in plan.groups.items() for h in g.user_keys]
        added: dict[int, int] = {}
        with self.connection.cursor() as cursor:
            for i in range(0, len(pairs), CHUNK):
                chunk = pairs[i : i + CHUNK]
                values = ", ".join(["(%s, %s)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {USERS} (group_id, key_hash) VALUES {values} ON CONFLICT DO NOTHING RETURNING group_id",
                    [v for pair in chunk for v in pair],
                )
                for (group_id,) in cursor.fetchall():
                    added[group_id] = added.get(group_id, 0) + 1
        return added

    def update_groups(self, plan: Plan, ids: dict[str, int], users: dict[int, int], cap: int) -> None:
        """Add counts and set the projector-owned fields of every group in the batch."""
        ops = self.connection.ops
        dt = ops.adapt_datetimefield_value
        now = dt(dj_timezone.now())
        rows = []
        for fp, g in plan.groups.items():
            gid = ids[fp]
            new_users = users.get(gid, 0)
            last = g.last
            crossed = dt(to_datetime(g.crossed_ms)) if g.crossed_ms else None
            regressed = dt(to_datetime(g.regressed_ms)) if g.regressed_ms else None
            rows.append((
                g.count, new_users, cap, cap, new_users, dt(to_datetime(g.first_seen)),
                dt(to_datetime(g.first_seen)), dt(to_datetime(g.last_seen)), dt(to_datetime(g.last_seen)),
                last.id, clean(last.release), clean(last.environment), g.sample_minute, g.sample_count,
                crossed, regressed, g.unresolve, now, g.unresolve, g.fixed_at_seen, g.after_fix_count,
                g.signal_id, g.signal_id, g.signal_id, g.signal_id, g.signal_regression, gid,
            ))
        sql = f"""UPDATE {GROUPS} SET
            count = count + %s,
            users = CASE WHEN users + %s > %s THEN %s ELSE users + %s END,
            first_seen = CASE WHEN first_seen > %s THEN %s ELSE first_seen END,
            last_seen = CASE WHEN last_seen < %s THEN %s ELSE last_seen END,
            last_event_id = %s, release = %s, environment = %s, sample_minute = %s, sample_count = %s,
            threshold_crossed_at = COALESCE(threshold_crossed_at, %s),
            regressed_at = COALESCE(%s, regressed_at),
            state_changed_at = CASE WHEN %s AND state = 'resolved' THEN %s ELSE state_changed_at END,
            state = CASE WHEN %s AND state = 'resolved' THEN 'unresolved' ELSE state END,
            fixed_at_seen = %s, after_fix_count = %s,
            signal_pending = CASE WHEN %s <> '' THEN TRUE ELSE signal_pending END,
            signal_id = CASE WHEN %s <> '' THEN %s ELSE signal_id END,
            signal_regression = CASE WHEN %s <> '' THEN %s ELSE signal_regression END
            WHERE id = %s"""
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def upsert_hourly(self, plan: Plan, ids: dict[str, int]) -> None:
        """Add the batch's hourly counts per group and per class."""
        dt = self.connection.ops.adapt_datetimefield_value
        groups = [(ids[fp], dt(to_datetime(hour)), n) for (fp, hour), n in plan.hourly.items()]
        classes = [(cls, dt(to_datetime(hour)), n) for (cls, hour), n in plan.class_hourly.items()]
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {HOURLY} (group_id, hour, count) VALUES (%s, %s, %s) "
                f"ON CONFLICT (group_id, hour) DO UPDATE SET count = {HOURLY}.count + excluded.count", groups)
            cursor.executemany(
                f"INSERT INTO {CLASS_HOURLY} (cls, hour, count) VALUES (%s, %s, %s) "
                f"ON CONFLICT (hour, cls) DO UPDATE SET count = {CLASS_HOURLY}.count + excluded.count", classes)

    def insert_samples(self, plan: Plan, ids: dict[str, int]) -> None:
        """Store the sampled events (an event id already stored is skipped)."""
        if not plan.samples:
            return
        dt = self.connection.ops.adapt_datetimefield_value
        rows = []
        for stream_id, event in plan.samples:
            row = list(log_row(stream_id, event, ids[event.fingerprint]))
            row[4] = dt(row[4])
            row[16], row[21] = json_bytes(row[16]).decode(), json_bytes(row[21]).decode()
            rows.append(row)
        marks = ", ".join(["%s"] * len(LOG_COLUMNS))
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {LOGS} ({', '.join(LOG_COLUMNS)}) VALUES ({marks}) ON CONFLICT (event_id) DO NOTHING", rows)

    # -- replay and maintenance -------------------------------------------------------------------

    def empty(self) -> None:
        """Delete every projection row (not checkpoints), inside the caller's transaction."""
        self.seen_users.clear()
        with self.connection.cursor() as cursor:
            for table in PROJECTIONS:
                cursor.execute(f"DELETE FROM {table}")

    def restart(self, stream: str, epoch: int, position: tuple[int, int]) -> None:
        """Set a stream's checkpoint (replay), fenced by the epoch the caller took."""
        updated = Checkpoint.objects.using(self.alias).filter(stream=stream, epoch=epoch).update(
            last_ms=position[0], last_seq=position[1], applied=0, updated_at=dj_timezone.now())
        if updated != 1:
            raise Fenced(stream)

    def group_rows(self, group_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Committed groups as maps signal_event() reads (times in epoch ms), each with its latest sample."""
        latest = ErrorLog.objects.using(self.alias).filter(group_id=OuterRef("id")).order_by("-timestamp")
        rows = list(ErrorGroup.objects.using(self.alias).filter(id__in=list(group_ids))
                    .annotate(sample_id=Subquery(latest.values("id")[:1])).values())
        samples = ErrorLog.objects.using(self.alias).filter(id__in=[r["sample_id"] for r in rows if r["sample_id"]])
        by_id = {s["id"]: s for s in samples.values("id", "event_id", "request_data")}
        for row in rows:
            row["first_seen"], row["last_seen"] = to_ms(row["first_seen"]), to_ms(row["last_seen"])
            row["sample"] = by_id.get(row["sample_id"])
        return rows

    def pending_signals(self) -> list[int]:
        """Groups whose committed signal was never confirmed published."""
        return list(ErrorGroup.objects.using(self.alias).filter(signal_pending=True).values_list("id", flat=True))

    def mark_signalled(self, sent: Iterable[tuple[int, str]]) -> int:
        """Record published signals (only if no newer signal was decided meanwhile); returns rows marked."""
        sent = list(sent)
        now = dj_timezone.now()
        marked = 0
        for i in range(0, len(sent), CHUNK):
            match = Q()
            for group_id, signal_id in sent[i : i + CHUNK]:
                match |= Q(id=group_id, signal_id=signal_id)
            marked += ErrorGroup.objects.using(self.alias).filter(match).update(signal_pending=False, signalled_at=now)
        return marked


def for_alias(alias: str) -> Store:
    """The fastest store for this database's vendor."""
    if connections[alias].vendor == "postgresql":
        from projector.store_pg import PgStore

        return PgStore(alias)
    return Store(alias)
