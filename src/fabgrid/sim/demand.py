"""Demand generator: many small unique orders and fewer OEM batches, with daily and weekly patterns.

Vectorised numpy: every order of the horizon is drawn at once from its own RNG stream (common random
numbers: both policies see the same orders). Depends on numpy, domain and network.geo only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.sim import SimParams
from fabgrid.network.geo import City, load_logistics
from fabgrid.sim.library import Library


@dataclass(frozen=True)
class Orders:
    """All orders of a run as columns, sorted by placing time (hours from the start, local midnight)."""

    placed_h: NDArray[np.float64]
    due_h: NDArray[np.float64]
    part: NDArray[np.int64]
    quantity: NDArray[np.int64]
    city: NDArray[np.int64]
    oem: NDArray[np.bool_]
    cities: tuple[City, ...]

    def __len__(self) -> int:
        return int(self.placed_h.size)


def generate_orders(params: SimParams, library: Library, days: int, seed: int,
                    rate_scale: float = 1.0) -> Orders:
    """Orders placed over `days` days (hour 0 = local midnight of a Monday-aligned start date)."""
    d = params.demand
    rng = np.random.default_rng([seed, 1])
    hw = np.asarray(d.hourly_weights, dtype=np.float64)
    ww = np.asarray(d.weekday_weights, dtype=np.float64)
    hours = np.arange(days * 24)
    weekday = (params.start_date.weekday() + hours // 24) % 7
    rate = d.orders_per_day * rate_scale / 24.0 * hw[hours % 24] / hw.mean() * ww[weekday] / ww.mean()
    counts = rng.poisson(rate)
    placed = np.repeat(hours, counts) + rng.random(int(counts.sum()))
    placed.sort()
    n = placed.size
    oem = rng.random(n) >= d.small_share
    small_q = np.minimum(rng.geometric(1.0 / d.small_quantity.mean, size=n), d.small_quantity.max)
    oem_q = np.clip(np.rint(d.oem_quantity.median * np.exp(d.oem_quantity.sigma * rng.standard_normal(n))),
                    10, d.oem_quantity.max)
    qty = np.where(oem, oem_q, small_q).astype(np.int64)
    mats = sorted(m for m in d.material_weights if m in library.by_material)
    w = np.array([d.material_weights[m] for m in mats], dtype=np.float64)
    mat_idx = rng.choice(len(mats), size=n, p=w / w.sum())
    u = rng.random(n)
    part = np.empty(n, dtype=np.int64)
    for k, m in enumerate(mats):
        sel = mat_idx == k
        pool = np.asarray(library.by_material[m], dtype=np.int64)
        part[sel] = pool[np.minimum((u[sel] * pool.size).astype(np.int64), pool.size - 1)]
    cities = tuple(sorted(load_logistics().cities.values(), key=lambda c: c.name))
    cw = np.array([d.home_province_weight if c.province == d.home_province else 1.0 for c in cities])
    city = rng.choice(len(cities), size=n, p=cw / cw.sum())
    lo = np.where(oem, d.oem_due_days.min, d.small_due_days.min)
    hi = np.where(oem, d.oem_due_days.max, d.small_due_days.max)
    due_days = lo + rng.random(n) * (hi - lo + 1)
    due = np.ceil(placed / 24.0 + due_days) * 24.0 - 1e-6  # due at the end of the due day
    return Orders(placed_h=placed, due_h=due, part=part, quantity=qty, city=city.astype(np.int64),
                  oem=oem, cities=cities)
