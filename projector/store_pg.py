"""PostgreSQL fast path: unnest arrays sent binary for upserts, binary COPY for samples."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import set_json_dumps

from projector.handlers import GroupState, Plan
from projector.store import (
    CLASS_HOURLY, GROUP_INSERT_COLUMNS, GROUPS, HOURLY, LOG_COLUMNS, LOGS, USERS, Store, clean, group_insert_row,
    json_bytes, log_row,
)

LOG_TYPES = [
    "text", "text", "int8", "text", "timestamptz", "text", "int2", "text", "text", "text", "text", "text", "text",
    "text", "text", "text", "jsonb", "text", "text", "text", "text", "jsonb", "text", "text", "text", "int4",
]
GROUP_TYPES = [
    "text", "text", "text", "text", "text", "int2", "text", "text", "text", "text", "text", "text", "text", "jsonb",
    "text", "text", "int8", "int4", "timestamptz", "timestamptz", "text", "text", "text", "bool", "bool", "int8",
    "int4", "int8", "int8",
]
_TS = "to_timestamp(({0})::float8 / 1000)"


class PgStore(Store):
    """The same writes as Store, in a handful of statements per batch."""

    def _cursor(self) -> psycopg.Cursor:
        self.connection.ensure_connection()
        cursor = psycopg.Cursor(self.connection.connection)
        set_json_dumps(json_bytes, cursor)
        return cursor

    def read_groups(self, fingerprints: list[str]) -> dict[str, GroupState]:
        if not fingerprints:
            return {}
        with self._cursor() as cur:
            cur.execute(
                f"""SELECT id, fingerprint, count, users, state, sample_minute, sample_count,
                threshold_crossed_at IS NOT NULL,
                COALESCE((extract(epoch FROM regressed_at) * 1000)::int8, 0), fixed_at_seen, after_fix_count
                FROM {GROUPS} WHERE fingerprint = ANY(%b::text[])""",
                [fingerprints],
            )
            return {r[1]: GroupState(r[0], *r[2:]) for r in cur.fetchall()}

    def insert_groups(self, new: list) -> dict[str, int]:
        if not new:
            return {}
        rows = [group_insert_row(g) for g in new]
        columns = list(zip(*rows))
        arrays = [list(col) for col in columns]
        arrays[13] = [psycopg.types.json.Jsonb(v) for v in arrays[13]]
        casts = ", ".join(f"%b::{t}[]" for t in GROUP_TYPES)
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO {GROUPS} ({', '.join(GROUP_INSERT_COLUMNS)}) SELECT * FROM unnest({casts}) "
                "RETURNING fingerprint, id",
                arrays,
            )
            return dict(cur.fetchall())

    def insert_users(self, plan: Plan, ids: dict[str, int]) -> dict[int, int]:
        groups: list[int] = []
        hashes: list[int] = []
        for fp, g in plan.groups.items():
            if g.user_keys:
                gid = ids[fp]
                groups.extend([gid] * len(g.user_keys))
                hashes.extend(g.user_keys)
        if not groups:
            return {}
        with self._cursor() as cur:
            cur.execute(
                f"""WITH added AS (INSERT INTO {USERS} (group_id, key_hash)
                SELECT * FROM unnest(%b::int8[], %b::int8[]) ON CONFLICT DO NOTHING RETURNING group_id)
                SELECT group_id, count(*) FROM added GROUP BY group_id""",
                [groups, hashes],
            )
            return dict(cur.fetchall())

    def update_groups(self, plan: Plan, ids: dict[str, int], users: dict[int, int], cap: int) -> None:
        cols: list[list[Any]] = [[] for _ in range(17)]
        for fp, g in plan.groups.items():
            gid = ids[fp]
            last = g.last
            for i, value in enumerate((
                gid, g.count, users.get(gid, 0), g.first_seen, g.last_seen, last.id, clean(last.release),
                clean(last.environment), g.sample_minute, g.sample_count, g.crossed_ms, g.regressed_ms, g.unresolve,
                g.fixed_at_seen, g.after_fix_count, g.signal_id, g.signal_regression,
            )):
                cols[i].append(value)
        types = ["int8", "int8", "int4", "int8", "int8", "text", "text", "text", "int8", "int4", "int8", "int8",
                 "bool", "int8", "int8", "text", "bool"]
        casts = ", ".join(f"%b::{t}[]" for t in types)
        with self._cursor() as cur:
            cur.execute(
                f"""UPDATE {GROUPS} AS g SET
                count = g.count + u.n,
                users = LEAST(g.users + u.new_users, %b::int4),
                first_seen = LEAST(g.first_seen, {_TS.format('u.first_ms')}),
                last_seen = GREATEST(g.last_seen, {_TS.format('u.last_ms')}),
                last_event_id = u.last_event_id, release = u.release, environment = u.environment,
                sample_minute = u.sample_minute, sample_count = u.sample_count,
                threshold_crossed_at = COALESCE(g.threshold_crossed_at,
                    CASE WHEN u.crossed_ms > 0 THEN {_TS.format('u.crossed_ms')} END),
                regressed_at = CASE WHEN u.regressed_ms > 0 THEN {_TS.format('u.regressed_ms')} ELSE g.regressed_at END,
                state_changed_at = CASE WHEN u.unresolve AND g.state = 'resolved' THEN now() ELSE g.state_changed_at END,
                state = CASE WHEN u.unresolve AND g.state = 'resolved' THEN 'unresolved' ELSE g.state END,
                fixed_at_seen = u.fixed_at_seen, after_fix_count = u.after_fix_count,
                signal_pending = g.signal_pending OR u.signal_id <> '',
                signal_id = CASE WHEN u.signal_id <> '' THEN u.signal_id ELSE g.signal_id END,
                signal_regression = CASE WHEN u.signal_id <> '' THEN u.signal_regression ELSE g.signal_regression END
                FROM unnest({casts}) AS u(id, n, new_users, first_ms, last_ms, last_event_id, release, environment,
                    sample_minute, sample_count, crossed_ms, regressed_ms, unresolve, fixed_at_seen, after_fix_count,
                    signal_id, signal_regression)
                WHERE g.id = u.id""",
                [cap, *cols],
            )

    def upsert_hourly(self, plan: Plan, ids: dict[str, int]) -> None:
        g_ids, g_hours, g_counts = [], [], []
        for (fp, hour), n in plan.hourly.items():
            g_ids.append(ids[fp])
            g_hours.append(hour)
            g_counts.append(n)
        c_cls, c_hours, c_counts = [], [], []
        for (cls, hour), n in plan.class_hourly.items():
            c_cls.append(cls)
            c_hours.append(hour)
            c_counts.append(n)
        with self._cursor() as cur:
            cur.execute(
                f"""WITH g AS (INSERT INTO {HOURLY} (group_id, hour, count)
                    SELECT u.id, {_TS.format('u.h')}, u.n FROM unnest(%b::int8[], %b::int8[], %b::int8[]) AS u(id, h, n)
                    ON CONFLICT (group_id, hour) DO UPDATE SET count = {HOURLY}.count + excluded.count)
                INSERT INTO {CLASS_HOURLY} (cls, hour, count)
                    SELECT u.c, {_TS.format('u.h')}, u.n FROM unnest(%b::text[], %b::int8[], %b::int8[]) AS u(c, h, n)
                    ON CONFLICT (hour, cls) DO UPDATE SET count = {CLASS_HOURLY}.count + excluded.count""",
                [g_ids, g_hours, g_counts, c_cls, c_hours, c_counts],
            )

    def insert_samples(self, plan: Plan, ids: dict[str, int]) -> None:
        if not plan.samples:
            return
        seen: set[str] = set()
        with self._cursor() as cur:
            known = self._stored_ids(cur, [event.id for _, event in plan.samples])
            with cur.copy(f"COPY {LOGS} ({', '.join(LOG_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(LOG_TYPES)
                for stream_id, event in plan.samples:
                    if event.id in seen or event.id in known:
                        continue
                    seen.add(event.id)
                    copy.write_row(log_row(stream_id, event, ids[event.fingerprint]))

    def _stored_ids(self, cur: psycopg.Cursor, event_ids: list[str]) -> set[str]:
        # COPY cannot skip conflicts; a duplicated event id (re-sent by a client) would fail the batch.
        cur.execute(f"SELECT event_id FROM {LOGS} WHERE event_id = ANY(%b::text[])", [event_ids])
        return {r[0] for r in cur.fetchall()}
