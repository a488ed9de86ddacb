"""PostgreSQL fast path: a batch in three statements, every row set sent as binary unnest arrays."""

# 1. fence the checkpoint and read the batch's groups; 2. insert groups seen for the first time (rare);
# 3. one statement of data-modifying CTEs: users, counters, hourly counts, samples, checkpoint. Each round
# trip is also a wait for the GIL, which the read-ahead thread holds while it decodes.

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import psycopg

from contracts.events import ErrorObserved
from contracts.known import KnownMap
from projector import handlers
from projector.handlers import GroupState, Plan, Rules
from projector.pgarrays import pack, register
from projector.store import (
    CHECKPOINTS, CLASS_HOURLY, GROUP_INSERT_COLUMNS, GROUPS, HOURLY, LOG_COLUMNS, LOGS, USERS, Fenced, Store, clean,
    group_insert_row, json_bytes,
)

GROUP_TYPES = [
    "text", "text", "text", "text", "text", "int2", "text", "text", "text", "text", "text", "text", "text", "jsonb",
    "text", "text", "int8", "int4", "int8", "int8", "text", "text", "text", "bool", "bool", "int8",
    "int4", "int8", "int8",
]
GROUP_TIMES = (18, 19)
UPDATE_COLUMNS = ("id", "n", "first_ms", "last_ms", "last_event_id", "release", "environment", "sample_minute",
                  "sample_count", "crossed_ms", "regressed_ms", "unresolve", "fixed_at_seen", "after_fix_count",
                  "signal_id", "signal_regression")
UPDATE_TYPES = ["int8", "int8", "int8", "int8", "text", "text", "text", "int8", "int4", "int8", "int8", "bool",
                "int8", "int8", "text", "bool"]
LOG_TYPES = [
    "text", "text", "int8", "text", "int8", "text", "int2", "text", "text", "text", "text", "text", "text",
    "text", "text", "text", "jsonb", "text", "text", "text", "text", "jsonb", "text", "text", "text", "int4",
]
LOG_TIME = 4
READ_COLUMNS = """g.id, g.fingerprint, g.count, g.users, g.state, g.sample_minute, g.sample_count,
    g.threshold_crossed_at IS NOT NULL, COALESCE((extract(epoch FROM g.regressed_at) * 1000)::int8, 0),
    g.fixed_at_seen, g.after_fix_count"""


def _ts(expr: str) -> str:
    return f"to_timestamp(({expr})::float8 / 1000)"


def _unnest(types: Sequence[str], first: int = 0) -> tuple[str, str]:
    """'unnest(%b::t[], ...)' and its column aliases c<first>..."""
    casts = ", ".join(f"%b::{t}[]" for t in types)
    return f"unnest({casts})", ", ".join(f"c{i}" for i in range(first, first + len(types)))


