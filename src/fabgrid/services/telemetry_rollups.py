"""Hourly roll-ups of machine telemetry and the retention of raw events (issue 21, item 3).

`roll_up` turns the raw `machine_events` of closed UTC hours into one row per machine and hour in
`machine_hours`: the ISO 22400-2 elements the KPI engine sums (state times, counts, energy, value added) and the
state and power value in force at the hour's end. Each run recomputes the last `LAG_H` hours, so events that
arrive late and counts spread over jobs of up to that length are folded in. `kpis_from_rollups` answers the KPI
pages from the roll-ups for the hours they cover and from raw events only for the hour(s) after them; the raw
events can then be pruned after `retention_days` (`prune`). Run by `fabgrid rollup` and, every few minutes, by
`fabgrid ingest --rollup-every S`. Depends on the store and the telemetry engine.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fabgrid.domain.telemetry import STATE_ORDER
from fabgrid.errors import InputError
from fabgrid.store.telemetry import Database, MachineEventStore
from fabgrid.store.telemetry_rollups import ELEMENT_COLUMNS, RollupStore
from fabgrid.telemetry.events import EventColumns, columns_from_events
from fabgrid.telemetry.kpi import ELEMENTS, KpiTable, elements, table_from_elements
from fabgrid.telemetry.state import Periods, fixed_periods, held_at

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
#: Hours each roll-up recomputes behind the last one (late events; counts of jobs up to this long).
LAG_H = 48
#: Raw events read before a roll-up's first hour when no roll-up of the hour before holds the machines' state.
LOOKBACK = timedelta(days=1)
#: Bounds of the settings.
MAX_RETENTION_DAYS = 3650
MIN_ROLLUP_EVERY_S = 10.0

assert ELEMENT_COLUMNS == ELEMENTS, "store.telemetry_rollups.ELEMENT_COLUMNS must follow telemetry.kpi.ELEMENTS"


@dataclass(frozen=True)
class RollupRun:
    """What one roll-up did."""

    hours: int
    machines: int
    rows: int
    rolled_from: datetime | None
    rolled_until: datetime | None
    pruned_events: int = 0
    skipped: bool = False  # another process was rolling up at the same moment


def floor_hour(t: datetime) -> datetime:
    """`t` (aware) rounded down to the UTC hour."""
    t = t.astimezone(UTC)
    return t.replace(minute=0, second=0, microsecond=0)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def _held_events(held: dict[str, tuple[str | None, str | None, float | None]], at: datetime) -> list[dict[str, Any]]:
    """State and power events at `at` carrying each machine's values from a roll-up."""
    out: list[dict[str, Any]] = []
    ts = _iso(at)
    for m, (site, state, power) in held.items():
        if state is not None:
            out.append({"id": f"held-state:{m}", "ts": ts, "site": site, "machine": m, "type": "state",
                        "state": state})
        if power is not None:
            out.append({"id": f"held-power:{m}", "ts": ts, "site": site, "machine": m, "type": "power",
                        "power_w": power})
    return out


def _columns(db: Database, store: RollupStore, start: datetime, until: datetime) -> EventColumns:
    """The events of ``[start - LOOKBACK, until)`` (the day before `start` gives each machine's state and the
    start of jobs that end after it), with the state and power the roll-up of the hour before `start` held, for
    machines silent for longer than that day."""
    held = store.held_at(start)
    raw: Iterable[dict[str, Any]] = MachineEventStore(db, create=False).events(since=start - LOOKBACK, until=until)
    return columns_from_events(itertools.chain(_held_events(held, start - LOOKBACK), raw))


def _hourly(start: datetime, until: datetime) -> Periods:
    n = int((until - start) / HOUR)
    edges = np.asarray(start.timestamp() + 3600.0 * np.arange(n + 1), dtype=np.float64)
    return Periods(edges=edges, labels=tuple(_iso(start + i * HOUR) for i in range(n)))


