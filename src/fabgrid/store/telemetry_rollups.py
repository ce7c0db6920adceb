"""Hourly roll-ups of machine telemetry: `machine_hours` (per machine and hour, the ISO 22400-2 elements that the
KPI engine sums, and the state and power in force at the hour's end) and `telemetry_rollups` (how far the
roll-ups reach). The KPI pages read these instead of raw events for the hours they cover, so the raw events can
be kept for a short retention only. Written by `services.telemetry_rollups`; depends on SQLAlchemy only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import OperationalError, ProgrammingError

from fabgrid.store import telemetry_partitions as partitions
from fabgrid.store.db import get_engine
from fabgrid.store.tables import Base
from fabgrid.store.telemetry_tables import machine_events

#: The element columns, in the order of `telemetry.kpi.ELEMENTS` (a test keeps the two equal: the store does not
#: import the engines).
ELEMENT_COLUMNS = ("pot_s", "pdot_s", "pbt_s", "apt_s", "asut_s", "adet_s", "idle_s", "offline_s", "aupt_s",
                   "aubt_s", "aoet_s", "pq", "gq", "sq", "rq", "planned_time_s", "energy_kwh", "value_added_cny")

machine_hours = Table(
    "machine_hours",
    Base.metadata,
    Column("machine", String(64), primary_key=True),
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column("site", String(64), nullable=True),
    *(Column(name, Float, nullable=False) for name in ELEMENT_COLUMNS),
    Column("state_end", String(32), nullable=True),
    Column("power_w_end", Float, nullable=True),
    Index("ix_machine_hours_hour", "hour"),
)
"""One row per machine and UTC hour: the hour's ISO 22400-2 elements, and the state and power value in force at
its end (the start of the next roll-up)."""

telemetry_rollups = Table(
    "telemetry_rollups",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("rolled_from", DateTime(timezone=True), nullable=False),
    Column("rolled_until", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""A single row: the roll-ups cover the hours in ``[rolled_from, rolled_until)``."""

_LOCK_KEY = 74_022_101  # PostgreSQL advisory lock: one roll-up at a time across the ingest processes


def _aware(t: datetime | None) -> datetime | None:
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC))  # SQLite hands back naive UTC


class RollupStore:
    """The roll-up tables of one database (created on first use)."""

    def __init__(self, db: str | Engine, *, create: bool = True) -> None:
        self.engine = get_engine(db) if isinstance(db, str) else db
        if create:
            for t in (machine_hours, telemetry_rollups):
                t.create(self.engine, checkfirst=True)

    def coverage(self) -> tuple[datetime, datetime] | None:
        """``(rolled_from, rolled_until)``, or None before the first roll-up (or without the tables)."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(telemetry_rollups.c.rolled_from, telemetry_rollups.c.rolled_until)
                                   .where(telemetry_rollups.c.id == 1)).first()
        except (OperationalError, ProgrammingError):  # a database the roll-ups never ran on
            return None
        if row is None:
            return None
        a, b = _aware(row[0]), _aware(row[1])
        assert a is not None and b is not None
        return a, b

    def held_at(self, hour: datetime) -> dict[str, tuple[str | None, str | None, float | None]]:
        """Per machine: (site, state, power W) in force at `hour`, from the roll-up of the hour before."""
        t = machine_hours.c
        q = select(t.machine, t.site, t.state_end, t.power_w_end).where(t.hour == hour - timedelta(hours=1))
        with self.engine.connect() as conn:
            return {m: (site, state, power) for m, site, state, power in conn.execute(q)}

    def write(self, hour_from: datetime, hour_to: datetime, rows: Sequence[dict[str, Any]],
              rolled_from: datetime) -> bool:
        """Replace the rows of the hours in ``[hour_from, hour_to)`` and record the coverage, in one transaction.
        False (nothing written) when another process is rolling up at the same moment (PostgreSQL)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql" and not conn.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}):
                return False
            conn.execute(delete(machine_hours).where(machine_hours.c.hour >= hour_from, machine_hours.c.hour < hour_to))
            for i in range(0, len(rows), 5000):
                conn.execute(insert(machine_hours), list(rows[i:i + 5000]))
            state = {"rolled_from": rolled_from, "rolled_until": hour_to, "updated_at": now}
            upd = telemetry_rollups.update().where(telemetry_rollups.c.id == 1).values(**state)
            if conn.execute(upd).rowcount == 0:
                conn.execute(insert(telemetry_rollups).values(id=1, **state))
        return True

    def rows(self, t_from: datetime, t_to: datetime) -> Iterator[dict[str, Any]]:
        """The rows of the hours in ``[t_from, t_to)``."""
        t = machine_hours.c
        q = select(machine_hours).where(t.hour >= t_from, t.hour < t_to).order_by(t.machine, t.hour)
        with self.engine.connect() as conn:
            for r in conn.execute(q).mappings():
                d = dict(r)
                d["hour"] = _aware(d["hour"])
                yield d

    def first_event_at(self) -> datetime | None:
        """The earliest raw event's time."""
        with self.engine.connect() as conn:
            return _aware(conn.scalar(select(func.min(machine_events.c.ts))))

    def prune_events(self, before: datetime) -> int:
        """Delete the raw events older than `before`; returns how many. On PostgreSQL the day partitions wholly
        before it are dropped (`store.telemetry_partitions`) and only the rest is deleted row by row."""
        with self.engine.begin() as conn:
            dropped = 0
            if self.engine.dialect.name == "postgresql" and partitions.is_partitioned(conn):
                dropped = partitions.drop_before(conn, before)
            return dropped + int(conn.execute(delete(machine_events).where(machine_events.c.ts < before)).rowcount)
