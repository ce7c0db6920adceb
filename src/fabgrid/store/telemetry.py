"""Machine events in the database: batch writes (COPY on PostgreSQL), counts and reads of `machine_events`.

Every event is stored once, keyed by its message id (``INSERT ... ON CONFLICT (message_id) DO NOTHING``),
so redelivered MQTT messages are counted once. Events are the JSON-lines event dicts of fabgrid.telemetry;
this module knows their identity fields only. Depends on the store's tables and SQLAlchemy only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, column, func, select, table
from sqlalchemy.dialects import postgresql, sqlite

from fabgrid.errors import InputError
from fabgrid.store.db import get_engine
from fabgrid.store.telemetry_tables import machine_events

Database = Engine | str
"""Where the events are: an engine, or a database URL (its pooled engine is used)."""

_IDENTITY = frozenset(("id", "site", "machine", "type"))
_COLUMNS = ("message_id", "ts", "received_at", "site", "machine", "kind", "payload")
_STAGE_DDL = ("CREATE TEMPORARY TABLE IF NOT EXISTS machine_events_stage (message_id varchar(200), "
              "ts timestamptz, received_at timestamptz, site varchar(64), machine varchar(64), "
              "kind varchar(16), payload json) ON COMMIT DELETE ROWS")


def _row(ev: dict[str, Any], now: datetime) -> dict[str, Any]:
    payload = {k: v for k, v in ev.items() if k not in _IDENTITY}
    return {"message_id": ev["id"], "ts": datetime.fromisoformat(ev["ts"]), "received_at": now,
            "site": ev.get("site"), "machine": ev["machine"], "kind": ev["type"], "payload": payload}


def _copy_row(ev: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """The COPY row of an event (payload as JSON text), same columns as `_row`."""
    payload = {k: v for k, v in ev.items() if k not in _IDENTITY}
    return (ev["id"], datetime.fromisoformat(ev["ts"]), now, ev.get("site"), ev["machine"], ev["type"],
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
        if create:
            machine_events.create(self.engine, checkfirst=True)
        if self.dialect == "sqlite":
            self._insert: Any = sqlite.insert(machine_events).on_conflict_do_nothing(index_elements=["message_id"])
        else:
            stage = table("machine_events_stage", *(column(c) for c in _COLUMNS))
            self._insert = (postgresql.insert(machine_events)
                            .from_select(list(_COLUMNS), select(*(stage.c[c] for c in _COLUMNS)))
                            .on_conflict_do_nothing(index_elements=["message_id"])
                            .returning(machine_events.c.message_id))  # rowcount is -1 for INSERT ... SELECT

    def add(self, events: list[dict[str, Any]]) -> int:
        """Store a batch in one transaction; returns how many events were new."""
        if not events:
            return 0
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                rows = list({ev["id"]: _row(ev, now) for ev in events}.values())
                return int(conn.execute(self._insert, rows).rowcount)
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(_STAGE_DDL)
            with cur.copy(f"COPY machine_events_stage ({', '.join(_COLUMNS)}) FROM STDIN") as cp:
                for row in {ev["id"]: _copy_row(ev, now) for ev in events}.values():
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
