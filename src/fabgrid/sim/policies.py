"""Operating policies on the simulated network, on the same demand and disruptions.

traditional: each customer orders from the nearest capable supplier, FIFO per machine, one order per
build, no rerouting. fabgrid: the platform's engines: quotes over the network (the library's offers),
allocation in periodic batches with `network.solve.allocate`, builds filled to the packing density
measured by the nesting engine and sequenced per machine pool by the scheduling engine (sim.sequence,
`scheduling.pool`), rerouting with `network.disrupt.disrupt`.
Never imports store, services, api, web or cli.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.allocation import Assignment, Candidate, Disruption, Plan, Scenario, ScenarioSite
from fabgrid.domain.allocation import DisruptionKind as AllocKind
from fabgrid.domain.allocation import Line as AllocLine
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.domain.sim import DisruptionKind, SimDisruption
from fabgrid.sim.config import material_ids
from fabgrid.sim.model import Line, Pool, SimGen, World
from fabgrid.sim.sequence import Sequencer, startable

POLICIES = ("traditional", "fabgrid")


# ----- shared -------------------------------------------------------------------------------------
def _arrivals(world: World, on_order: Callable[[World, int], None]) -> SimGen:
    env, placed = world.env, world.orders.placed_h
    for o in range(len(world.orders)):
        if placed[o] > env.now:
            yield env.timeout(float(placed[o]) - env.now)
        on_order(world, o)


# ----- traditional --------------------------------------------------------------------------------
def _take(pool: Pool, world: World, idx: int, room: float) -> Line | None:
    """Take up to `room` build share of queue line `idx` (splitting it); None when not a unit fits."""
    ln = pool.queue[idx]
    f = world.facts(pool, ln)
    fit = ln.qty if f.fraction * ln.qty <= room + 1e-9 else int(room // f.fraction)
    if fit <= 0:
        return None
    if fit >= ln.qty:
        pool.queue.pop(idx)
        return ln
    ln.qty -= fit
    return Line(ln.order, ln.part, fit, ln.due_h, ln.material, ln.remake)


def traditional_build(world: World, pool: Pool) -> list[Line]:
    """FIFO, one order per build (a large order fills several builds)."""
    for i, ln in enumerate(pool.queue):
        if startable(world, ln):
            got = _take(pool, world, i, 1.0)
            return [got] if got is not None else []
    return []


class Traditional:
    """Nearest capable supplier per customer city; no platform."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.nearest: dict[tuple[int, int], str] = {}

    def route(self, world: World, o: int) -> None:
        part, city = int(world.orders.part[o]), int(world.orders.city[o])
        pf = world.lib.parts[part]
        q = pf.bucket(int(world.orders.quantity[o]))
        site = self.nearest.get((part, city))
        if site is None:
            capable = [s for s in pf.offers[q] if s in world.site_index]
            if not capable:
                world.lost[o], world.lost_h[o] = True, world.env.now
                return
            site = min(capable, key=lambda s: (world.road_km[world.site_index[s], city], s))
            self.nearest[(part, city)] = site
        offer = pf.offers[q].get(site) or next(iter(pf.offers[min(pf.offers)].values()))
        pool = world.pools[f"{site}/{offer.model}"]
        world.enqueue(pool, Line(o, part, int(world.orders.quantity[o]), float(world.orders.due_h[o]), pf.material))

    def start(self) -> None:
        w = self.world
        for pool in w.pools.values():
            for m in pool.machines:
                w.machine(pool, m, traditional_build)
        w.env.process(_arrivals(w, self.route))
        w.env.process(w.cancel_sweep(lambda _w, _idx: None))


