"""Machine events in the database: batch writes (COPY on PostgreSQL), counts and reads of `machine_events`.

Every event is stored once, keyed by its message id and time (``INSERT ... ON CONFLICT DO NOTHING``), so redelivered
MQTT messages are counted once. On PostgreSQL the table is partitioned by day (`store.telemetry_partitions`): a
batch's day partitions are made before it is written. `MachineEventStore.refusal` says, before a write, why an event
cannot be stored (column widths, control characters, time, payload), and a batch the database still refuses raises
`EventsRefused`; `DeadLetterStore` keeps such messages. Events are the JSON-lines event dicts of fabgrid.telemetry;
this module knows their identity fields only. Depends on the store's tables and SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, column, func, insert, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError

from fabgrid.errors import InputError
from fabgrid.store import telemetry_partitions as partitions
from fabgrid.store.db import get_engine
from fabgrid.store.telemetry_tables import machine_events, telemetry_dead_letters

Database = Engine | str
"""Where the events are: an engine, or a database URL (its pooled engine is used)."""

_IDENTITY = frozenset(("id", "site", "machine", "type"))
_COLUMNS = ("message_id", "ts", "received_at", "site", "machine", "kind", "payload")
_STAGE_DDL = ("CREATE TEMPORARY TABLE IF NOT EXISTS machine_events_stage (message_id varchar(200), "
              "ts timestamptz, received_at timestamptz, site varchar(64), machine varchar(64), "
              "kind varchar(16), payload json) ON COMMIT DELETE ROWS")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WIDTHS = {"id": ("message_id", 200), "site": ("site", 64), "machine": ("machine", 64), "type": ("kind", 16)}


class EventsRefused(Exception):
    """The database refused a batch for its data (a value too long, a NUL byte, a bad time ...): one of its
    events cannot be stored. Nothing of the batch was written."""


def refusal(ev: dict[str, Any]) -> str | None:
    """Why `ev` cannot be stored in `machine_events` (None: it can): the same answer on SQLite and
    PostgreSQL, so one bad event never fails a batch."""
    for key, (col, width) in _WIDTHS.items():
        value = ev.get(key)
        if value is None and key == "site":
            continue
        if not isinstance(value, str) or not value:
            return f"{key!r} is missing or not a string"
        if len(value) > width:
            return f"{key!r} has {len(value)} characters; the {col} column holds {width}"
        if _CONTROL.search(value):
            return f"{key!r} contains control characters (such as NUL)"
    ts = ev.get("ts")
    if not isinstance(ts, str):
        return "'ts' is missing or not a string"
    try:
        datetime.fromisoformat(ts)
    except ValueError:
        return f"ts {ts[:40]!r} is not an ISO 8601 time"
    try:
        orjson.dumps({k: v for k, v in ev.items() if k not in _IDENTITY})
    except TypeError as exc:  # e.g. an integer beyond 64 bits handed in by a caller
        return f"the payload cannot be stored as JSON ({exc})"
    return None


def _ts(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # a naive time is UTC


def _row(ev: dict[str, Any], now: datetime) -> dict[str, Any]:
    payload = {k: v for k, v in ev.items() if k not in _IDENTITY}
    return {"message_id": ev["id"], "ts": _ts(ev["ts"]), "received_at": now,
            "site": ev.get("site"), "machine": ev["machine"], "kind": ev["type"], "payload": payload}


def _copy_row(ev: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """The COPY row of an event (payload as JSON text), same columns as `_row`."""
    payload = {k: v for k, v in ev.items() if k not in _IDENTITY}
    return (ev["id"], _ts(ev["ts"]), now, ev.get("site"), ev["machine"], ev["type"],
            orjson.dumps(payload).decode())


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


class MachineEventStore:
    """The `machine_events` table of one database (created on first use unless `create` is False).

    SQLite: a batch is an executemany of ``INSERT ... ON CONFLICT DO NOTHING``. PostgreSQL: the batch is
    COPYed into a temporary staging table, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (one
    statement per batch instead of one per row).
    """

    def __init__(self, db: Database, *, create: bool = True) -> None:
        self.engine = get_engine(db) if isinstance(db, str) else db
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("postgresql", "sqlite"):
            raise InputError(f"telemetry ingest supports SQLite and PostgreSQL, not {self.dialect}",
                             hint="use sqlite:///PATH or postgresql://...", code="telemetry.database")
        #: PostgreSQL: whether the table is partitioned by day (a database of before migration 0027 is not),
        #: and the days whose partition this store knows to exist.
        self.partitioned = False
        self._days: set[date] = set()
        if self.dialect == "postgresql":
            with self.engine.begin() as conn:
                found = partitions.is_partitioned(conn)
                if found is None and create:
                    found = partitions.create(conn)
                self.partitioned = bool(found)
        elif create:
            machine_events.create(self.engine, checkfirst=True)
        # no conflict target: the key is (message_id, ts), or message_id alone in a database not upgraded yet
        if self.dialect == "sqlite":
            self._insert: Any = sqlite.insert(machine_events).on_conflict_do_nothing()
        else:
            stage = table("machine_events_stage", *(column(c) for c in _COLUMNS))
            self._insert = (postgresql.insert(machine_events)
                            .from_select(list(_COLUMNS), select(*(stage.c[c] for c in _COLUMNS)))
                            .on_conflict_do_nothing()
                            .returning(machine_events.c.message_id))  # rowcount is -1 for INSERT ... SELECT

    def add(self, events: list[dict[str, Any]]) -> int:
        """Store a batch in one transaction; returns how many events were new. `EventsRefused` when the
        database refuses the data of an event (nothing of the batch is written then)."""
        if not events:
            return 0
        try:
            return self._add(events)
        except (DataError, IntegrityError, ValueError, TypeError, KeyError) as exc:
            raise EventsRefused(str(getattr(exc, "orig", None) or exc)) from exc
        except Exception as exc:
            if self.dialect == "postgresql":  # COPY goes through the raw driver: its errors are not wrapped
                import psycopg

                if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
                    raise EventsRefused(str(exc)) from exc
            raise

    refusal = staticmethod(refusal)

    def _add(self, events: list[dict[str, Any]]) -> int:
        now = datetime.now(UTC)
        if self.dialect == "sqlite":
            with self.engine.begin() as conn:
                unique = {(r["message_id"], r["ts"]): r for r in (_row(ev, now) for ev in events)}
                return int(conn.execute(self._insert, list(unique.values())).rowcount)
        rows = list({(r[0], r[1]): r for r in (_copy_row(ev, now) for ev in events)}.values())
        if self.partitioned:
            days = {d for row in rows if (d := partitions.day_of(row[1])) is not None} - self._days
            if days:
                partitions.ensure_days(self.engine, days)
                self._days |= days
        with self.engine.begin() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(_STAGE_DDL)
            with cur.copy(f"COPY machine_events_stage ({', '.join(_COLUMNS)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            return len(conn.execute(self._insert).all())  # the rows inserted: the new ones

    def count(self) -> int:
        """Rows in `machine_events`."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(machine_events)).scalar_one())

    def last_event_at(self) -> datetime | None:
        """The time of the latest stored event (UTC), or None when there is none."""
        with self.engine.connect() as conn:
            last = conn.scalar(select(func.max(machine_events.c.ts)))
        if last is None:
            return None
        return _aware(datetime.fromisoformat(last) if isinstance(last, str) else last)

    def events(self, *, since: datetime | None = None, until: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Stored events back in the JSON-lines event format, in time order, in ``[since, until)``."""
        t = machine_events.c
        q = select(t.message_id, t.ts, t.site, t.machine, t.kind, t.payload).order_by(t.ts, t.id)
        if since is not None:
            q = q.where(t.ts >= since)
        if until is not None:
            q = q.where(t.ts < until)
        with self.engine.connect() as conn:
            for mid, ts, site, machine, kind, payload in conn.execute(q):
                yield {"id": mid, "ts": _aware(ts).isoformat(), "site": site, "machine": machine, "type": kind,
                       **payload}

    def site_events(self, site: str, since: datetime, until: datetime,
                    machine: str | None = None) -> Iterator[dict[str, Any]]:
        """The events of `site` (of one `machine`) in ``[since, until)``, in time order, in the JSON-lines format."""
        t = machine_events.c
        q = (select(t.message_id, t.ts, t.site, t.machine, t.kind, t.payload)
             .where(t.site == site, t.ts >= since, t.ts < until).order_by(t.ts, t.id))
        if machine is not None:
            q = q.where(t.machine == machine)
        with self.engine.connect() as conn:
            for mid, ts, site_, m, kind, payload in conn.execute(q):
                yield {"id": mid, "ts": _aware(ts).isoformat(), "site": site_, "machine": m, "type": kind, **payload}

    def latest_states(self, site: str, since: datetime) -> dict[str, tuple[datetime, dict[str, Any]]]:
        """Per machine of `site`: the time and payload of its latest state event at or after `since`.
        One indexed query over the site's state events."""
        t = machine_events.c
        last = (select(t.machine, func.max(t.ts).label("ts"))
                .where(t.site == site, t.kind == "state", t.ts >= since)
                .group_by(t.machine).subquery())
        q = (select(t.machine, t.ts, t.payload).join(last, (t.machine == last.c.machine) & (t.ts == last.c.ts))
             .where(t.kind == "state"))
        with self.engine.connect() as conn:
            return {str(machine): (_aware(ts), payload) for machine, ts, payload in conn.execute(q)}


class DeadLetterStore:
    """`telemetry_dead_letters` of one database (created on first use unless `create` is False): the
    messages the ingest could not store, with the reason and the raw payload."""

    def __init__(self, db: Database, *, create: bool = True) -> None:
        self.engine = get_engine(db) if isinstance(db, str) else db
        if create:
            telemetry_dead_letters.create(self.engine, checkfirst=True)

    def add(self, letters: Sequence[tuple[str, str | None, str, bytes]]) -> int:
        """Keep ``(topic, message_id, reason, payload)`` dead letters in one transaction; returns how many.
        Text is cut to the columns' widths and control characters are escaped (the message id of a dead
        letter may be the very value the database refused)."""
        if not letters:
            return 0
        now = datetime.now(UTC)
        rows = [{"received_at": now, "topic": _printable(topic, 300),
                 "message_id": None if mid is None else _printable(mid, 200),
                 "reason": _printable(reason, 500), "payload": bytes(payload)}
                for topic, mid, reason, payload in letters]
        with self.engine.begin() as conn:
            conn.execute(insert(telemetry_dead_letters), rows)
        return len(rows)

    def count(self) -> int:
        """Rows in `telemetry_dead_letters`."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(telemetry_dead_letters)).scalar_one())

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest dead letters (topic, message id, reason, payload bytes, received_at), newest first."""
        t = telemetry_dead_letters.c
        q = (select(t.id, t.received_at, t.topic, t.message_id, t.reason, t.payload)
             .order_by(t.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [{"id": i, "received_at": _aware(at), "topic": topic, "message_id": mid, "reason": reason,
                     "payload": bytes(payload)} for i, at, topic, mid, reason, payload in conn.execute(q)]


def _printable(text: str, width: int) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:width]
