"""SimPy model of the network: machine pools per (site, machine model), builds, failures, maintenance,
operators and finishing stations, shipping with transit times, disruptions, and the event record.

A policy (sim.policies) routes order lines to pools and forms the builds; this module runs them and
records machine states and part counts as telemetry events. Never imports store, services, api, web.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from fabgrid.domain.catalog import MachineModel, Network, Site
from fabgrid.domain.sim import DisruptionKind, SimDisruption, SimParams
from fabgrid.domain.telemetry import MachineState
from fabgrid.network import geo
from fabgrid.scheduling.site import work_windows
from fabgrid.sim.config import material_ids
from fabgrid.sim.demand import Orders
from fabgrid.sim.library import Library, ModelFacts
from fabgrid.telemetry.state import SITE_TZ, STATE_CODE

S_PRODUCING, S_IDLE, S_SETUP = (STATE_CODE[s] for s in (MachineState.PRODUCING, MachineState.IDLE,
                                                         MachineState.SETUP))
S_PLANNED, S_UNPLANNED, S_OFFLINE = (STATE_CODE[s] for s in (MachineState.PLANNED_DOWNTIME,
                                                              MachineState.UNPLANNED_DOWNTIME, MachineState.OFFLINE))


SimGen = Generator[simpy.events.Event, Any, None]
"""A SimPy process body."""


@dataclass
class Line:
    """Units of one order to make in one pool."""

    order: int
    part: int
    qty: int
    due_h: float
    material: str
    remake: bool = False


@dataclass
class Pool:
    """The machines of one model at one site, sharing a queue of lines."""

    key: str
    site: Site
    model: MachineModel
    machines: list[int]
    queue: list[Line] = field(default_factory=list)
    wake: simpy.Event | None = None
    busy_until_h: dict[int, float] = field(default_factory=dict)   # machine -> expected end of its build
    version: int = 0                                                # bumped whenever lines are queued

    def queued_h(self, lib: Library) -> float:
        """Machine hours of the lines waiting in the queue (at full builds)."""
        return sum(ln.qty * lib.parts[ln.part].models[self.model.id].ideal_unit_h for ln in self.queue)


@dataclass
class Record:
    """Telemetry events and flows of one run (columns as Python lists, turned into arrays at the end)."""

    state_m: list[int] = field(default_factory=list)
    state_t: list[float] = field(default_factory=list)
    state_c: list[int] = field(default_factory=list)
    power_w: list[float] = field(default_factory=list)
    count_m: list[int] = field(default_factory=list)
    count_t0: list[float] = field(default_factory=list)
    count_t1: list[float] = field(default_factory=list)
    good: list[float] = field(default_factory=list)
    scrap: list[float] = field(default_factory=list)
    planned_s: list[float] = field(default_factory=list)
    value_cny: list[float] = field(default_factory=list)
    material_g: float = 0.0
    material_cny: float = 0.0
    material_co2_kg: float = 0.0
    part_g_good: float = 0.0
    shipping_cny: float = 0.0
    shipping_co2_kg: float = 0.0
    builds: int = 0
    failures: int = 0
    reroutes: int = 0
    allocations: int = 0
    allocations_unproven: int = 0      # ended at the time limit, not the gap target: time-dependent
    allocation_s: float = 0.0
    sequencing_plans: int = 0          # calls of the scheduling engine (fabgrid policy)
    sequencing_s: float = 0.0
    interrupted_builds: int = 0        # builds stopped by a factory closure (parts scrapped, units requeued)
    interrupted_units: int = 0
    build_log: list[tuple[float, str, str]] = field(default_factory=list)   # (start h, site, material)
    ship_log: list[tuple[float, str, str]] = field(default_factory=list)    # (departure h, site, dest province)


class World:
    """The network in SimPy: pools, machines, sites' operators and stations, orders, disruptions."""

    def __init__(self, network: Network, params: SimParams, library: Library, orders: Orders,
                 disruptions: tuple[SimDisruption, ...], days: int, seed: int,
                 sites: tuple[str, ...] | None = None) -> None:
        self.env = simpy.Environment()
        self.net, self.params, self.lib, self.orders = network, params, library, orders
        self.days, self.seed, self.end_h = days, seed, days * 24.0
        self.disruptions = disruptions
        self.start = datetime.combine(params.start_date, time(0, 0), tzinfo=SITE_TZ).astimezone(UTC)
        self.rec = Record()
        ids = sorted(network.sites) if sites is None else sorted(sites)
        self.sites = [network.sites[s] for s in ids]
        self.pools: dict[str, Pool] = {}
        self.machine_names: list[str] = []
        self.machine_ids: list[str] = []              # the network's machine ids (telemetry `machine`)
        self.machine_site: list[str] = []
        self.machine_model: list[MachineModel] = []
        for site in self.sites:
            for m in site.machines:
                model = network.machine_model(m)
                key = f"{site.id}/{model.id}"
                pool = self.pools.setdefault(key, Pool(key, site, model, []))
                pool.machines.append(len(self.machine_names))
                self.machine_names.append(f"{site.id}/{m.id}")
                self.machine_ids.append(m.id)
                self.machine_site.append(site.id)
                self.machine_model.append(model)
        self.windows = {s.id: self._windows(s) for s in self.sites}
        op = params.operators
        self.operators = {s.id: simpy.Resource(self.env, max(op.min_per_site, math.ceil(
            len(s.machines) / op.machines_per_operator))) for s in self.sites}
        self.stations = {s.id: simpy.Resource(self.env, max(1, sum(st.count for st in s.stations)))
                         for s in self.sites}
        lg = geo.load_logistics()
        lat = np.array([s.lat for s in self.sites])
        lon = np.array([s.lon for s in self.sites])
        clat = np.array([c.lat for c in orders.cities])
        clon = np.array([c.lon for c in orders.cities])
        self.road_km = geo.road_km(geo.great_circle_km(lat[:, None], lon[:, None], clat[None, :], clon[None, :]), lg)
        self.transit_days = geo.shipping_days(self.road_km, lg)
        self.ship_cny_per_kg = geo.shipping_cny_per_unit(self.road_km, np.ones_like(self.road_km), lg)
        self.ship_min_cny = lg.min_cny_per_unit
        self.ship_co2_per_kg = geo.shipping_co2_kg_per_unit(self.road_km, np.ones_like(self.road_km), lg)
        local0 = params.start_date
        self.workday = {s.id: [s.calendar.is_workday(local0 + timedelta(days=d)) for d in range(days + 40)]
                        for s in self.sites}
        self.site_index = {s.id: i for i, s in enumerate(self.sites)}
        n = len(orders)
        self.units_left = orders.quantity.copy()
        self.started = np.zeros(n, dtype=bool)
        self.delivered_h = np.full(n, np.nan)
        self.last_arrival_h = np.zeros(n)
        self.lost = np.zeros(n, dtype=bool)
        self.lost_h = np.full(n, np.nan)
        self.maker = np.full(n, -1, dtype=np.int64)
        self.procs: dict[int, simpy.events.Process] = {}
        self.next_pm: dict[int, float] = {}           # machine -> time of its next planned maintenance
        self.building: set[int] = set()
        self.run_done_h: dict[int, float] = {}        # machine -> production hours of its current build
        self.run_since: dict[int, float | None] = {}  # machine -> start of its current production stretch
        for d in disruptions:
            if d.kind is DisruptionKind.SITE and d.target in self.site_index:
                self.env.process(self._closure(d))

    # ----- calendars and disruptions -------------------------------------------------------------
    def _windows(self, site: Site) -> NDArray[np.float64]:
        w = work_windows(site.calendar, self.start, (self.days + 30) * 1440)
        return np.asarray(w, dtype=np.float64).reshape(-1, 2) / 60.0

    def staffed_at(self, site: str, t: float) -> float:
        """The earliest time >= t inside a work window of `site` (inf when none is left)."""
        w = self.windows[site]
        i = int(np.searchsorted(w[:, 1], t, side="right"))
        if i >= len(w):
            return math.inf
        return max(t, float(w[i, 0]))

    def blocked_until(self, kind: DisruptionKind, targets: tuple[str, ...], t: float) -> float | None:
        """End of a disruption of `kind` on any of `targets` in force at `t`, else None."""
        ends = [d.end_h for d in self.disruptions
                if d.kind is kind and d.target in targets and d.start_h <= t < d.end_h]
        return max(ends) if ends else None

    def short_until(self, material: str, t: float) -> float | None:
        """End of a shortage of `material` in force at `t`, else None."""
        ends = [d.end_h for d in self.disruptions if d.kind is DisruptionKind.MATERIAL
                and material in material_ids(self.net, d.target) and d.start_h <= t < d.end_h]
        return max(ends) if ends else None

    # ----- event record ---------------------------------------------------------------------------
    def state(self, m: int, code: int) -> None:
        """Record machine `m` entering state `code` now, with its electrical power."""
        p = self.machine_model[m].power
        w = {S_PRODUCING: p.producing_w, S_SETUP: p.setup_w, S_IDLE: p.idle_w}.get(code, p.standby_w)
        r = self.rec
        if r.state_m and r.state_m[-1] == m and r.state_c[-1] == code:
            return
        r.state_m.append(m)
        r.state_t.append(self.env.now)
        r.state_c.append(code)
        r.power_w.append(w)

    # ----- queues ---------------------------------------------------------------------------------
    def enqueue(self, pool: Pool, line: Line, front: bool = False) -> None:
        """Put `line` in `pool`'s queue and wake its idle machines."""
        if front:
            pool.queue.insert(0, line)
        else:
            pool.queue.append(line)
        pool.version += 1
        if pool.wake is not None and not pool.wake.triggered:
            pool.wake.succeed()

    def facts(self, pool: Pool, line: Line) -> ModelFacts:
        """Machine-time facts of a line's part on the pool's model."""
        return self.lib.parts[line.part].models[pool.model.id]

    # ----- machines -------------------------------------------------------------------------------
    def machine(self, pool: Pool, m: int, form_build: Callable[[World, Pool], list[Line]]) -> simpy.events.Process:
        """Start the process of machine `m` of `pool`."""
        proc = self.env.process(self._machine(pool, m, form_build))
        self.procs[m] = proc
        return proc

    def _machine(self, pool: Pool, m: int, form_build: Callable[[World, Pool], list[Line]]) -> SimGen:
        rng_fail = np.random.default_rng([self.seed, 2, m])
        rng_q = np.random.default_rng([self.seed, 3, m])
        self.next_pm[m] = (m * 7.31) % self.params.maintenance.interval_h
        self.state(m, S_IDLE)
        while True:
            try:
                lines = yield from self._next_work(pool, m, form_build)
            except simpy.Interrupt:
                continue  # a closure began while the machine waited: it goes offline
            if lines:
                yield from self._build(pool, m, lines, rng_fail, rng_q)

    def _next_work(self, pool: Pool, m: int, form_build: Callable[[World, Pool], list[Line]],
                   ) -> Generator[simpy.events.Event, Any, list[Line]]:
        """One step of an idle machine: a closure, maintenance, a shift to wait for, or the next build's
        lines (after waiting for work when there is none: then [])."""
        env, site = self.env, pool.site
        closed = self.blocked_until(DisruptionKind.SITE, (site.id,), env.now)
        if closed is not None:
            self.state(m, S_OFFLINE)
            yield env.timeout(closed - env.now)
            return []
        if env.now >= self.next_pm[m]:
            self.state(m, S_PLANNED)
            yield env.timeout(self.params.maintenance.duration_h.get(pool.model.process.value, 1.0))
            self.next_pm[m] += self.params.maintenance.interval_h
            return []
        t_staff = self.staffed_at(site.id, env.now)
        if t_staff > env.now:
            self.state(m, S_IDLE)
            yield env.timeout(min(t_staff, self.end_h + 1) - env.now)
            return []
        lines = form_build(self, pool)
        if not lines:
            self.state(m, S_IDLE)
            pool.wake = pool.wake if pool.wake is not None and not pool.wake.triggered else env.event()
            until = min(self.retry_at(pool) or math.inf, self.next_pm[m])
            yield pool.wake | env.timeout(max(until - env.now, 0.01))
        return lines

    def _build(self, pool: Pool, m: int, lines: list[Line], rng_fail: np.random.Generator,
               rng_q: np.random.Generator) -> SimGen:
        """Run one build on machine `m` and count its parts; a closure interrupts it (see `_interrupted`)."""
        env = self.env
        for ln in lines:
            self.started[ln.order] = True
        fx = [self.facts(pool, ln) for ln in lines]
        setup_h = max(f.fixed_h for f in fx)
        run_h = sum(ln.qty * f.marginal_h for ln, f in zip(lines, fx, strict=True))
        t0 = env.now
        self.rec.builds += 1
        self.rec.build_log.append((t0, pool.site.id, lines[0].material))
        self.building.add(m)
        pool.busy_until_h[m] = t0 + setup_h + run_h
        try:
            scrap_all = yield from self._run(m, pool.model.process.value, setup_h, run_h, rng_fail)
        except simpy.Interrupt:
            self._interrupted(pool, m, lines, fx, t0, run_h)
            return
        finally:
            self.building.discard(m)
            pool.busy_until_h[m] = env.now
        self.state(m, S_IDLE)
        self._count(pool, m, lines, fx, t0, scrap_all, pool.site.quality.first_pass_yield, rng_q)

    def _producing(self, m: int, on: bool) -> None:
        """Start or stop a production stretch of machine `m` (tracks the progress of its build)."""
        now = self.env.now
        since = self.run_since.get(m)
        if since is not None:
            self.run_done_h[m] = self.run_done_h.get(m, 0.0) + now - since
        self.run_since[m] = now if on else None
        self.state(m, S_PRODUCING if on else S_UNPLANNED)

    def _run(self, m: int, fam: str, setup_h: float, run_h: float, rng_fail: np.random.Generator,
             ) -> Generator[simpy.events.Event, Any, bool]:
        """Set-up and production of one build with a possible failure; True when the failure scraps it."""
        env, rel = self.env, self.params.reliability
        self.run_done_h[m], self.run_since[m] = 0.0, None
        self.state(m, S_SETUP)
        yield env.timeout(setup_h)
        self._producing(m, True)
        ttf = rng_fail.exponential(rel.mtbf_h.get(fam, 500.0))
        scrap_all = False
        if ttf < run_h:
            yield env.timeout(ttf)
            self.rec.failures += 1
            self._producing(m, False)
            yield env.timeout(rel.mttr_h.get(fam, 4.0))
            scrap_all = bool(rng_fail.random() < rel.scrap_on_failure.get(fam, 1.0))
            if not scrap_all:
                self._producing(m, True)
                yield env.timeout(run_h - ttf)
        else:
            yield env.timeout(run_h)
        self.run_since[m] = None
        return scrap_all

    # ----- factory closures -----------------------------------------------------------------------
    def _closure(self, d: SimDisruption) -> SimGen:
        """At the start of a site closure, interrupt its machines: running builds stop, waiting machines
        (idle, in maintenance) go offline."""
        yield self.env.timeout(d.start_h)
        for m, proc in sorted(self.procs.items()):
            if self.machine_site[m] == d.target:
                proc.interrupt("site closed")

    def _interrupted(self, pool: Pool, m: int, lines: list[Line], fx: list[ModelFacts], t0: float,
                     run_h: float) -> None:
        """A closure stopped the build: its parts are scrapped (material and planned time counted for the
        share produced) and its units go back to the front of the pool's queue, to be made again there
        after the closure or, under the fabgrid policy, rerouted with the rest of the site's queue."""
        since = self.run_since.get(m)
        done = self.run_done_h.get(m, 0.0) + (self.env.now - since if since is not None else 0.0)
        self.run_since[m] = None
        share = min(max(done / run_h, 0.0), 1.0) if run_h > 0 else 0.0
        r = self.rec
        planned = 0.0
        for ln, f in zip(lines, fx, strict=True):
            mat = self.net.catalog.materials[ln.material]
            used_g = share * ln.qty * f.material_g
            r.material_g += used_g
            r.material_cny += used_g / 1000.0 * mat.price_cny_per_kg
            r.material_co2_kg += used_g / 1000.0 * mat.embodied_co2_kg_per_kg
            planned += share * ln.qty * f.marginal_h * 3600.0  # ISO 22400 PRU: producing time, set-up excluded
        qty = sum(ln.qty for ln in lines)
        r.interrupted_builds += 1
        r.interrupted_units += qty
        if share > 0:  # stopped in set-up (share 0): no part was begun, nothing to count as scrap
            r.count_m.append(m)
            r.count_t0.append(t0)
            r.count_t1.append(self.env.now)
            r.good.append(0)
            r.scrap.append(qty)
            r.planned_s.append(planned)
            r.value_cny.append(0.0)
        self.state(m, S_OFFLINE)
        for ln in reversed(lines):
            if not self.lost[ln.order]:
                self.enqueue(pool, ln, front=True)

    def retry_at(self, pool: Pool) -> float | None:
        """When a blocked queue (material short) may become startable again."""
        ends = [self.short_until(ln.material, self.env.now) for ln in pool.queue]
        known = [e for e in ends if e is not None]
        return min(known) if known else None

    def _count(self, pool: Pool, m: int, lines: list[Line], fx: list[ModelFacts], t0: float, scrap_all: bool,
               fpy: float, rng: np.random.Generator) -> None:
        r, env = self.rec, self.env
        mat_price = {ln.material: self.net.catalog.materials[ln.material] for ln in lines}
        good_total = scrap_total = 0
        planned = value = 0.0
        finished: list[tuple[Line, int]] = []
        for ln, f in zip(lines, fx, strict=True):
            mat = mat_price[ln.material]
            used_g = ln.qty * f.material_g
            r.material_g += used_g
            r.material_cny += used_g / 1000.0 * mat.price_cny_per_kg
            r.material_co2_kg += used_g / 1000.0 * mat.embodied_co2_kg_per_kg
            bad = ln.qty if scrap_all else int(rng.binomial(ln.qty, 1.0 - fpy))
            good = ln.qty - bad
            good_total += good
            scrap_total += bad
            planned += ln.qty * f.marginal_h * 3600.0  # ISO 22400 PRU: producing time, set-up excluded
            pf = self.lib.parts[ln.part]
            value += good * pf.value_added_cny[pf.bucket(int(self.orders.quantity[ln.order]))]
            r.part_g_good += good * pf.part_g
            if bad and not self.lost[ln.order]:
                self.enqueue(pool, Line(ln.order, ln.part, bad, ln.due_h, ln.material, remake=True), front=True)
            if good:
                finished.append((ln, good))
        r.count_m.append(m)
        r.count_t0.append(t0)
        r.count_t1.append(env.now)
        r.good.append(good_total)
        r.scrap.append(scrap_total)
        r.planned_s.append(planned)
        r.value_cny.append(value)
        for ln, good in finished:
            env.process(self._finish_and_ship(pool.site, ln, good))

    # ----- finishing and shipping -----------------------------------------------------------------
    def _finish_and_ship(self, site: Site, ln: Line, good: int) -> SimGen:
        env = self.env
        hours = good * self.lib.parts[ln.part].finishing_h
        with self.stations[site.id].request() as st, self.operators[site.id].request() as op:
            yield st & op
            t = self.staffed_at(site.id, env.now)
            if t > env.now:
                yield env.timeout(min(t, self.end_h + 1) - env.now)
            yield env.timeout(hours)
        dep = self._departure(site, ln, env.now)
        self.rec.ship_log.append((dep, site.id, self.orders.cities[int(self.orders.city[ln.order])].province))
        si, ci = self.site_index[site.id], int(self.orders.city[ln.order])
        unit_kg = self.lib.parts[ln.part].part_g / 1000.0 * 1.2 + 0.05
        self.rec.shipping_cny += max(float(self.ship_cny_per_kg[si, ci]) * unit_kg, self.ship_min_cny) * good
        self.rec.shipping_co2_kg += float(self.ship_co2_per_kg[si, ci]) * unit_kg * good
        arrival = dep + 24.0 * float(self.transit_days[si, ci])
        o = ln.order
        self.maker[o] = si
        self.units_left[o] -= good
        self.last_arrival_h[o] = max(self.last_arrival_h[o], arrival)
        if self.units_left[o] <= 0 and not self.lost[o]:
            self.delivered_h[o] = self.last_arrival_h[o]

    def _departure(self, site: Site, ln: Line, t: float) -> float:
        """Next daily pick-up at or after `t` that no closure or logistics halt blocks."""
        pick = float(self.params.shipping.pickup_local_h)
        dest = self.orders.cities[int(self.orders.city[ln.order])].province
        for _ in range(400):
            day = math.floor(t / 24.0) + (1 if t % 24.0 > pick else 0)
            cand = day * 24.0 + pick
            wd = self.workday[site.id]
            if 0 <= day < len(wd) and not wd[day]:
                t = cand + 1.0
                continue
            block = [self.blocked_until(DisruptionKind.SITE, (site.id,), cand),
                     self.blocked_until(DisruptionKind.PROVINCE, (site.province, dest), cand)]
            ends = [b for b in block if b is not None]
            if ends:
                t = max(ends)
                continue
            return cand
        return t

    # ----- customers ------------------------------------------------------------------------------
    def cancel_sweep(self, on_cancel: Callable[[World, NDArray[np.int64]], None]) -> SimGen:
        """Every 6 h: orders placed, not started and past due + patience are lost."""
        patience = self.params.customers.cancel_after_late_days * 24.0
        while True:
            yield self.env.timeout(6.0)
            now = self.env.now
            placed = self.orders.placed_h <= now
            late = placed & ~self.started & ~self.lost & (self.orders.due_h + patience < now)
            idx = np.flatnonzero(late)
            if idx.size:
                self.lost[idx] = True
                self.lost_h[idx] = now
                drop = set(idx.tolist())
                for pool in self.pools.values():
                    pool.queue = [ln for ln in pool.queue if ln.order not in drop]
                on_cancel(self, idx)
