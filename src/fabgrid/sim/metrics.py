"""Metrics of a simulated run, from its telemetry events through the ISO 22400 KPI engine, and
confidence intervals over seeds (t-distribution), per metric and per paired relative change.

Depends on numpy, scipy, costing.price, telemetry and sim.model; never on store, services, web.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from fabgrid.costing.price import machine_rate_cny_per_h
from fabgrid.costing.rates import Rates
from fabgrid.sim.model import World
from fabgrid.telemetry.events import EventColumns
from fabgrid.telemetry.kpi import KpiTable, compute
from fabgrid.telemetry.state import Periods

#: Metrics where a lower value is better (for the report's colouring).
LOWER_IS_BETTER = {"cost_per_part_cny", "energy_kwh_per_value_added_cny", "co2_kg_per_value_added_cny",
                   "material_waste_kg", "material_waste_share", "lead_time_days_mean", "lead_time_days_p90",
                   "orders_lost", "orders_late", "cost_total_cny", "energy_kwh"}


def columns(world: World) -> EventColumns:
    """The run's machine states, power and part counts as telemetry event columns (epoch seconds)."""
    r, t0 = world.rec, world.start.timestamp()
    sm = np.asarray(r.state_m, dtype=np.int64)
    st = t0 + np.asarray(r.state_t, dtype=np.float64) * 3600.0
    return EventColumns(
        machines=tuple(world.machine_names), sites=tuple(world.machine_site),
        state_m=sm, state_ts=st, state_code=np.asarray(r.state_c, dtype=np.int64),
        count_m=np.asarray(r.count_m, dtype=np.int64), count_ts=t0 + np.asarray(r.count_t1) * 3600.0,
        good=np.asarray(r.good, dtype=np.float64), scrap=np.asarray(r.scrap, dtype=np.float64),
        rework=np.zeros(len(r.good)), planned_s=np.asarray(r.planned_s, dtype=np.float64),
        power_m=sm, power_ts=st, power_w=np.asarray(r.power_w, dtype=np.float64),
        count_start=t0 + np.asarray(r.count_t0) * 3600.0, value_cny=np.asarray(r.value_cny, dtype=np.float64))


def kpi_table(world: World) -> KpiTable:
    """KPIs per machine, site and network, per day and over the run."""
    t0 = world.start.timestamp()
    edges = t0 + np.arange(world.days + 1, dtype=np.float64) * 86400.0
    return compute(columns(world), Periods(edges=edges, labels=tuple(f"day {d}" for d in range(world.days))))


def _staffed_h(world: World, site: str) -> float:
    w = np.clip(world.windows[site], 0.0, world.end_h)
    return float((w[:, 1] - w[:, 0]).sum())


