"""Telemetry use cases: store ingested machine events (database and/or JSON lines) and read them back.

Sinks write one batch per transaction with ``INSERT ... ON CONFLICT (message_id) DO NOTHING``
(SQLite and PostgreSQL dialects), so redelivered MQTT messages are counted once.
Uses the telemetry engine and the store; nothing here is imported by an engine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, column, func, select, table
from sqlalchemy.dialects import postgresql, sqlite

from fabgrid.errors import InputError
from fabgrid.store.telemetry_tables import machine_events
from fabgrid.telemetry.events import columns_from_events
from fabgrid.telemetry.kpi import KpiTable, compute
from fabgrid.telemetry.mqtt import Broker, IngestConfig, IngestStats, MqttIngest, Sink, TopicFamily
from fabgrid.telemetry.state import fixed_periods

_IDENTITY = frozenset(("id", "site", "machine", "type"))


def _row(ev: dict[str, Any], now: datetime) -> dict[str, Any]:
    payload = {k: v for k, v in ev.items() if k not in _IDENTITY}
    return {"message_id": ev["id"], "ts": datetime.fromisoformat(ev["ts"]), "received_at": now,
            "site": ev.get("site"), "machine": ev["machine"], "kind": ev["type"], "payload": payload}


def _copy_row(ev: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """The COPY row of an event (payload as JSON text), same columns as `_row`."""
    payload = {k: v for k, v in ev.items() if k not in _IDENTITY}
    return (ev["id"], datetime.fromisoformat(ev["ts"]), now, ev.get("site"), ev["machine"], ev["type"],
            orjson.dumps(payload).decode())


_COLUMNS = ("message_id", "ts", "received_at", "site", "machine", "kind", "payload")
_STAGE_DDL = ("CREATE TEMPORARY TABLE IF NOT EXISTS machine_events_stage (message_id varchar(200), "
              "ts timestamptz, received_at timestamptz, site varchar(64), machine varchar(64), "
              "kind varchar(16), payload json) ON COMMIT DELETE ROWS")


class SqlEventSink:
    """Stores event batches in `machine_events`, one transaction per batch; returns how many were new.

    SQLite: executemany of ``INSERT ... ON CONFLICT DO NOTHING``. PostgreSQL: the batch is COPYed
    into a temporary staging table, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (one
    statement per batch instead of one per row).
    """

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("postgresql", "sqlite"):
            raise InputError(f"telemetry ingest supports SQLite and PostgreSQL, not {self.dialect}",
                             hint="use sqlite:///PATH or postgresql://...", code="telemetry.database")
        if create:
            machine_events.create(engine, checkfirst=True)
        if self.dialect == "sqlite":
            self._stmt: Any = sqlite.insert(machine_events).on_conflict_do_nothing(
                index_elements=["message_id"])
        else:
            stage = table("machine_events_stage", *(column(c) for c in _COLUMNS))
            self._stmt = (postgresql.insert(machine_events)
                          .from_select(list(_COLUMNS), select(*(stage.c[c] for c in _COLUMNS)))
                          .on_conflict_do_nothing(index_elements=["message_id"])
                          .returning(machine_events.c.message_id))  # rowcount is -1 for INSERT ... SELECT

    def __call__(self, events: list[dict[str, Any]]) -> int:
        if not events:
            return 0
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                rows = list({ev["id"]: _row(ev, now) for ev in events}.values())
                return int(conn.execute(self._stmt, rows).rowcount)
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute(_STAGE_DDL)
            with cur.copy(f"COPY machine_events_stage ({', '.join(_COLUMNS)}) FROM STDIN") as cp:
                for row in {ev["id"]: _copy_row(ev, now) for ev in events}.values():
                    cp.write_row(row)
            return len(conn.execute(self._stmt).all())  # the rows inserted: the new ones

    def count(self) -> int:
        """Rows in `machine_events`."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(machine_events)).scalar_one())