def _writes_sql(with_checkpoint: bool) -> str:
    users_src, _ = _unnest(["int8", "int8"])
    upd_src, _ = _unnest(UPDATE_TYPES)
    hour_src, _ = _unnest(["int8", "int8", "int8"])
    class_src, _ = _unnest(["text", "int8", "int8"])
    log_src, log_aliases = _unnest(LOG_TYPES)
    log_select = ", ".join(_ts(f"s.c{i}") if i == LOG_TIME else f"s.c{i}" for i in range(len(LOG_TYPES)))
    checkpoint = f""",
    ck AS (UPDATE {CHECKPOINTS} SET last_ms = %b::int8, last_seq = %b::int8, applied = applied + %b::int8
           WHERE stream = %b::text)""" if with_checkpoint else ""
    return f"""WITH
    added AS (INSERT INTO {USERS} (group_id, key_hash) SELECT * FROM {users_src}
              ON CONFLICT DO NOTHING RETURNING group_id),
    nu AS (SELECT group_id, count(*) AS n FROM added GROUP BY group_id),
    u AS (SELECT * FROM {upd_src} AS u({", ".join(UPDATE_COLUMNS)})),
    upd AS (UPDATE {GROUPS} AS g SET
        count = g.count + u.n,
        users = LEAST(g.users + COALESCE(nu.n, 0), %b::int4),
        first_seen = LEAST(g.first_seen, {_ts('u.first_ms')}),
        last_seen = GREATEST(g.last_seen, {_ts('u.last_ms')}),
        last_event_id = u.last_event_id, release = u.release, environment = u.environment,
        sample_minute = u.sample_minute, sample_count = u.sample_count,
        threshold_crossed_at = COALESCE(g.threshold_crossed_at,
            CASE WHEN u.crossed_ms > 0 THEN {_ts('u.crossed_ms')} END),
        regressed_at = CASE WHEN u.regressed_ms > 0 THEN {_ts('u.regressed_ms')} ELSE g.regressed_at END,
        state_changed_at = CASE WHEN u.unresolve AND g.state = 'resolved' THEN now() ELSE g.state_changed_at END,
        state = CASE WHEN u.unresolve AND g.state = 'resolved' THEN 'unresolved' ELSE g.state END,
        fixed_at_seen = u.fixed_at_seen, after_fix_count = u.after_fix_count,
        signal_pending = g.signal_pending OR u.signal_id <> '',
        signal_id = CASE WHEN u.signal_id <> '' THEN u.signal_id ELSE g.signal_id END,
        signal_regression = CASE WHEN u.signal_id <> '' THEN u.signal_regression ELSE g.signal_regression END
        FROM u LEFT JOIN nu ON nu.group_id = u.id WHERE g.id = u.id RETURNING g.id),
    hg AS (INSERT INTO {HOURLY} (group_id, hour, count)
           SELECT h.c0, {_ts('h.c1')}, h.c2 FROM {hour_src} AS h(c0, c1, c2)
           ON CONFLICT (group_id, hour) DO UPDATE SET count = {HOURLY}.count + excluded.count),
    hc AS (INSERT INTO {CLASS_HOURLY} (cls, hour, count)
           SELECT h.c0, {_ts('h.c1')}, h.c2 FROM {class_src} AS h(c0, c1, c2)
           ON CONFLICT (hour, cls) DO UPDATE SET count = {CLASS_HOURLY}.count + excluded.count),
    logs AS (INSERT INTO {LOGS} ({", ".join(LOG_COLUMNS)})
             SELECT {log_select} FROM {log_src} AS s({log_aliases})
             ON CONFLICT (event_id) DO NOTHING){checkpoint}
    SELECT count(*) FROM upd"""


WRITES = _writes_sql(with_checkpoint=True)
WRITES_ONLY = _writes_sql(with_checkpoint=False)
# Groups are matched by joining unnest(), not "= ANY(array)": once psycopg prepares the statement, PostgreSQL
# may pick a generic plan, which compares each row with every array element (40 ms for 1,000 x 1,000).
READ_GROUPS = f"""SELECT {READ_COLUMNS} FROM {GROUPS} AS g JOIN unnest(%b::text[]) AS w(fingerprint)
    ON g.fingerprint = w.fingerprint"""
FENCE_AND_READ = f"""WITH f AS (
    UPDATE {CHECKPOINTS} SET updated_at = now()
    WHERE stream = %b::text AND epoch = %b::int8 AND last_ms = %b::int8 AND last_seq = %b::int8 RETURNING 1),
    found AS ({READ_GROUPS})
SELECT found.* FROM f LEFT JOIN found ON true"""