def run_metrics(world: World, rates: Rates) -> dict[str, Any]:
    """The metrics of one run (scalars) and its daily series (lists, key ``daily``)."""
    kt = kpi_table(world)
    net = {k: float(v[0, -1]) for k, v in kt.elements["network"].items()}
    kp = {k: float(v[0, -1]) for k, v in kt.kpis["network"].items()}
    mach = kt.elements["machine"]
    busy_h = (mach["apt_s"][:, -1] + mach["asut_s"][:, -1]) / 3600.0
    rate = np.array([machine_rate_cny_per_h(m, rates) for m in world.machine_model])
    tariff = {s.id: s.electricity_cny_per_kwh for s in world.sites}
    grid = {s.id: s.grid_co2_kg_per_kwh for s in world.sites}
    energy_cny = float(sum(mach["energy_kwh"][i, -1] * tariff[s] for i, s in enumerate(world.machine_site)))
    machine_cny = float(busy_h @ rate)
    labour_cny = sum(world.operators[s.id].capacity * _staffed_h(world, s.id) * s.labour_cny_per_h for s in world.sites)
    r = world.rec
    cost = machine_cny + energy_cny + labour_cny + r.material_cny + r.shipping_cny
    good = net["gq"]
    va = net["value_added_cny"]
    co2 = float(kt.co2_kg(grid)["network"][0, -1]) + r.material_co2_kg + r.shipping_co2_kg
    o = world.orders
    n = len(o)
    delivered = ~np.isnan(world.delivered_h) & (world.delivered_h <= world.end_h) & ~world.lost
    lost = world.lost
    due_in = o.due_h <= world.end_h
    on_time = delivered & (world.delivered_h <= o.due_h)
    lead = (world.delivered_h[delivered] - o.placed_h[delivered]) / 24.0
    total_time = sum(net[k] for k in ("apt_s", "asut_s", "adet_s", "idle_s", "pdot_s", "offline_s"))
    nan = float("nan")
    out: dict[str, Any] = {
        "orders": n, "orders_delivered": int(delivered.sum()), "orders_lost": int(lost.sum()),
        "orders_in_progress": int(n - delivered.sum() - lost.sum()),
        "orders_late": int((due_in & ~on_time).sum()),
        "on_time_rate": float(on_time[due_in].sum() / due_in.sum()) if due_in.any() else nan,
        "parts_good": good, "parts_scrap": net["sq"],
        "machine_hours_busy": float(busy_h.sum()),
        "parts_per_machine_hour": good / max(busy_h.sum(), 1e-9),
        "value_added_cny": va, "value_added_per_machine_hour_cny": va / max(busy_h.sum(), 1e-9),
        "cost_total_cny": cost, "cost_per_part_cny": cost / good if good else nan,
        "cost_machine_cny": machine_cny, "cost_energy_cny": energy_cny, "cost_labour_cny": labour_cny,
        "cost_material_cny": r.material_cny, "cost_shipping_cny": r.shipping_cny,
        "energy_kwh": net["energy_kwh"], "energy_kwh_per_value_added_cny": net["energy_kwh"] / va if va else nan,
        "co2_kg": co2, "co2_kg_per_value_added_cny": co2 / va if va else nan,
        "material_waste_kg": (r.material_g - r.part_g_good) / 1000.0,
        "material_waste_share": (r.material_g - r.part_g_good) / r.material_g if r.material_g else nan,
        "utilisation": (net["apt_s"] + net["asut_s"]) / total_time if total_time else nan,
        "oee": kp["oee"], "availability": kp["availability"], "effectiveness": kp["effectiveness"],
        "quality_ratio": kp["quality_ratio"],
        "lead_time_days_mean": float(lead.mean()) if lead.size else nan,
        "lead_time_days_p90": float(np.percentile(lead, 90)) if lead.size else nan,
        "builds": r.builds, "failures": r.failures, "units_rerouted": r.reroutes,
        "allocation_batches": r.allocations, "allocations_unproven": r.allocations_unproven,
        "allocation_s": r.allocation_s,
        "sequencing_plans": r.sequencing_plans, "sequencing_s": r.sequencing_s,
        "builds_interrupted": r.interrupted_builds, "units_interrupted": r.interrupted_units,
    }
    day = np.floor(world.delivered_h[delivered] / 24.0).astype(np.int64)
    lost_day = np.floor(world.lost_h[lost] / 24.0).astype(np.int64)
    days = world.days
    out["daily"] = {
        "parts_good": kt.elements["network"]["gq"][0, :-1].tolist(),
        "oee": np.nan_to_num(kt.kpis["network"]["oee"][0, :-1]).tolist(),
        "utilisation": ((kt.elements["network"]["aupt_s"][0, :-1]) / (len(world.machine_names) * 86400.0)).tolist(),
        "orders_delivered": np.bincount(day[day < days], minlength=days).tolist(),
        "orders_lost": np.bincount(lost_day[lost_day < days], minlength=days).tolist(),
        "orders_placed": np.bincount(np.floor(o.placed_h / 24.0).astype(np.int64), minlength=days)[:days].tolist(),
    }
    return out


def interval(values: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean and two-sided t-interval of `values` (half width 0 for one value)."""
    a = np.asarray([v for v in values if v == v], dtype=np.float64)
    if a.size == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "half_width": math.nan, "n": 0}
    mean = float(a.mean())
    half = float(stats.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return {"mean": mean, "low": mean - half, "high": mean + half, "half_width": half, "n": int(a.size)}


def relative_change(base: float, new: float) -> float:
    """(new - base) / |base| (NaN when base is 0)."""
    return (new - base) / abs(base) if base else math.nan
