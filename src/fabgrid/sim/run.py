"""Run the simulation: one policy on one seed, or both policies over several seeds with intervals; the
seeds of a sweep are spawned from one base seed (numpy SeedSequence).

Common random numbers: demand, failures and quality draws come from RNG streams seeded from the
seed and a purpose (and a machine index), so both policies see the same orders and machines.
Never imports store, services, api, web or cli.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fabgrid.costing.rates import Rates, load_rates
from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import SimDisruption, SimParams
from fabgrid.errors import InputError
from fabgrid.sim.demand import Orders, generate_orders
from fabgrid.sim.library import Library
from fabgrid.sim.metrics import interval, relative_change, run_metrics
from fabgrid.sim.model import World
from fabgrid.sim.policies import POLICIES, Fabgrid, Traditional

#: Headline metrics (contract of `fabgrid simulate --json`) first, then the others.
HEADLINE = ("parts_per_machine_hour", "cost_per_part_cny", "energy_kwh_per_value_added_cny", "on_time_rate",
            "orders_lost")


@dataclass
class Setup:
    """What a run needs besides policy and seed."""

    network: Network
    params: SimParams
    library: Library
    days: int
    disruptions: tuple[SimDisruption, ...] = ()
    sites: tuple[str, ...] | None = None
    rate_scale: float = 1.0
    rates: Rates | None = None


def build_world(setup: Setup, policy: str, seed: int, orders: Orders | None = None) -> World:
    """A world with the policy's processes registered, not yet run."""
    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}", hint="use traditional, fabgrid or both", code="sim.policy")
    if setup.days < 1 or setup.days > 366:
        raise InputError(f"days must be 1..366, got {setup.days}", code="sim.days")
    orders = orders if orders is not None else generate_orders(setup.params, setup.library, setup.days, seed,
                                                               setup.rate_scale)
    world = World(setup.network, setup.params, setup.library, orders, setup.disruptions, setup.days, seed,
                  sites=setup.sites)
    (Traditional(world) if policy == "traditional" else Fabgrid(world)).start()
    return world


def run_policy(setup: Setup, policy: str, seed: int) -> tuple[World, dict[str, Any]]:
    """Run one policy for one seed; returns the world and its metrics (with ``wall_s``)."""
    t0 = time.perf_counter()
    world = build_world(setup, policy, seed)
    world.env.run(until=world.end_h)
    m = run_metrics(world, setup.rates or load_rates())
    m["wall_s"] = time.perf_counter() - t0
    return world, m


RunHook = Callable[[str, int, World, dict[str, Any]], None]
"""Called with (policy, seed, world, metrics) after each run of `compare` (e.g. to export its events)."""

#: Metrics that are wall-clock times: the only ones that differ between two runs of one (policy, seed).
TIMED = ("wall_s", "allocation_s", "sequencing_s")


def spawn_seeds(base: int, n: int) -> list[int]:
    """The seeds of runs 0..n-1 from `base`: ``numpy.random.SeedSequence(base).spawn(n)``, each child as a
    32-bit integer (its first state word). Run i's seed depends on (base, i) only, so a sweep gives the same
    result whatever its order or the number of processes that run it."""
    if base < 0:
        raise InputError(f"--seed must be >= 0, got {base}", code="sim.seed")
    return [int(c.generate_state(1, np.uint32)[0]) for c in np.random.SeedSequence(base).spawn(n)]


def summarize(days: int, base: int, seeds: Sequence[int], runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The comparison document of per-seed metrics `runs` (policy -> one dict per seed, in seed order):
    means and 95 % t-intervals, and the paired relative change fabgrid vs traditional per seed."""
    policies = list(runs)
    n_seeds = len(seeds)
    doc: dict[str, Any] = {"days": days, "seed": base, "seeds": list(seeds), "policies": {}, "change": {},
                           "runs": runs}
    keys = [k for k, v in runs[policies[0]][0].items() if isinstance(v, int | float)]
    for p in policies:
        rs = runs[p]
        if n_seeds == 1:
            doc["policies"][p] = {k: rs[0][k] for k in keys}
        else:
            doc["policies"][p] = {k: interval([r[k] for r in rs]) for k in keys}
    if "traditional" in runs and "fabgrid" in runs:
        for k in keys:
            ch = [relative_change(a[k], b[k]) for a, b in zip(runs["traditional"], runs["fabgrid"], strict=True)]
            doc["change"][k] = ch[0] if n_seeds == 1 else interval(ch)
    return doc


def compare(setup: Setup, policies: Sequence[str], seed: int, n_seeds: int = 1,
            on_run: RunHook | None = None) -> dict[str, Any]:
    """Both (or one) policies over the `n_seeds` seeds spawned from `seed` (`spawn_seeds`), one after the
    other in this process: the document of `summarize` (`sim.sweep` runs the same on several processes)."""
    seeds = spawn_seeds(seed, n_seeds)
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    for s in seeds:
        for p in policies:
            world, m = run_policy(setup, p, s)
            if on_run is not None:
                on_run(p, s, world, m)
            runs[p].append(m)
    return summarize(setup.days, seed, seeds, runs)
