"""The embedded default's machine data: in-process simulated machines writing to the database.

With no MQTT broker configured, `fabgrid serve` simulates every machine of the shipped network in a
background thread, so the pages show live machine states and KPIs. Two sources (FABGRID_DEMO_SOURCE,
`fabgrid serve --demo-source`): ``fleet`` (the default of `fabgrid.config`), the telemetry fleet
(fabgrid.telemetry.fleet: each machine on its own, with jobs, layers, temperatures and power samples), or
``simulation``, the SimPy network simulation under the fabgrid policy (fabgrid.sim: demand, allocation,
shifts, failures, maintenance; states, power and part counts). Either first back-fills the last hours
(never overlapping what is stored), then follows the wall clock.

Measured on the shipped network (557 machines, 12 h back-fill, fresh SQLite): the simulation is
back-filled in ~4 s of CPU and writes ~3 000 rows; the fleet takes ~10 s of CPU and writes ~280 000
rows (~130 MB); the simulation's process holds ~180 MB more memory (the engines it imports).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fabgrid.data import load_network
from fabgrid.domain.catalog import Network
from fabgrid.errors import InputError
from fabgrid.services.telemetry import SqlEventSink
from fabgrid.telemetry.fleet import SimMachine, fleet_events, run_live

log = logging.getLogger("fabgrid.fleet")

BACKFILL_S = 12 * 3600.0  # long enough for multi-hour builds to finish inside the KPI window
SAMPLE_S = 300.0  # power and temperature samples every 5 minutes
BATCH = 5000

Event = dict[str, Any]
Source = Callable[[Network, float, int], Iterator[Event]]
"""Events of every machine of a network from epoch second `start` on, in time order: (network, start, seed)."""


def fleet_source(network: Network, start: float, seed: int) -> Iterator[Event]:
    """The telemetry fleet: every machine simulated on its own (fabgrid.telemetry.fleet)."""
    machines = [SimMachine(site.id, m.id, network.catalog.machine_models[m.model])
                for site in network.sites.values() for m in site.machines]
    return fleet_events(machines, seed=seed, start_s=start, sample_s=SAMPLE_S, run_id=f"embedded{int(start)}")


def simulation_source(network: Network, start: float, seed: int) -> Iterator[Event]:
    """The network simulation under the fabgrid policy (fabgrid.sim.export.live_events), its part
    library built without the nesting run (sim.yaml packing densities, as `simulate --fast`)."""
    from fabgrid.sim.config import load_params
    from fabgrid.sim.export import live_events
    from fabgrid.sim.library import build_library

    params = load_params()
    library = build_library(network, params, measure_packing=False)
    return live_events(network, params, library, cut_s=start, run_id=f"simlive{int(start)}", seed=seed)


SOURCES: dict[str, Source] = {"fleet": fleet_source, "simulation": simulation_source}


def run_embedded_fleet(url: str, stop: threading.Event, *, backfill_s: float = BACKFILL_S, seed: int = 0,
                       source: str = "fleet") -> int:
    """Simulate the network's machines (`source`: fleet or simulation) into the database at `url`
    until `stop` is set. Returns how many events were handed to the database."""
    if source not in SOURCES:
        raise InputError(f"unknown demo source {source!r}", hint=f"use one of {', '.join(SOURCES)}",
                         code="config.demo_source")
    network = load_network()
    sink = SqlEventSink(url)
    now = time.time()
    last_at = sink.last_event_at()
    last = last_at.timestamp() if last_at is not None else None
    start = max(now - backfill_s, (last + 1.0) if last else 0.0)
    events = SOURCES[source](network, start, seed)
    handed = 0
    # Back-fill up to now in large batches, then follow the clock.
    pending: list[Event] = []
    first: Event | None = None
    for ev in events:
        if _ts(ev) >= now:
            first = ev
            break
        pending.append(ev)
        if len(pending) >= BATCH:
            handed += sink(pending)
            pending = []
            if stop.is_set():
                return handed
    if pending:
        handed += sink(pending)
    n_machines = sum(len(s.machines) for s in network.sites.values())
    log.info("embedded %s: %d machines, %d events back-filled", source, n_machines, handed)
    # `run_live` paces from its first event's time: hand it over when that event is due (the
    # simulation's next event may be minutes away), so that no event is written ahead of the clock.
    if first is None or stop.wait(max(0.0, _ts(first) - time.time())):
        return handed
    return handed + run_live(itertools.chain([first], events), sink, stop=stop, speed=1.0)


def _ts(ev: Event) -> float:
    return datetime.fromisoformat(str(ev["ts"]).replace("Z", "+00:00")).timestamp()


def start_embedded_fleet(url: str, source: str | None = None) -> tuple[threading.Thread, threading.Event]:
    """Start `run_embedded_fleet` in a daemon thread (`source` default: FABGRID_DEMO_SOURCE, see
    `fabgrid.config`); set the returned event to stop it."""
    from fabgrid.config import load_settings

    src = source or load_settings().demo_source
    stop = threading.Event()

    def _run() -> None:
        try:
            run_embedded_fleet(url, stop, source=src)
        except Exception:  # a failing demo source must not take the platform down
            log.exception("embedded %s stopped", src)

    thread = threading.Thread(target=_run, name=f"fabgrid-{src}", daemon=True)
    thread.start()
    return thread, stop
