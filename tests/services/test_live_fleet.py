"""The embedded default's in-process fleet fills machine_events without overlapping restarts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from fabgrid.services.live_fleet import run_embedded_fleet
from fabgrid.services.platform import prepare_database
from fabgrid.services.telemetry import kpis_from_store
from fabgrid.store.db import get_engine
from fabgrid.store.telemetry_tables import machine_events


def _count(url: str) -> tuple[int, int]:
    with get_engine(url).connect() as conn:
        n = conn.scalar(select(func.count()).select_from(machine_events)) or 0
        machines = conn.scalar(select(func.count(func.distinct(machine_events.c.machine)))) or 0
    return int(n), int(machines)


def test_backfill_then_restart_does_not_overlap(sqlite_url: str) -> None:
    state = prepare_database(sqlite_url)
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    handed = run_embedded_fleet(sqlite_url, stop, backfill_s=900)
    n1, machines = _count(sqlite_url)
    assert handed > 0 and n1 == handed
    assert machines == state.counts["machines"]  # every machine of the network reports
    with get_engine(sqlite_url).connect() as conn:
        last = conn.scalar(select(func.max(machine_events.c.ts)))
    stop2 = threading.Event()
    stop2.set()
    run_embedded_fleet(sqlite_url, stop2, backfill_s=900)
    with get_engine(sqlite_url).connect() as conn:
        # a restart only adds events after what was stored
        older = conn.scalar(select(func.count()).select_from(machine_events)
                            .where(machine_events.c.ts <= last)) or 0
    assert older == n1
    now = datetime.now(UTC)
    kpis = kpis_from_store(get_engine(sqlite_url), now - timedelta(minutes=15), now)
    assert kpis  # the KPI engine reads what the fleet wrote
