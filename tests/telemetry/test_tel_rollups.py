"""Hourly roll-ups of machine events (issue 21, item 3): KPIs read from the roll-ups (and raw events after them)
equal the KPIs of the raw events over the same hour-aligned window; the roll-up runs twice with a short lag
(held state carried from one run to the next); retention deletes old raw events and the KPIs stay; bad
settings are refused. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from tel_helpers import model, require_service

from fabgrid.errors import InputError
from fabgrid.services.telemetry import kpis_from_store
from fabgrid.services.telemetry_rollups import kpis_from_rollups, prune, roll_up
from fabgrid.store.telemetry import MachineEventStore
from fabgrid.store.telemetry_rollups import ELEMENT_COLUMNS
from fabgrid.telemetry.fleet import SimMachine, fleet_events
from fabgrid.telemetry.kpi import ELEMENTS

T0 = datetime(2026, 11, 2, 6, 17, tzinfo=UTC)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rollups.db'}"
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"fabgrid_rollup_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        yield url
    finally:
        from fabgrid.store.db import get_engine

        get_engine(url).dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill(db: str, hours: float) -> int:
    """Events of 5 simulated machines of two sites from T0 for `hours`."""
    fleet = [SimMachine("s1" if i < 3 else "s2", f"m{i}", model(producing_w=300 + 40 * i)) for i in range(5)]
    end = (T0 + timedelta(hours=hours)).timestamp()
    events = list(itertools.takewhile(lambda e: datetime.fromisoformat(str(e["ts"])).timestamp() < end,
                                      fleet_events(fleet, seed=5, start_s=T0.timestamp(), sample_s=120.0)))
    store = MachineEventStore(db)
    for i in range(0, len(events), 2000):
        store.add(events[i:i + 2000])
    return len(events)


def _same(a: object, b: object) -> None:
    for scope in ("machine", "site", "network"):
        for k in ELEMENTS:
            x, y = a.elements[scope][k], b.elements[scope][k]  # type: ignore[attr-defined]
            assert x.shape == y.shape and np.allclose(x, y, rtol=1e-9, atol=1e-6), (scope, k, x - y)


def test_kpis_from_rollups_equal_kpis_from_raw_events(db: str) -> None:
    n = _fill(db, 30)
    assert n > 1000
    assert roll_up(db, now=T0 + timedelta(hours=20, minutes=5)).hours == 20  # 06:00 .. 02:00 the next day
    # the second run recomputes the last 12 h (longer than any job here) and the 8 new ones
    run = roll_up(db, now=T0 + timedelta(hours=28, minutes=30), lag_h=12)
    assert run.hours == 12 + 8 and run.machines == 5
    assert run.rolled_until == datetime(2026, 11, 3, 10, tzinfo=UTC)
    t_from, t_to = T0 + timedelta(hours=1, minutes=40), T0 + timedelta(hours=29, minutes=50)
    aligned = datetime(2026, 11, 2, 7, tzinfo=UTC)  # t_from rounded down to the hour
    for period_s in (None, 3600.0, 86400.0):
        rolled = kpis_from_rollups(db, t_from, t_to, period_s=period_s)
        assert rolled is not None and rolled.periods.edges[0] == aligned.timestamp()
        raw = kpis_from_store(db, aligned, t_to, period_s=period_s)  # raw events only: no roll-up is read
        _same(rolled, raw)
    assert kpis_from_rollups(db, t_from, t_to, period_s=1800.0) is None  # half hours: the raw events answer


def test_retention_keeps_the_kpis(db: str) -> None:
    _fill(db, 30)
    roll_up(db, now=T0 + timedelta(hours=30))
    window = (datetime(2026, 11, 2, 7, tzinfo=UTC), datetime(2026, 11, 2, 23, tzinfo=UTC))
    before = kpis_from_rollups(db, *window, period_s=3600.0)
    store = MachineEventStore(db, create=False)
    n = store.count()
    # keep 1 day of raw events; the lag and the look-back of the next roll-up are never pruned
    gone = prune(db, 1, now=T0 + timedelta(days=4), lag_h=2)
    assert 0 < gone < n and store.count() == n - gone
    after = kpis_from_rollups(db, *window, period_s=3600.0)
    assert before is not None and after is not None
    _same(before, after)
    assert roll_up(db, now=T0 + timedelta(hours=31), lag_h=2).hours == 3  # the next run works on what is left


def test_bad_settings_and_an_empty_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    MachineEventStore(db)
    assert roll_up(db).hours == 0
    assert kpis_from_rollups(db, T0, T0 + timedelta(hours=2)) is None
    with pytest.raises(InputError, match="retention"):
        roll_up(db, retention_days=0)
    with pytest.raises(InputError, match="lag"):
        roll_up(db, lag_h=0)
    assert ELEMENT_COLUMNS == ELEMENTS


def test_the_rollup_command_and_the_ingest_options(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from fabgrid.services.telemetry_rollups import start_rollups

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    _fill(db, 5)
    out = subprocess.run([sys.executable, "-m", "fabgrid.cli", "rollup", "--database-url", db, "--json"],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert doc["hours"] >= 5 and doc["machines"] == 5 and doc["rolled_from"] == "2026-11-02T06:00:00+00:00"
    bad = subprocess.run([sys.executable, "-m", "fabgrid.cli", "rollup", "--database-url", db, "--retention-days",
                          "0"], capture_output=True, text=True)
    assert bad.returncode != 0 and "retention" in bad.stderr and "Traceback" not in bad.stderr
    with pytest.raises(InputError, match="too short"):
        start_rollups(db, 1.0)
