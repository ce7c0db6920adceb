"""Run the simulation: one policy on one seed, or both policies over several seeds with intervals.

Common random numbers: demand, failures and quality draws come from RNG streams seeded from the
seed and a purpose (and a machine index), so both policies see the same orders and machines.
Never imports store, services, api, web or cli.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


def compare(setup: Setup, policies: Sequence[str], seed: int, n_seeds: int = 1,
            on_run: RunHook | None = None) -> dict[str, Any]:
    """Both (or one) policies over seeds seed..seed+n-1: per-seed metrics, means and 95 % t-intervals,
    and the paired relative change fabgrid vs traditional per seed."""
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    for i in range(n_seeds):
        for p in policies:
            world, m = run_policy(setup, p, seed + i)
            if on_run is not None:
                on_run(p, seed + i, world, m)
            runs[p].append(m)
    doc: dict[str, Any] = {"days": setup.days, "seeds": list(range(seed, seed + n_seeds)), "policies": {},
                           "change": {}, "runs": runs}
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
