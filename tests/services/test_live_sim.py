"""The embedded default's simulation source: the SimPy network simulation writes machine_events."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fabgrid.config import load_settings
from fabgrid.errors import InputError
from fabgrid.services.live_fleet import run_embedded_fleet
from fabgrid.services.platform import prepare_database
from fabgrid.services.telemetry import kpis_from_store
from fabgrid.store.db import get_engine
from fabgrid.store.telemetry_tables import machine_events


def test_simulation_source_writes_every_machine(sqlite_url: str) -> None:
    state = prepare_database(sqlite_url)
    stop = threading.Event()
    stop.set()  # back-fill only, then return
    handed = run_embedded_fleet(sqlite_url, stop, backfill_s=3600, source="simulation")
    with get_engine(sqlite_url).connect() as conn:
        n = conn.scalar(select(func.count()).select_from(machine_events)) or 0
        machines = conn.scalar(select(func.count(func.distinct(machine_events.c.machine)))) or 0
        kinds = set(conn.scalars(select(machine_events.c.kind).distinct()))
        ids = set(conn.scalars(select(machine_events.c.message_id)))
        last = conn.scalar(select(func.max(machine_events.c.ts)))
    assert handed > 0 and n == handed
    last_s = (last if last.tzinfo else last.replace(tzinfo=UTC)).timestamp()
    assert last_s <= time.time()  # nothing is written ahead of the clock
    assert machines == state.counts["machines"]  # every machine of the network has its state
    assert kinds >= {"state", "power"} and all(i.startswith("simlive") for i in ids)
    now = datetime.now(UTC)
    kpis = kpis_from_store(get_engine(sqlite_url), now - timedelta(minutes=50), now)
    assert kpis.machines
    # a restart only adds events after what was stored
    run_embedded_fleet(sqlite_url, stop, backfill_s=3600, source="simulation")
    with get_engine(sqlite_url).connect() as conn:
        older = conn.scalar(select(func.count()).select_from(machine_events).where(machine_events.c.ts <= last))
    assert older == n


def test_demo_source_setting(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("FABGRID_DEMO_SOURCE", "simulation")
    assert load_settings().demo_source == "simulation"
    monkeypatch.setenv("FABGRID_DEMO_SOURCE", "fleet")
    assert load_settings().demo_source == "fleet"
    monkeypatch.delenv("FABGRID_DEMO_SOURCE")
    assert load_settings().demo_source == "fleet"
    monkeypatch.setenv("FABGRID_DEMO_SOURCE", "replay")
    with pytest.raises(InputError):
        load_settings()
    with pytest.raises(InputError):
        run_embedded_fleet(sqlite_url, threading.Event(), source="replay")
