"""Event sinks: a batch is stored once, redelivered messages are not counted twice (SQLite, JSON lines)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from sqlalchemy import create_engine

from fabgrid.services.telemetry import JsonlEventSink, MultiSink, SqlEventSink, iter_events
from fabgrid.telemetry.fleet import SimMachine, fleet_events


def _events(fleet: list[SimMachine], n: int) -> list[dict[str, object]]:
    return list(itertools.islice(fleet_events(fleet, seed=5, start_s=1.79e9, run_id="sink"), n))


def test_sqlite_sink_dedupes_by_message_id(tmp_path: Path, small_fleet: list[SimMachine]) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ev.db'}")
    sink = SqlEventSink(engine)
    events = _events(small_fleet, 3000)
    assert sink(events[:2000]) == 2000
    assert sink(events[1000:3000]) == 1000  # half redelivered
    assert sink(events[:10] + events[:10]) == 0  # duplicates inside one batch too
    assert sink.count() == 3000
    back = list(iter_events(engine))
    assert len(back) == 3000 and {e["id"] for e in back} == {e["id"] for e in events}
    first = next(e for e in back if e["id"] == events[0]["id"])
    assert first["type"] == events[0]["type"] and first["machine"] == events[0]["machine"]


def test_jsonl_sink_survives_restart(tmp_path: Path, small_fleet: list[SimMachine]) -> None:
    out = tmp_path / "ev.jsonl"
    events = _events(small_fleet, 500)
    assert JsonlEventSink(out)(events[:300]) == 300
    again = JsonlEventSink(out)  # a new process reads the ids already written
    assert again(events[200:]) == 200
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [e["id"] for e in lines] == [e["id"] for e in events]


def test_multi_sink_reports_first(tmp_path: Path, small_fleet: list[SimMachine]) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    sink = MultiSink([SqlEventSink(engine), JsonlEventSink(tmp_path / "m.jsonl")])
    events = _events(small_fleet, 50)
    assert sink(events) == 50 and sink(events) == 0


def test_live_fleet_into_store_then_kpis(tmp_path: Path, small_fleet: list[SimMachine]) -> None:
    import threading
    import time
    from datetime import UTC, datetime

    from fabgrid.services.telemetry import kpis_from_store
    from fabgrid.telemetry.fleet import run_live

    engine = create_engine(f"sqlite:///{tmp_path / 'live.db'}")
    sink = SqlEventSink(engine)
    t0 = time.time()
    stop = threading.Event()
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    handed = run_live(fleet_events(small_fleet, seed=2, start_s=t0), sink, stop=stop, speed=7200, batch_s=0.2)
    elapsed = time.time() - t0
    assert handed == sink.count() > 0
    last = max(datetime.fromisoformat(e["ts"]).timestamp() for e in iter_events(engine))
    assert last <= t0 + elapsed * 7200 + 1  # nothing handed over before its simulated time
    table = kpis_from_store(engine, datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(last, UTC))
    net = table.kpis["network"]
    assert 0 < net["availability"][0, -1] <= 1
