"""Simulated fleet: deterministic, time-ordered, realistic streams whose KPIs fall in plant ranges."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from fabgrid.domain.telemetry import EVENT_ADAPTER
from fabgrid.errors import InputError
from fabgrid.telemetry.events import columns_from_events
from fabgrid.telemetry.fleet import SimMachine, fleet_events, load_profiles, run_fleet
from fabgrid.telemetry.kpi import compute
from fabgrid.telemetry.state import fixed_periods

START = 1_790_000_000.0


def _take(machines: list[SimMachine], n: int, seed: int = 1) -> list[dict[str, object]]:
    return list(itertools.islice(fleet_events(machines, seed=seed, start_s=START, run_id="t"), n))


def test_same_seed_same_stream_other_seed_other_stream(small_fleet: list[SimMachine]) -> None:
    a, b, c = _take(small_fleet, 3000), _take(small_fleet, 3000), _take(small_fleet, 3000, seed=2)
    assert a == b
    assert a != c


def test_stream_is_ordered_unique_and_valid(small_fleet: list[SimMachine]) -> None:
    events = _take(small_fleet, 20000)
    ts = [e["ts"] for e in events]
    assert ts == sorted(ts)
    assert len({e["id"] for e in events}) == len(events)
    for e in events[:2000]:
        EVENT_ADAPTER.validate_python(e)  # every event follows the documented schema
    kinds = Counter(e["type"] for e in events)
    assert {"state", "job", "layer", "temperature", "power"} <= set(kinds)
    states = Counter(e["state"] for e in events if e["type"] == "state")
    assert {"setup", "producing", "idle"} <= set(states)


def test_fleet_kpis_are_in_plant_ranges(small_fleet: list[SimMachine]) -> None:
    events = _take(small_fleet, 60000)
    cols = columns_from_events(events)
    lo, hi = cols.time_range() or (0, 0)
    rows = compute(cols, fixed_periods(lo, hi, None)).rows()
    net = next(r for r in rows if r.scope == "network")
    assert net.availability is not None and 0.5 < net.availability < 1.0
    assert net.quality_ratio is not None and 0.85 < net.quality_ratio <= 1.0
    assert net.effectiveness is not None and 0.6 < net.effectiveness < 1.1
    assert net.energy_kwh > 0 and net.elements.pq > 0
    assert {r.key for r in rows if r.scope == "site"} == {"s1", "s2"}


def test_profiles_cover_every_process_family() -> None:
    from fabgrid.domain.catalog import ProcessFamily

    assert set(load_profiles()) == set(ProcessFamily)


def test_run_fleet_paces_and_counts(small_fleet: list[SimMachine]) -> None:
    sent: list[dict[str, object]] = []
    stats = run_fleet(fleet_events(small_fleet, seed=0), sent.append, rate_hz=2000, count=400)
    assert stats.published == 400 == len(sent)
    assert stats.elapsed_s >= 0.19  # 400 messages at 2000/s take at least 0.2 s
    with pytest.raises(InputError):
        next(fleet_events([], seed=0))