# ----- fabgrid ------------------------------------------------------------------------------------
class Fabgrid:
    """The platform: batch allocation with the real allocator, packed builds sequenced by the scheduling
    engine, rerouting."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sequencer = Sequencer(world)
        self.pending: dict[int, int] = {}   # order -> units not yet placed at a site
        self._cands: dict[tuple[int, int, int, str | None], tuple[Candidate, ...]] = {}
        self._wait_days: dict[str, int] = {}
        cfg = world.params
        rel = cfg.reliability
        self.avail = {p.value: max(0.2, 1.0 - rel.mttr_h.get(p.value, 4) / (rel.mtbf_h.get(p.value, 500)
                                   + rel.mttr_h.get(p.value, 4)) - cfg.maintenance.duration_h.get(p.value, 1)
                                   / cfg.maintenance.interval_h) for p in ProcessFamily}

    def on_order(self, w: World, o: int) -> None:
        self.pending[o] = self.pending.get(o, 0) + int(w.orders.quantity[o])

    def _pool_h_per_day(self, pool: Pool) -> float:
        """Machine hours a pool delivers per day: 24 h where the process runs round the clock (long batched
        powder-bed builds; its capability record), else the staffed hours of the site's calendar (an
        operator clears and starts each job), times the availability."""
        cal = pool.site.calendar
        staffed = cal.hours_per_workday() * len(cal.workdays) / 7.0
        cap = self.world.net.catalog.processes[pool.model.process].capability
        hours = 24.0 if cap.round_the_clock else min(24.0, staffed)
        return len(pool.machines) * hours * self.avail[pool.model.process.value]

    def _sites(self, now: float) -> tuple[ScenarioSite, ...]:
        w, days = self.world, self.world.params.fabgrid.horizon_days
        caps: dict[str, dict[str, float]] = {s.id: {} for s in w.sites}
        for pool in w.pools.values():
            # one resource per machine model: an offer names the model its site would use
            free = self._pool_h_per_day(pool) - pool.queued_h(w.lib) / days
            caps[pool.site.id][pool.model.id] = max(free, 0.0)
        return tuple(ScenarioSite(id=s.id, city=s.city, province=s.province, lat=s.lat, lon=s.lon,
                                  capacity_h_per_day=caps[s.id]) for s in w.sites)

    def _candidates(self, part: int, bucket: int, ci: int, must: str | None) -> tuple[Candidate, ...]:
        """The cheapest offers (price plus a distance term) of a part for a city, cached."""
        key = (part, bucket, ci, must)
        got = self._cands.get(key)
        if got is not None:
            return got
        w = self.world
        pf = w.lib.parts[part]
        ranked = sorted((of for s, of in pf.offers[bucket].items() if s in w.site_index),
                        key=lambda of: (of.unit_price_cny + 0.02 * w.road_km[w.site_index[of.site], ci], of.site))
        keep = ranked[: w.params.fabgrid.candidates_per_line]
        if must is not None and all(of.site != must for of in keep):
            keep += [of for of in ranked if of.site == must]
        got = tuple(Candidate(site=of.site, unit_price_cny=of.unit_price_cny, lead_days=of.lead_days,
                              hours_per_unit={of.model: pf.models[of.model].ideal_unit_h}) for of in keep)
        self._cands[key] = got
        return got

    def _line(self, o: int, qty: int, must: str | None = None) -> AllocLine:
        w = self.world
        part = int(w.orders.part[o])
        pf = w.lib.parts[part]
        ci = int(w.orders.city[o])
        city = w.orders.cities[ci]
        cands = tuple(c if self._wait_days.get(c.site, 0) == 0 else
                      c.model_copy(update={"lead_days": c.lead_days + self._wait_days[c.site]})
                      for c in self._candidates(part, pf.bucket(int(w.orders.quantity[o])), ci, must))
        due = w.params.start_date + timedelta(days=int(w.orders.due_h[o] // 24))
        return AllocLine(id=str(o), part=pf.name, material=pf.material, quantity=qty,
                         unit_mass_kg=pf.part_g / 1000.0 * 1.2 + 0.05, due_date=due, destination=city.name,
                         destination_province=city.province, destination_lat=city.lat, destination_lon=city.lon,
                         candidates=cands)

    def _queue_wait(self) -> None:
        """Days of queued work per site (worst pool): added to the offers' lead days, as the quote engine's
        `queued_h` does, so the allocator sees where work already waits."""
        w = self.world
        wait: dict[str, int] = {}
        for pool in w.pools.values():
            d = int(pool.queued_h(w.lib) / max(self._pool_h_per_day(pool), 1e-6))
            wait[pool.site.id] = max(wait.get(pool.site.id, 0), d)
        self._wait_days = wait

    def _disruptions(self, now: float) -> tuple[Disruption, ...]:
        out = []
        for d in self.world.disruptions:
            if not d.start_h <= now < d.end_h:
                continue
            days = max(1, math.ceil((d.end_h - now) / 24.0))
            out.extend(self._as_alloc(d, days))
        return tuple(out)

    def _as_alloc(self, d: SimDisruption, days: int) -> list[Disruption]:
        if d.kind is DisruptionKind.SITE:
            return [Disruption(kind=AllocKind.SITE, days=days, site=d.target)]
        if d.kind is DisruptionKind.PROVINCE:
            return [Disruption(kind=AllocKind.PROVINCE, days=days, province=d.target)]
        mats = material_ids(self.world.net, d.target)
        return [Disruption(kind=AllocKind.MATERIAL, days=days, material=m) for m in mats]

    def _scenario(self, lines: list[AllocLine], now: float, disruptions: tuple[Disruption, ...]) -> Scenario:
        w = self.world
        day0 = w.params.start_date + timedelta(days=int(now // 24))
        return Scenario(name=f"batch@{now:.0f}h", start_date=day0, horizon_days=w.params.fabgrid.horizon_days,
                        allow_partial=True, sites=self._sites(now), lines=tuple(lines), disruptions=disruptions)

    def _place(self, plan: Plan, qty_of: dict[str, int]) -> None:
        """Enqueue the plan's assignments; what is left unplaced goes back to the pending orders."""
        from fabgrid.sim.model import Line as SimLine

        w = self.world
        placed: dict[str, int] = {}
        for a in plan.assignments:
            o = int(a.line)
            pf = w.lib.parts[int(w.orders.part[o])]
            offer = pf.offers[pf.bucket(int(w.orders.quantity[o]))][a.site]
            w.enqueue(w.pools[f"{a.site}/{offer.model}"],
                      SimLine(o, int(w.orders.part[o]), a.quantity, float(w.orders.due_h[o]), pf.material))
            placed[a.line] = placed.get(a.line, 0) + a.quantity
        for k, q in qty_of.items():
            left = q - placed.get(k, 0)
            if left > 0:
                self.pending[int(k)] = self.pending.get(int(k), 0) + left

    def batches(self) -> SimGen:
        """Every batch_h: allocate the pending orders with the real allocator."""
        from fabgrid.network.solve import allocate

        w = self.world
        while True:
            yield w.env.timeout(w.params.fabgrid.batch_h)
            qty = {str(o): q for o, q in self.pending.items() if not w.lost[o] and q > 0}
            self.pending = {}
            if not qty:
                continue
            self._queue_wait()
            lines = [self._line(int(k), q) for k, q in qty.items()]
            sc = self._scenario(lines, w.env.now, self._disruptions(w.env.now))
            t0 = _time.perf_counter()
            plan = allocate(sc, time_limit_s=w.params.fabgrid.allocation_time_limit_s)
            w.rec.allocation_s += _time.perf_counter() - t0
            w.rec.allocations += 1
            w.rec.allocations_unproven += int(plan.status != "optimal")
            self._place(plan, qty)

    def reroute(self, d: SimDisruption) -> SimGen:
        """At the start of a site closure: re-plan its queued lines with the real disruption handler."""
        from fabgrid.network.disrupt import disrupt

        w = self.world
        yield w.env.timeout(d.start_h)
        pools = [p for p in w.pools.values() if p.site.id == d.target]
        queued = [(p, ln) for p in pools for ln in p.queue if not ln.remake]
        if not queued:
            return
        qty: dict[str, int] = {}
        for _, ln in queued:
            qty[str(ln.order)] = qty.get(str(ln.order), 0) + ln.qty
        lines = [self._line(int(k), q, must=d.target) for k, q in qty.items()]
        sc = self._scenario(lines, w.env.now, ())
        plan = Plan(status="feasible", assignments=tuple(Assignment(line=k, site=d.target, quantity=q)
                                                         for k, q in qty.items()))
        days = max(1, math.ceil((d.end_h - w.env.now) / 24.0))
        report = disrupt(sc, plan, Disruption(kind=AllocKind.SITE, days=days, site=d.target),
                         time_limit_s=w.params.fabgrid.allocation_time_limit_s)
        moved = {m.line for m in report.moved}
        for p in pools:
            p.queue = [ln for ln in p.queue if ln.remake or str(ln.order) not in moved]
        keep = {k: q for k, q in qty.items() if k in moved}
        sub = [a for a in report.plan.assignments if a.line in moved]
        w.rec.reroutes += sum(q for q in keep.values())
        self._place(report.plan.model_copy(update={"assignments": tuple(sub)}), keep)

    def start(self) -> None:
        w = self.world
        for pool in w.pools.values():
            for m in pool.machines:
                w.machine(pool, m, self.sequencer.build)
        w.env.process(_arrivals(w, self.on_order))
        w.env.process(self.batches())
        for d in w.disruptions:
            if d.kind is DisruptionKind.SITE and d.target in w.site_index:
                w.env.process(self.reroute(d))
        w.env.process(w.cancel_sweep(self._drop))

    def _drop(self, world: World, idx: NDArray[np.int64]) -> None:
        lost = set(idx.tolist())
        self.pending = {o: q for o, q in self.pending.items() if o not in lost}
