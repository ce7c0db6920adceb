"""Independent feasibility checker of allocation plans: constraints, capacities, lots, objective.

Written from the scenario's documented rules with plain Python, sharing no code with the solver,
its model compiler or the greedy baseline (only the domain records and the geo tariffs), so that
tests can check every plan against it. Must not import model, solve, greedy, store or cli.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from fabgrid.domain.allocation import DisruptionKind, Line, Plan, Scenario, ScenarioSite
from fabgrid.network import geo

_TOL_H = 1e-6


@dataclass
class CheckReport:
    """Violations found (empty when the plan is feasible) and the objective recomputed from scratch."""

    violations: list[str] = field(default_factory=list)
    objective: float = 0.0
    placed_units: int = 0
    unplaced_units: int = 0

    @property
    def ok(self) -> bool:
        """True when the plan violates nothing."""
        return not self.violations


def _capacity(sc: Scenario, site: ScenarioSite) -> dict[str, float]:
    per_day: dict[str, float] = defaultdict(float)
    for r, h in site.capacity_h_per_day.items():
        per_day[r] += h
    for m in site.machines:
        per_day[m.resource] += m.hours_per_day
    cap = {r: h * sc.horizon_days for r, h in per_day.items()}
    for d in sc.disruptions:
        lost_days = min(d.days, sc.horizon_days)
        if d.kind is DisruptionKind.SITE and d.site == site.id:
            for r in cap:
                cap[r] = max(0.0, cap[r] - per_day[r] * lost_days)
        if d.kind is DisruptionKind.MACHINE:
            for m in site.machines:
                if m.id == d.machine:
                    cap[m.resource] = max(0.0, cap[m.resource] - m.hours_per_day * lost_days)
    return cap


def _unit_cost(sc: Scenario, line: Line, site: ScenarioSite, ci: int) -> tuple[float, int]:
    """(objective per unit, late days) of candidate `ci` of `line`, disruptions applied."""
    cand = line.candidates[ci]
    lg = geo.load_logistics()
    ship_cny, ship_days, ship_co2 = cand.shipping_cny_per_unit, cand.shipping_days, cand.shipping_co2_kg_per_unit
    if None in (ship_cny, ship_days, ship_co2):
        dest: tuple[float, float] | None = None
        if line.destination_lat is not None and line.destination_lon is not None:
            dest = (line.destination_lat, line.destination_lon)
        elif line.destination:
            c = lg.city(line.destination)
            dest = (c.lat, c.lon)
        if dest is not None and site.lat is not None and site.lon is not None:
            # haversine written out again on purpose (independent of geo.great_circle_km)
            p1, p2 = math.radians(site.lat), math.radians(dest[0])
            dl = math.radians(dest[1] - site.lon)
            a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
            road = 2 * geo.EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a))) * lg.circuity_factor
            band = min(int(sum(road > m for m in lg.band_max_km)), len(lg.band_max_km) - 1)
            rate = float(lg.band_cny_per_kg[band]) * line.unit_mass_kg
            calc = (max(rate, lg.min_cny_per_unit) if line.unit_mass_kg > 0 else 0.0,
                    int(lg.band_days[band]), lg.co2_kg_per_t_km * line.unit_mass_kg / 1000 * road)
        else:
            calc = (0.0, 0, 0.0)
        ship_cny = calc[0] if ship_cny is None else ship_cny
        ship_days = calc[1] if ship_days is None else ship_days
        ship_co2 = calc[2] if ship_co2 is None else ship_co2
    assert ship_cny is not None and ship_days is not None and ship_co2 is not None
    lead = cand.lead_days
    dest_prov = line.destination_province
    if dest_prov is None and line.destination:
        known = lg.cities.get(line.destination.casefold())
        dest_prov = known.province if known else None
    for d in sc.disruptions:
        if (d.kind is DisruptionKind.SITE and d.site == site.id) or (
                d.kind is DisruptionKind.MATERIAL and d.material == line.material and d.site in (None, site.id)):
            lead += d.days
        province_hit = d.kind is DisruptionKind.PROVINCE and d.province is not None and \
            d.province.casefold() in (site.province.casefold(), (dest_prov or "").casefold())
        route_hit = d.kind is DisruptionKind.ROUTE and d.route is not None and line.destination is not None \
            and sorted([site.city.casefold(), line.destination.casefold()]) == sorted(x.casefold() for x in d.route)
        if province_hit or route_hit:
            ship_days += d.days
    late = 0
    if line.due_date is not None and sc.start_date is not None:
        late = max(0, lead + ship_days - (line.due_date - sc.start_date).days)
    pen = line.late_penalty_cny_per_unit_day
    pen = sc.late_penalty_cny_per_unit_day if pen is None else pen
    co2 = cand.production_co2_kg_per_unit + ship_co2
    return cand.unit_price_cny + ship_cny + late * pen + sc.co2_cny_per_kg * co2 + cand.risk_cny_per_unit, late


def check_plan(sc: Scenario, plan: Plan, *, rel_tol: float = 1e-6) -> CheckReport:
    """Check `plan` against `sc`: every rule of the scenario, and the reported objective."""
    rep = CheckReport()
    v = rep.violations
    sites = {s.id: s for s in sc.sites}
    lines = {ln.id: ln for ln in sc.lines}
    if plan.status == "infeasible":
        if plan.assignments:
            v.append("an infeasible plan lists assignments")
        return rep
    caps = {s.id: _capacity(sc, s) for s in sc.sites}
    used: dict[tuple[str, str], float] = defaultdict(float)
    placed: dict[str, int] = defaultdict(int)
    pieces: dict[tuple[str, str], int] = defaultdict(int)
    for a in plan.assignments:
        if a.line not in lines:
            v.append(f"assignment to unknown line {a.line!r}")
            continue
        pieces[(a.line, a.site)] += a.quantity
    for (lid, sid), qty in pieces.items():
        line = lines[lid]
        idx = [i for i, c in enumerate(line.candidates) if c.site == sid]
        if not idx or sid not in sites:
            v.append(f"line {lid}: site {sid} made no offer")
            continue
        site = sites[sid]
        ci = idx[0]
        con = line.constraints
        if con.provinces and site.province.casefold() not in [p.casefold() for p in con.provinces]:
            v.append(f"line {lid}: site {sid} in {site.province}, allowed {list(con.provinces)}")
        if not set(con.certifications) <= set(site.certifications):
            v.append(f"line {lid}: site {sid} lacks {sorted(set(con.certifications) - set(site.certifications))}")
        if con.sites and sid not in con.sites:
            v.append(f"line {lid}: site {sid} not in the allowed sites")
        unit, late = _unit_cost(sc, line, site, ci)
        if con.max_late_days is not None and late > con.max_late_days:
            v.append(f"line {lid}: {late} days late at {sid}, limit {con.max_late_days}")
        if qty < line.min_lot and qty < line.quantity:
            v.append(f"line {lid}: {qty} at {sid} is below the minimum lot {line.min_lot}")
        rep.objective += qty * unit
        placed[lid] += qty
        for r, h in line.candidates[ci].hours_per_unit.items():
            used[(sid, r)] += h * qty
    for (sid, r), h in used.items():
        cap = caps.get(sid, {}).get(r, 0.0)
        if h > cap + _TOL_H * max(1.0, cap):
            v.append(f"site {sid}: {r} uses {h:.3f} h of {cap:.3f} h")
    unplaced = {u.line: u.quantity for u in plan.unassigned}
    for lid, line in lines.items():
        sites_used = [s for (ll, s) in pieces if ll == lid]
        if not line.split and len(sites_used) > 1:
            v.append(f"line {lid}: may not be split, made at {sorted(sites_used)}")
        got = placed.get(lid, 0) + unplaced.get(lid, 0)
        if got != line.quantity:
            v.append(f"line {lid}: placed {placed.get(lid, 0)} + unplaced {unplaced.get(lid, 0)} "
                     f"!= quantity {line.quantity}")
    rep.placed_units = sum(placed.values())
    rep.unplaced_units = sum(unplaced.values())
    if rep.unplaced_units and not sc.allow_partial:
        v.append(f"{rep.unplaced_units} units unplaced but the scenario does not allow partial plans")
    if rep.unplaced_units:
        if sc.unassigned_penalty_cny_per_unit is not None:
            rep.objective += rep.unplaced_units * sc.unassigned_penalty_cny_per_unit
        elif plan.costs.unassigned_cny:
            rep.objective += plan.costs.unassigned_cny      # default penalty is the engine's choice
    rep.objective += plan.costs.churn_cny        # a re-plan's charge for moved units (see disrupt)
    if plan.objective is not None and abs(plan.objective - rep.objective) > rel_tol * max(1.0, rep.objective):
        v.append(f"reported objective {plan.objective:.6f} != recomputed {rep.objective:.6f}")
    if plan.bound is not None and plan.objective is not None and plan.bound > plan.objective + rel_tol * max(
            1.0, abs(plan.objective)):
        v.append(f"bound {plan.bound} above objective {plan.objective}")
    return rep