class JsonlEventSink:
    """Appends new events to a JSON-lines file (the `fabgrid kpi` format), skipping ids already in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        if path.exists():
            with path.open("r", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        mid = json.loads(line).get("id")
                    except (json.JSONDecodeError, AttributeError):
                        raise InputError(f"{path}:{n}: not a JSON object; cannot append to this file",
                                         hint="give --out a new file or an events file",
                                         code="telemetry.out") from None
                    if isinstance(mid, str):
                        self.seen.add(mid)
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, events: list[dict[str, Any]]) -> int:
        fresh = []
        for ev in events:
            if ev["id"] not in self.seen:
                self.seen.add(ev["id"])
                fresh.append(json.dumps(ev, separators=(",", ":")))
        if fresh:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(fresh) + "\n")
                fh.flush()
                os.fsync(fh.fileno())  # durable before the messages are acknowledged
        return len(fresh)


class MultiSink:
    """Writes each batch to several sinks; the first one's count is reported."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def __call__(self, events: list[dict[str, Any]]) -> int:
        counts = [s(events) for s in self.sinks]
        return counts[0]


@dataclass(frozen=True)
class IngestTarget:
    """Where ingested events go."""

    database_url: str | None
    out: Path | None


def make_sink(target: IngestTarget, engine: Engine | None = None) -> Sink:
    """The sink for `target` (database first, then the file)."""
    sinks: list[Sink] = []
    if engine is not None or target.database_url:
        if engine is None:
            from fabgrid.store.db import get_engine

            engine = get_engine(str(target.database_url))
        sinks.append(SqlEventSink(engine))
    if target.out is not None:
        sinks.append(JsonlEventSink(target.out))
    if not sinks:
        raise InputError("ingest needs somewhere to write", hint="give --database-url or --out",
                         code="telemetry.ingest")
    return sinks[0] if len(sinks) == 1 else MultiSink(sinks)


def run_ingest(mqtt_url: str, target: IngestTarget, *, client_id: str = "fabgrid-ingest",
               duration_s: float | None = None, idle_exit_s: float | None = None, batch_size: int = 5000,
               expect: int | None = None, engine: Engine | None = None, sparkplug: bool = True,
               sparkplug_mapping: Path | None = None) -> IngestStats:
    """Ingest MQTT telemetry into the target until interrupted, `duration_s`, idle, or `expect` stored.

    With `sparkplug` the ingest also subscribes to ``spBv1.0/#`` and maps Sparkplug B metrics to
    events with `sparkplug_mapping` (default: the shipped mapping)."""
    from sqlalchemy.exc import OperationalError

    families: tuple[TopicFamily, ...] = ()
    if sparkplug:
        from fabgrid.telemetry.sparkplug import SparkplugHost, load_mapping

        families = (SparkplugHost(load_mapping(sparkplug_mapping)),)
    sink = make_sink(target, engine)
    ingest = MqttIngest(IngestConfig(broker=Broker.from_url(mqtt_url), client_id=client_id,
                                     batch_size=batch_size, receive_maximum=min(65535, max(20000, 2 * batch_size)),
                                     retry_errors=(OperationalError, OSError)), sink, families=families)
    until = None if expect is None else (lambda s: s.stored >= expect)
    try:
        return ingest.run(duration_s=duration_s, idle_exit_s=idle_exit_s, until=until)
    except KeyboardInterrupt:
        return ingest.stats


def iter_events(engine: Engine, *, since: datetime | None = None,
                until: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Stored events back in the JSON-lines event format, in time order."""
    t = machine_events.c
    q = select(t.message_id, t.ts, t.site, t.machine, t.kind, t.payload).order_by(t.ts, t.id)
    if since is not None:
        q = q.where(t.ts >= since)
    if until is not None:
        q = q.where(t.ts < until)
    with engine.connect() as conn:
        for mid, ts, site, machine, kind, payload in conn.execute(q):
            ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
            yield {"id": mid, "ts": ts.isoformat(), "site": site, "machine": machine, "type": kind, **payload}


def kpis_from_store(engine: Engine, t_from: datetime, t_to: datetime, *,
                    period_s: float | None = None) -> KpiTable:
    """ISO 22400-2 KPIs of the stored events in ``[t_from, t_to)`` (state held from before the window
    counts: the events of the previous day are read too)."""
    from datetime import timedelta

    cols = columns_from_events(iter_events(engine, since=t_from - timedelta(days=1), until=t_to))
    return compute(cols, fixed_periods(t_from.timestamp(), t_to.timestamp(), period_s))
