"""Builds of the fabgrid policy: formed by the packing-density rule, sequenced by the scheduling engine.

When a machine of a pool asks for work, the pool's most urgent startable lines (remakes first, then by
due date; at most ``sequencing.max_lines``) are packed into candidate builds: lines of one material
(CNC: one part) up to the packing density measured by the nesting engine, the material groups taking
turns, at most ``sequencing.max_builds`` builds. `scheduling.pool.sequence_builds` schedules them on the
pool's machines (busy machines down until their builds end) with the configured dispatch rules, the
builds' due dates being their orders' due dates less the transit time to the customer and their
follow-up the finishing time; the machine takes the build the engine's schedule starts first. The
order is kept per pool and taken from in turn until the pool's queue changes (new lines, remakes, a
cached build no longer there or blocked by a shortage), then re-planned.
Never imports store, services, api, web or cli.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from fabgrid.domain.catalog import ProcessFamily
from fabgrid.scheduling.pool import QueuedBuild, sequence_builds
from fabgrid.sim.model import Line, Pool, World

Build = list[tuple[Line, int]]
"""A candidate build: queued lines and how many of their units it takes."""

#: Weight of a remake line against a first-time line (its order is started and already waits for it).
REMAKE_WEIGHT = 2


@dataclass
class _Plan:
    version: int
    expires_h: float
    builds: list[Build] = field(default_factory=list)


def startable(world: World, ln: Line) -> bool:
    """A build of the line's material may start now (no shortage)."""
    return world.short_until(ln.material, world.env.now) is None


def _fill(world: World, pool: Pool, group: list[Line]) -> Iterator[Build]:
    """Builds of one group, in order, each filled to the packing density (lines split where needed)."""
    room, cur = 1.0, Build()
    for ln in group:
        f = world.facts(pool, ln).fraction
        left = ln.qty
        while left > 0:
            fit = left if f * left <= room + 1e-9 else int(room // f)
            if fit <= 0 and cur:
                yield cur
                room, cur = 1.0, Build()
                continue
            fit = max(fit, 1)
            if cur and cur[-1][0] is ln:
                cur[-1] = (ln, cur[-1][1] + fit)
            else:
                cur.append((ln, fit))
            left -= fit
            room -= f * fit
    if cur:
        yield cur


def candidate_builds(world: World, pool: Pool, max_lines: int, max_builds: int) -> list[Build]:
    """Candidate builds from the pool's most urgent startable lines (see the module's description)."""
    urgent = sorted((ln for ln in pool.queue if startable(world, ln)), key=lambda ln: (not ln.remake, ln.due_h))
    cnc = pool.model.process is ProcessFamily.CNC
    groups: dict[tuple[str, int], list[Line]] = {}
    for ln in urgent[:max_lines]:
        groups.setdefault((ln.material, ln.part if cnc else -1), []).append(ln)
    gens = [_fill(world, pool, g) for g in groups.values()]
    out: list[Build] = []
    while gens and len(out) < max_builds:
        for g in list(gens):
            b = next(g, None)
            if b is None:
                gens.remove(g)
                continue
            out.append(b)
            if len(out) >= max_builds:
                break
    return out


def queued_build(world: World, pool: Pool, build: Build) -> QueuedBuild:
    """A candidate build in the scheduling engine's terms, minutes from now."""
    now, lib = world.env.now, world.lib
    fx = [world.facts(pool, ln) for ln, _ in build]
    print_h = max(f.fixed_h for f in fx) + sum(q * f.marginal_h for (_, q), f in zip(build, fx, strict=True))
    finish_h = sum(q * lib.parts[ln.part].finishing_h for ln, q in build)
    si = world.site_index[pool.site.id]
    due_h = min(ln.due_h - 24.0 * float(world.transit_days[si, int(world.orders.city[ln.order])]) for ln, _ in build)
    weight = sum(REMAKE_WEIGHT if ln.remake else 1 for ln, _ in build)
    return QueuedBuild(print_min=max(1, math.ceil(print_h * 60.0)), due=math.floor((due_h - now) * 60.0),
                       weight=weight, after_min=math.ceil(finish_h * 60.0), family=build[0][0].material)


def take(pool: Pool, build: Build) -> list[Line]:
    """Remove the build's units from the pool's queue (splitting lines) and return its lines."""
    out: list[Line] = []
    gone: set[int] = set()
    for ln, q in build:
        if q >= ln.qty:
            gone.add(id(ln))
            out.append(ln)
        else:
            ln.qty -= q
            out.append(Line(ln.order, ln.part, q, ln.due_h, ln.material, ln.remake))
    pool.queue = [ln for ln in pool.queue if id(ln) not in gone]
    return out


class Sequencer:
    """Per pool: the engine's build order, re-planned when the queue changes; `build` is the form_build
    callback of the machines of the fabgrid policy."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.cfg = world.params.fabgrid.sequencing
        self.plans: dict[str, _Plan] = {}

    def _valid(self, pool: Pool, build: Build) -> bool:
        queued = {id(ln) for ln in pool.queue}
        return all(id(ln) in queued and ln.qty >= q and startable(self.world, ln) for ln, q in build)

    def plan(self, pool: Pool) -> list[Build]:
        """Candidate builds of the pool in the order of the scheduling engine's schedule."""
        w = self.world
        t0 = time.perf_counter()
        cands = candidate_builds(w, pool, self.cfg.max_lines, self.cfg.max_builds)
        if not cands:
            return []
        now = w.env.now
        free = [math.ceil(max(0.0, pool.busy_until_h.get(m, 0.0) - now) * 60.0) for m in pool.machines]
        seq = sequence_builds([queued_build(w, pool, b) for b in cands], free, rules=self.cfg.rules)
        w.rec.sequencing_plans += 1
        w.rec.sequencing_s += time.perf_counter() - t0
        return [cands[i] for i in seq.order]

    def build(self, world: World, pool: Pool) -> list[Line]:
        """The next build of `pool`: the first of the engine's order (re-planned when stale); [] when none."""
        p = self.plans.get(pool.key)
        now = world.env.now
        if (p is None or p.version != pool.version or now >= p.expires_h or not p.builds
                or not self._valid(pool, p.builds[0])):
            retry = world.retry_at(pool)
            p = _Plan(pool.version, math.inf if retry is None else retry, self.plan(pool))
            self.plans[pool.key] = p
        if not p.builds:
            return []
        return take(pool, p.builds.pop(0))
