"""Generate allocation scenarios from a network: sites' free capacity, order lines with candidate offers.

Prices follow the catalog (material price, machine depreciation, power x electricity tariff, labour);
shipping follows `geo`. Seeded and deterministic. When more sites are asked for than the network
has, synthetic sites clone shipped ones into cities of logistics.yaml. Must not import store/cli.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np

from fabgrid.domain.allocation import Scenario
from fabgrid.domain.catalog import Network, Site
from fabgrid.errors import InputError
from fabgrid.network import geo


def _pick_sites(network: Network, n_sites: int, rng: np.random.Generator,
                lg: geo.Logistics) -> list[tuple[str, Site, str, str, float, float]]:
    """(id, template site, city, province, lat, lon) for n_sites sites."""
    shipped = [network.sites[k] for k in sorted(network.sites)]
    out = [(s.id, s, s.city, s.province, s.lat, s.lon) for s in shipped[:n_sites]]
    cities = sorted(lg.cities.values(), key=lambda c: c.name)
    hunan = [c for c in cities if c.province == "Hunan"]
    k = 0
    while len(out) < n_sites:
        tpl = shipped[k % len(shipped)]
        c = hunan[rng.integers(len(hunan))] if hunan and rng.random() < 0.5 else cities[rng.integers(len(cities))]
        lat = c.lat + float(rng.uniform(-0.08, 0.08))
        lon = c.lon + float(rng.uniform(-0.08, 0.08))
        out.append((f"gen{len(out):04d}-{c.name.lower().replace(chr(39), '')}", tpl, c.name, c.province, lat, lon))
        k += 1
    return out


def generate_scenario(network: Network, *, n_sites: int, n_lines: int, seed: int = 0,
                      start_date: date = date(2026, 3, 2), horizon_days: int = 10, load: float = 0.75,
                      max_candidates: int = 16, labour_h_per_machine_h: float = 0.2) -> Scenario:
    """A scenario of `n_lines` lines over `n_sites` sites of `network`, seeded.

    `load` is demand machine-hours / free machine-hours per process (at average offer hours);
    each line gets the `max_candidates` cheapest capable sites (material stocked, a machine of the
    process that runs it) that meet its constraints.
    """
    if n_sites < 1 or n_lines < 1:
        raise InputError("need at least 1 site and 1 line", code="scenario.size")
    if not network.sites:
        raise InputError("the network has no sites", code="scenario.network")
    if not 0 < load <= 2:
        raise InputError(f"load must be in (0, 2], got {load}", code="scenario.load")
    rng = np.random.default_rng(seed)
    lg = geo.load_logistics()
    cat = network.catalog
    picked = _pick_sites(network, n_sites, rng, lg)

    # sites: machines (free hours per day), machine-hour rate per process, materials they can make
    sites_out: list[dict[str, Any]] = []
    rate: dict[tuple[int, str], float] = {}
    power_kw: dict[tuple[int, str], float] = {}
    cap_day: dict[tuple[int, str], float] = defaultdict(float)
    can_make: dict[str, list[int]] = defaultdict(list)
    for si, (sid, tpl, city, prov, lat, lon) in enumerate(picked):
        hours = min(24.0, tpl.calendar.hours_per_workday())
        machines = []
        per_proc: dict[str, list[float]] = defaultdict(list)
        runs: set[str] = set()
        for m in tpl.machines:
            mm = network.machine_model(m)
            free = float(rng.uniform(0.2, 0.8))
            p = mm.process.value
            machines.append({"id": f"{sid}/{m.id}", "resource": p, "hours_per_day": round(hours * free, 3)})
            cap_day[(si, p)] += hours * free
            per_proc[p].append(mm.price_cny / mm.lifetime_h + mm.power.producing_w / 1000.0
                               * tpl.electricity_cny_per_kwh + labour_h_per_machine_h * tpl.labour_cny_per_h)
            power_kw[(si, p)] = mm.power.producing_w / 1000.0
            runs.update(mm.materials)
        for p, rates in per_proc.items():
            rate[(si, p)] = float(np.mean(rates)) * float(rng.uniform(1.1, 1.5))   # the site's margin
        for mat_id in tpl.materials:
            if mat_id in cat.materials and mat_id in runs and (si, cat.materials[mat_id].process.value) in rate:
                can_make[mat_id].append(si)
        sites_out.append({"id": sid, "city": city, "province": prov, "lat": round(lat, 5),
                          "lon": round(lon, 5), "certifications": list(tpl.certifications),
                          "machines": machines})
    mats = sorted(can_make)
    if not mats:
        raise InputError("no site of the network can make any catalog material", code="scenario.network")
    site_lat = np.array([p[4] for p in picked])
    site_lon = np.array([p[5] for p in picked])
    provinces = np.array([p[3] for p in picked])
    grid = np.array([p[1].grid_co2_kg_per_kwh for p in picked])
    certs_of = [set(p[1].certifications) for p in picked]
    cities = sorted(lg.cities.values(), key=lambda c: c.name)
    speed = rng.uniform(0.8, 1.25, size=(n_sites, len(cat.processes) + 1))
    proc_col = {p.value: i for i, p in enumerate(sorted(cat.processes))}

    raw: list[dict[str, Any]] = []
    demand_h: dict[str, float] = defaultdict(float)
    for _ in range(n_lines):
        mat = cat.materials[mats[rng.integers(len(mats))]]
        p = mat.process.value
        qty = int(np.clip(rng.lognormal(math.log(12), 1.0), 1, 400))
        vol_cm3 = float(np.clip(rng.lognormal(math.log(40), 0.8), 2, 3000))
        mass = vol_cm3 * mat.density_g_cm3 / 1000.0
        dest = cities[rng.integers(len(cities))]
        capable = np.asarray(can_make[mat.id], dtype=np.int64)
        want = rng.random()
        cert_pick = rng.random()
        sel = capable
        base_h = vol_cm3 * float(rng.uniform(0.8, 1.2))
        h = base_h / speed[sel, proc_col[p]]
        demand_h[p] += qty * float(np.mean(h)) if len(h) else 0.0
        raw.append({"mat": mat, "p": p, "qty": qty, "mass": mass, "dest": dest, "want": want,
                    "cert_pick": cert_pick, "sel": sel, "h": h})
    # scale machine-hours per process so that demand/capacity = load
    scale = {}
    for p, d in demand_h.items():
        cap = sum(v for (s, q), v in cap_day.items() if q == p) * horizon_days
        scale[p] = load * cap / d if d > 0 else 1.0
    # customer constraints (Hunan only, a certification) while the constrained demand stays within
    # 40 % of the free capacity of the sites that meet them, so that generated scenarios stay feasible
    room: dict[tuple[str, str], float] = defaultdict(float)
    for (si, p), v in cap_day.items():
        room[(p, "Hunan")] += 0.4 * v * horizon_days if provinces[si] == "Hunan" else 0.0
        for c in certs_of[si]:
            room[(p, c)] += 0.4 * v * horizon_days
    reserve = {k: 0.95 * v * horizon_days for k, v in cap_day.items()}
    for r in raw:
        p, sel, qty = r["p"], r["sel"], r["qty"]
        h = r["h"] * scale[p]
        cons: dict[str, Any] = {}
        key: tuple[str, str] | None = None
        if r["want"] < 0.10:
            key, mask = (p, "Hunan"), provinces[sel] == "Hunan"
            cons = {"provinces": ["Hunan"]}
        elif r["want"] < 0.15:
            held = sorted({c for s in sel for c in certs_of[s]})
            if held:
                cert = held[int(r["cert_pick"] * len(held))]
                key, mask = (p, cert), np.array([cert in certs_of[s] for s in sel], dtype=bool)
                cons = {"certifications": [cert]}
        if key is not None:
            need = qty * float(np.mean(h[mask])) if mask.sum() >= 2 else np.inf
            if need <= room[key]:
                room[key] -= need
                sel, h = sel[mask], h[mask]
            else:
                cons = {}
        r["cons"] = cons
        site_cap = 0.5 * horizon_days * np.array([cap_day[(s, p)] for s in sel])
        # a reservation at one offer keeps the scenario feasible: the site with most room left
        left = np.array([reserve[(s, p)] for s in sel]) if len(sel) else np.zeros(0)
        if len(sel):
            fit_q = np.floor(np.minimum(left, site_cap) / h)
            if not np.any(fit_q >= qty):
                qty = r["qty"] = max(1, int(fit_q.max()))           # cap an order no site could take
            best = int(np.argmax(np.where(fit_q >= qty, left, -np.inf)))
            reserve[(int(sel[best]), p)] -= qty * h[best]
        cost_est = h * np.array([rate[(s, p)] for s in sel])
        ship, days, co2 = geo.shipping_between(site_lat[sel], site_lon[sel], r["dest"].lat, r["dest"].lon,
                                               r["mass"], lg)
        # offers a site could finish inside the horizon: the cheapest half, then a random spread
        fits = np.flatnonzero(qty * h <= site_cap)
        ranked = fits[np.argsort((cost_est + ship)[fits], kind="stable")]
        half = max_candidates // 2
        keep = np.concatenate([ranked[:half], rng.permutation(ranked[half:])[: max_candidates - half]])
        if len(sel) and best not in keep:
            keep[-1] = best
        r.update(sites=sel[keep], h=h[keep] / scale[p], ship=ship[keep], days=days[keep], co2=co2[keep])
    lines_out = []
    for i, r in enumerate(raw):
        mat, p, qty = r["mat"], r["p"], r["qty"]
        cands = []
        for s, h0, ship, days, co2 in zip(r["sites"], r["h"], r["ship"], r["days"], r["co2"], strict=True):
            h = float(h0 * scale[p])
            price = r["mass"] * mat.price_cny_per_kg * 1.1 + h * rate[(int(s), p)]
            lead = 1 + int(rng.integers(0, 3)) + math.ceil(qty * h / max(cap_day[(int(s), p)], 1e-9))
            prod_co2 = h * power_kw[(int(s), p)] * grid[s] + r["mass"] * mat.embodied_co2_kg_per_kg
            cands.append({"site": sites_out[int(s)]["id"], "unit_price_cny": round(price, 2),
                          "hours_per_unit": {p: round(h, 5)}, "lead_days": lead,
                          "shipping_cny_per_unit": round(float(ship), 3), "shipping_days": int(days),
                          "shipping_co2_kg_per_unit": round(float(co2), 5),
                          "production_co2_kg_per_unit": round(float(prod_co2), 5)})
        line: dict[str, Any] = {
            "id": f"L{i:05d}", "part": f"part-{i:05d}", "material": mat.id, "quantity": qty,
            "unit_mass_kg": round(r["mass"], 5),
            "due_date": (start_date + timedelta(days=int(rng.integers(4, 15)))).isoformat(),
            "destination": r["dest"].name, "destination_province": r["dest"].province,
            "constraints": r["cons"], "candidates": cands}
        v = rng.random()
        if v < 0.1:
            line["split"] = False
        elif v < 0.4:
            line["min_lot"] = max(1, qty // 4)
        lines_out.append(line)
    return Scenario.model_validate({
        "name": f"generated sites={n_sites} lines={n_lines} seed={seed}", "start_date": start_date.isoformat(),
        "horizon_days": horizon_days, "sites": sites_out, "lines": lines_out})