class PgStore(Store):
    """The same writes as Store, in three statements per batch."""

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor]:
        # A raw cursor raises psycopg's errors: wrapped as Django's, so the loop's safe retry (DataError,
        # IntegrityError) and backoff (OperationalError) see them as they do on the portable path.
        with self.connection.wrap_database_errors:
            self.connection.ensure_connection()
            raw = self.connection.connection
            register(raw)
            with psycopg.Cursor(raw) as cur:
                yield cur

    def apply(self, stream: str, epoch: int, last: tuple[int, int], new_last: tuple[int, int],
              entries: Sequence[tuple[str, ErrorObserved]], known: KnownMap, rules: Rules, safe: bool = False) -> Plan:
        self._unconfirmed = []
        fingerprints = list({event.fingerprint for _, event in entries})
        with self.atomic(), self._cursor() as cur:
            cur.execute(FENCE_AND_READ, [stream, epoch, last[0], last[1], pack("text", fingerprints)])
            rows = cur.fetchall()
            if not rows:
                raise Fenced(stream)
            existing = {r[1]: GroupState(r[0], *r[2:]) for r in rows if r[0] is not None}
            plan = self._write(cur, entries, existing, known, rules, [new_last[0], new_last[1], 0, stream])
        self.confirm()
        return plan

    def apply_entries(self, entries: Sequence[tuple[str, ErrorObserved]], known: KnownMap, rules: Rules,
                      safe: bool = False) -> Plan:
        self._unconfirmed = []
        with self._cursor() as cur:
            existing = self.existing(event.fingerprint for _, event in entries)
            plan = self._write(cur, entries, existing, known, rules, None)
        self.remember(plan)
        return plan

    def _write(self, cur: psycopg.Cursor, entries: Sequence[tuple[str, ErrorObserved]],
               existing: dict[str, GroupState], known: KnownMap, rules: Rules, checkpoint: list | None) -> Plan:
        plan = handlers.plan(entries, existing, known, rules)
        if not plan.events:
            return plan
        ids = self.insert_groups([g for g in plan.groups.values() if g.is_new])
        ids.update({fp: state.id for fp, state in existing.items()})
        params = [*self._users(plan, ids), *self._updates(plan, ids), rules.users_cap, *self._hours(plan, ids),
                  *self._samples(plan, ids)]
        if checkpoint is not None:
            checkpoint[2] = plan.events
            params.extend(checkpoint)
        cur.execute(WRITES if checkpoint is not None else WRITES_ONLY, params)
        return plan

    def read_groups(self, fingerprints: list[str]) -> dict[str, GroupState]:
        if not fingerprints:
            return {}
        with self._cursor() as cur:
            cur.execute(READ_GROUPS, [pack("text", fingerprints)])
            return {r[1]: GroupState(r[0], *r[2:]) for r in cur.fetchall()}

    def insert_groups(self, new: list) -> dict[str, int]:
        if not new:
            return {}
        arrays = [list(col) for col in zip(*(group_insert_row(g) for g in new))]
        arrays[13] = [json_bytes(v) for v in arrays[13]]
        arrays[18] = [g.first_seen for g in new]
        arrays[19] = [g.last_seen for g in new]
        source, aliases = _unnest(GROUP_TYPES)
        select = ", ".join(_ts(f"u.c{i}") if i in GROUP_TIMES else f"u.c{i}" for i in range(len(GROUP_TYPES)))
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO {GROUPS} ({', '.join(GROUP_INSERT_COLUMNS)}) SELECT {select} FROM {source} AS u({aliases}) "
                "RETURNING fingerprint, id",
                [pack(t, col) for t, col in zip(GROUP_TYPES, arrays)],
            )
            return dict(cur.fetchall())

    def _users(self, plan: Plan, ids: dict[str, int]) -> list:
        groups: list[int] = []
        hashes: list[int] = []
        seen = self.seen_users
        for fp, g in plan.groups.items():
            gid = g.group_id = ids[fp]
            if g.user_keys:
                fresh = [h for h in g.user_keys if (gid, h) not in seen]
                groups.extend([gid] * len(fresh))
                hashes.extend(fresh)
        self._unconfirmed.extend(zip(groups, hashes))
        return [pack("int8", groups), pack("int8", hashes)]

    def _updates(self, plan: Plan, ids: dict[str, int]) -> list:
        rows = []
        for g in plan.groups.values():
            last = g.last
            rows.append((
                g.group_id, g.count, g.first_seen, g.last_seen, last.id, clean(last.release), clean(last.environment),
                g.sample_minute, g.sample_count, g.crossed_ms, g.regressed_ms, g.unresolve, g.fixed_at_seen,
                g.after_fix_count, g.signal_id, g.signal_regression,
            ))
        return [pack(t, col) for t, col in zip(UPDATE_TYPES, zip(*rows))]

    def _hours(self, plan: Plan, ids: dict[str, int]) -> list:
        hourly = plan.hourly
        classes = plan.class_hourly
        return [
            pack("int8", [ids[fp] for fp, _ in hourly]), pack("int8", [h for _, h in hourly]),
            pack("int8", list(hourly.values())),
            pack("text", [c for c, _ in classes]), pack("int8", [h for _, h in classes]),
            pack("int8", list(classes.values())),
        ]

    def _samples(self, plan: Plan, ids: dict[str, int]) -> list:
        rows = []
        seen: set[str] = set()
        for stream_id, e in plan.samples:
            if e.id in seen:
                continue
            seen.add(e.id)
            rows.append((
                e.id, stream_id, ids[e.fingerprint], e.fingerprint, e.ts, clean(e.error_type), e.status, e.cls,
                clean(e.method), clean(e.url), clean(e.path), clean(e.route), clean(e.host), clean(e.user_id),
                clean(e.user_name), clean(e.client), json_bytes(e.request), clean(e.csrf_kind), clean(e.exc_type),
                clean(e.exc_message), clean(e.culprit), json_bytes(e.frames), clean(e.release), clean(e.environment),
                clean(e.known_bug), e.weight,
            ))
        columns = list(zip(*rows)) if rows else [()] * len(LOG_TYPES)
        return [pack(t, col) for t, col in zip(LOG_TYPES, columns)]