def _rows(cols: EventColumns, periods: Periods, start: datetime) -> list[dict[str, Any]]:
    el = elements(cols, periods)
    ends = periods.edges[1:]
    state_end = held_at(cols.state_m, cols.state_ts, cols.state_code.astype(np.float64), cols.n_machines, ends)
    power_end = held_at(cols.power_m, cols.power_ts, cols.power_w, cols.n_machines, ends)
    rows = []
    for i, machine in enumerate(cols.machines):
        for j in range(periods.n):
            code, power = state_end[i, j], power_end[i, j]
            rows.append({"machine": machine, "hour": start + j * HOUR, "site": cols.sites[i],
                         **{k: float(el[k][i, j]) for k in ELEMENTS},
                         "state_end": None if np.isnan(code) else STATE_ORDER[int(code)].value,
                         "power_w_end": None if np.isnan(power) else float(power)})
    return rows


def roll_up(db: Database, *, now: datetime | None = None, lag_h: int = LAG_H,
            retention_days: float | None = None) -> RollupRun:
    """Roll up the closed hours since the last roll-up (and the `lag_h` hours before it) into `machine_hours`;
    with `retention_days`, then delete the raw events older than that which the roll-ups already hold."""
    if not 1 <= lag_h <= 24 * 31:
        raise InputError(f"lag of {lag_h} h is out of range", hint="use 1..744 hours", code="telemetry.rollup")
    _check_retention(retention_days)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    store = RollupStore(db)
    until = floor_hour(now)
    first = store.first_event_at()
    cov = store.coverage()
    if first is None and cov is None:
        return RollupRun(0, 0, 0, None, None)
    if cov is None:
        assert first is not None
        start = floor_hour(first)
    else:  # the hours after the roll-ups and the lag before them; never an hour whose raw events were pruned
        start = min(cov[1], until) - lag_h * HOUR
        start = max(start, floor_hour(first)) if first is not None else max(start, cov[1])
    run = RollupRun(0, 0, 0, cov[0] if cov else None, cov[1] if cov else None)
    if start < until:
        cols = _columns(db, store, start, until)
        rows = _rows(cols, _hourly(start, until), start)
        rolled_from = start if cov is None else min(cov[0], start)
        if not store.write(start, until, rows, rolled_from):
            return RollupRun(0, 0, 0, run.rolled_from, run.rolled_until, skipped=True)
        run = RollupRun(int((until - start) / HOUR), cols.n_machines, len(rows), rolled_from, until)
    pruned = prune(db, retention_days, now=now, lag_h=lag_h) if retention_days is not None else 0
    return RollupRun(run.hours, run.machines, run.rows, run.rolled_from, run.rolled_until, pruned)


def _check_retention(days: float | None) -> None:
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise InputError(f"a retention of {days:g} days is out of range",
                         hint=f"keep raw events 1..{MAX_RETENTION_DAYS} days (the hourly roll-ups stay)",
                         code="telemetry.retention")


def prune(db: Database, retention_days: float | None, *, now: datetime | None = None, lag_h: int = LAG_H) -> int:
    """Delete raw events older than `retention_days`, never those the roll-ups do not hold yet (the last `lag_h`
    hours before the roll-ups' end and the day before them stay, for the next roll-up)."""
    _check_retention(retention_days)
    if retention_days is None:
        return 0
    store = RollupStore(db)
    cov = store.coverage()
    if cov is None:
        return 0
    now = (now or datetime.now(UTC)).astimezone(UTC)
    before = min(now - timedelta(days=retention_days), cov[1] - lag_h * HOUR - LOOKBACK)
    return store.prune_events(before)


def kpis_from_rollups(db: Database, t_from: datetime, t_to: datetime, *,
                      period_s: float | None = None) -> KpiTable | None:
    """The KPI table of ``[floor_hour(t_from), t_to)`` from the roll-ups for the hours they hold and from raw
    events for the rest of the window; None when there are no roll-ups, when the periods are not whole hours, or
    when raw events of the window are older than the roll-ups (then the raw events answer)."""
    store = RollupStore(db, create=False)
    cov = store.coverage()
    if cov is None or (period_s is not None and period_s % 3600):
        return None
    a = floor_hour(t_from)
    if a < cov[0]:
        first = store.first_event_at()
        if first is not None and first < cov[0]:
            return None
    periods = fixed_periods(a.timestamp(), t_to.timestamp(), period_s)
    split = max(a, min(cov[1], floor_hour(t_to)))
    index: dict[str, int] = {}
    sites: list[str | None] = []
    acc: dict[str, list[np.ndarray[Any, Any]]] = {k: [] for k in ELEMENTS}

    def machine(name: str, site: str | None) -> int:
        if name not in index:
            index[name] = len(sites)
            sites.append(site)
            for k in ELEMENTS:
                acc[k].append(np.zeros(periods.n))
        elif sites[index[name]] is None:
            sites[index[name]] = site
        return index[name]

    for row in _rolled(store, a, split):
        i = machine(row["machine"], row["site"])
        b = int(periods.bucket(np.array([row["hour"].timestamp()]))[0])
        if b >= 0:
            for k in ELEMENTS:
                acc[k][i][b] += row[k]
    if t_to > split:
        for name, site, tail in _tail(db, store, periods, split):
            i = machine(name, site)
            for k in ELEMENTS:
                acc[k][i] += tail[k]
    per = {k: (np.vstack(v) if v else np.zeros((0, periods.n))) for k, v in acc.items()}
    return table_from_elements(per, tuple(index), tuple(sites), periods)


