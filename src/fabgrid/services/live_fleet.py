"""The embedded default's machine data: an in-process simulated fleet writing to the database.

With no MQTT broker configured, `fabgrid serve` runs every machine of the shipped network as a
simulated machine (fabgrid.telemetry.fleet) in a background thread, so the pages show live
machine states and KPIs. It first back-fills the last hours (never overlapping what is stored),
then follows the wall clock.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from datetime import datetime

from sqlalchemy import func, select

from fabgrid.data import load_network
from fabgrid.services.telemetry import SqlEventSink
from fabgrid.store.db import get_engine
from fabgrid.store.telemetry_tables import machine_events
from fabgrid.telemetry.fleet import SimMachine, fleet_events, run_live

log = logging.getLogger("fabgrid.fleet")

BACKFILL_S = 12 * 3600.0  # long enough for multi-hour builds to finish inside the KPI window
SAMPLE_S = 300.0  # power and temperature samples every 5 minutes
BATCH = 5000


def _last_event_s(url: str) -> float | None:
    with get_engine(url).connect() as conn:
        last = conn.scalar(select(func.max(machine_events.c.ts)))
    if last is None:
        return None
    if isinstance(last, str):
        last = datetime.fromisoformat(last)
    return float(last.timestamp())


def run_embedded_fleet(url: str, stop: threading.Event, *, backfill_s: float = BACKFILL_S, seed: int = 0) -> int:
    """Simulate the network's machines into the database at `url` until `stop` is set.

    Returns how many events were handed to the database.
    """
    network = load_network()
    machines = [SimMachine(site.id, m.id, network.catalog.machine_models[m.model])
                for site in network.sites.values() for m in site.machines]
    sink = SqlEventSink(get_engine(url))
    now = time.time()
    last = _last_event_s(url)
    start = max(now - backfill_s, (last + 1.0) if last else 0.0)
    events = fleet_events(machines, seed=seed, start_s=start, sample_s=SAMPLE_S, run_id=f"embedded{int(start)}")
    handed = 0
    # Back-fill up to now in large batches, then follow the clock.
    pending = []
    for ev in events:
        pending.append(ev)
        if datetime.fromisoformat(str(ev["ts"]).replace("Z", "+00:00")).timestamp() >= now:
            break
        if len(pending) >= BATCH:
            handed += sink(pending)
            pending = []
            if stop.is_set():
                return handed
    if pending:
        handed += sink(pending)
    log.info("embedded fleet: %d machines, %d events back-filled", len(machines), handed)
    return handed + run_live(itertools.chain(events), sink, stop=stop, speed=1.0)


def start_embedded_fleet(url: str) -> tuple[threading.Thread, threading.Event]:
    """Start `run_embedded_fleet` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def _run() -> None:
        try:
            run_embedded_fleet(url, stop)
        except Exception:  # a failing demo fleet must not take the platform down
            log.exception("embedded fleet stopped")

    thread = threading.Thread(target=_run, name="fabgrid-fleet", daemon=True)
    thread.start()
    return thread, stop