#: The elements that come from count events (spread over their job), the rest from states, energy and power.
_COUNT_ELEMENTS = ("pq", "gq", "sq", "rq", "planned_time_s", "value_added_cny")


def _tail(db: Database, store: RollupStore, periods: Periods,
          split: datetime) -> Iterator[tuple[str, str | None, dict[str, np.ndarray[Any, Any]]]]:
    """Per machine, the elements of the window's periods that the roll-ups do not hold: everything from `split`
    on, and before it the share of the jobs counted after `split` (the roll-ups hold the counts before it)."""
    cut = split.timestamp()
    edges = np.unique(np.append(periods.edges, cut))
    refined = Periods(edges=edges, labels=tuple(str(i) for i in range(edges.size - 1)))
    cols = _columns(db, store, split, datetime.fromtimestamp(float(periods.edges[-1]), UTC))
    after = elements(cols, refined)
    late = cols.count_ts >= cut
    counts = replace(cols, state_m=cols.state_m[:0], state_ts=cols.state_ts[:0], state_code=cols.state_code[:0],
                     energy_m=cols.energy_m[:0], energy_ts=cols.energy_ts[:0], energy_kwh=cols.energy_kwh[:0],
                     power_m=cols.power_m[:0], power_ts=cols.power_ts[:0], power_w=cols.power_w[:0],
                     count_m=cols.count_m[late], count_ts=cols.count_ts[late], good=cols.good[late],
                     scrap=cols.scrap[late], rework=cols.rework[late], planned_s=cols.planned_s[late],
                     count_start=None if cols.count_start is None else cols.count_start[late],
                     value_cny=None if cols.value_cny is None else cols.value_cny[late])
    before = elements(counts, refined)
    is_after = edges[:-1] >= cut
    target = periods.bucket(edges[:-1])  # the requested period of each refined one
    for i, name in enumerate(cols.machines):
        out: dict[str, np.ndarray[Any, Any]] = {}
        for k in ELEMENTS:
            v = np.where(is_after, after[k][i], before[k][i] if k in _COUNT_ELEMENTS else 0.0)
            out[k] = np.bincount(target[target >= 0], weights=v[target >= 0], minlength=periods.n)
        yield name, cols.sites[i], out


def _rolled(store: RollupStore, a: datetime, b: datetime) -> Iterator[dict[str, Any]]:
    return store.rows(a, b) if b > a else iter(())


def start_rollups(db: Database, every_s: float, *, retention_days: float | None = None) -> threading.Event:
    """A daemon thread running `roll_up` every `every_s` seconds (the ingest's); set the event to stop it."""
    if every_s < MIN_ROLLUP_EVERY_S:
        raise InputError(f"--rollup-every {every_s:g} s is too short", hint=f"use at least {MIN_ROLLUP_EVERY_S:g} s",
                         code="telemetry.rollup")
    _check_retention(retention_days)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                run = roll_up(db, retention_days=retention_days)
                log.info("telemetry roll-up: %d hours x %d machines, pruned %d raw events", run.hours, run.machines,
                         run.pruned_events)
            except Exception:  # the database restarting: the next round tries again
                log.warning("telemetry roll-up failed", exc_info=True)

    threading.Thread(target=loop, name="fabgrid-rollups", daemon=True).start()
    return stop
