"""Compile a scenario into arrays: feasible candidates with their per-unit cost, capacity use, lateness.

Applies hard constraints (provinces, certifications, site whitelist, max lateness) and the
disruptions in force. Shared by the solver, the greedy baseline and disruption handling; the
feasibility checker (`check.py`) deliberately does NOT use it. Must not import store/services/cli.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fabgrid.domain.allocation import (
    Assignment,
    Costs,
    Disruption,
    DisruptionKind,
    Line,
    Plan,
    Scenario,
    ScenarioSite,
    Status,
    Unassigned,
)
from fabgrid.network import geo

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Compiled:
    """A scenario as arrays. `C` feasible candidates, `L` lines, `R` (site, resource) capacities.

    Candidate arrays are `(C,)`; `use_*` is a COO list of (candidate, resource, hours per unit).
    """

    scenario: Scenario
    line_ids: list[str]
    qty: IntArray                      # (L,)
    min_lot: IntArray                  # (L,) effective: == qty when the line may not be split
    whole: BoolArray                   # (L,) True: the line goes to one site
    cand_line: IntArray                # (C,)
    cand_site: IntArray                # (C,) index into site_ids
    unit_cost: FloatArray              # (C,) objective per unit (price+ship+late+co2+risk)
    price: FloatArray
    risk_cny: FloatArray               # (C,) the site's record as a cost per unit (Candidate.risk_cny_per_unit)
    ship_cny: FloatArray
    late_cny: FloatArray
    co2_kg: FloatArray
    delivery_day: IntArray             # (C,) lead + shipping days
    late_days: IntArray                # (C,)
    site_ids: list[str]
    res_keys: list[tuple[str, str]]    # (R,) (site id, resource)
    res_cap: FloatArray                # (R,) hours over the horizon, disruptions applied
    use_cand: IntArray
    use_res: IntArray
    use_h: FloatArray
    unassigned_cost: FloatArray        # (L,) per unit
    allow_partial: bool
    excluded: dict[int, list[str]] = field(default_factory=dict)

    @property
    def n_lines(self) -> int:
        """Number of lines L."""
        return len(self.line_ids)

    @property
    def n_cands(self) -> int:
        """Number of feasible candidates C."""
        return len(self.cand_line)


def _due_day(sc: Scenario, line: Line) -> int | None:
    if line.due_date is None or sc.start_date is None:
        return None
    return (line.due_date - sc.start_date).days


def _dest_province(line: Line, lg: geo.Logistics) -> str | None:
    if line.destination_province:
        return line.destination_province
    if line.destination:
        c = lg.cities.get(line.destination.casefold())
        return c.province if c else None
    return None


def _dest_coords(line: Line, lg: geo.Logistics) -> tuple[float, float] | None:
    if line.destination_lat is not None and line.destination_lon is not None:
        return line.destination_lat, line.destination_lon
    if line.destination:
        c = lg.city(line.destination)
        return c.lat, c.lon
    return None


def site_capacity_h(sc: Scenario, site: ScenarioSite) -> dict[str, float]:
    """Free hours over the horizon per resource at a site, with disruptions applied."""
    per_day: dict[str, float] = dict(site.capacity_h_per_day)
    for m in site.machines:
        per_day[m.resource] = per_day.get(m.resource, 0.0) + m.hours_per_day
    cap = {r: h * sc.horizon_days for r, h in per_day.items()}
    for d in sc.disruptions:
        days = min(d.days, sc.horizon_days)
        if d.kind is DisruptionKind.SITE and d.site == site.id:
            cap = {r: max(0.0, h - per_day[r] * days) for r, h in cap.items()}
        elif d.kind is DisruptionKind.MACHINE:
            for m in site.machines:
                if m.id == d.machine:
                    cap[m.resource] = max(0.0, cap[m.resource] - m.hours_per_day * days)
    return cap


def _delays(d: Disruption, line: Line, site: ScenarioSite, dest_prov: str | None) -> tuple[int, int]:
    """(extra lead days, extra shipping days) of one disruption for one candidate."""
    if d.kind is DisruptionKind.SITE and d.site == site.id:
        return d.days, 0
    if d.kind is DisruptionKind.MATERIAL and d.material == line.material and d.site in (None, site.id):
        return d.days, 0
    if d.kind is DisruptionKind.PROVINCE and d.province is not None:
        p = d.province.casefold()
        if site.province.casefold() == p or (dest_prov or "").casefold() == p:
            return 0, d.days
    if d.kind is DisruptionKind.ROUTE and d.route is not None and line.destination:
        ends = {d.route[0].casefold(), d.route[1].casefold()}
        if {site.city.casefold(), line.destination.casefold()} == ends:
            return 0, d.days
    return 0, 0


def _check_hard(line: Line, site: ScenarioSite, cap: dict[str, float], hours: dict[str, float]) -> str | None:
    con = line.constraints
    if con.provinces and site.province.casefold() not in {p.casefold() for p in con.provinces}:
        return f"{site.id}: province {site.province or '?'} not in {list(con.provinces)}"
    missing = set(con.certifications) - set(site.certifications)
    if missing:
        return f"{site.id}: lacks certification {sorted(missing)}"
    if con.sites and site.id not in con.sites:
        return f"{site.id}: not among the allowed sites"
    for r, h in hours.items():
        if h > 0 and cap.get(r, 0.0) <= 0:
            return f"{site.id}: no free capacity for {r!r}"
    return None


def compile_scenario(sc: Scenario, logistics: geo.Logistics | None = None) -> Compiled:
    """Arrays of the scenario's feasible candidates, capacities and costs (disruptions applied); `logistics`
    gives the freight figures (the shipped ones when None)."""
    lg = logistics or geo.load_logistics()
    sites = {s.id: s for s in sc.sites}
    site_ids = [s.id for s in sc.sites]
    site_idx = {s: i for i, s in enumerate(site_ids)}
    caps = {s.id: site_capacity_h(sc, s) for s in sc.sites}
    res_index: dict[tuple[str, str], int] = {}
    res_cap: list[float] = []
    for s in sc.sites:
        for r, h in caps[s.id].items():
            res_index[(s.id, r)] = len(res_cap)
            res_cap.append(h)

    rows: dict[str, list[float]] = defaultdict(list)
    cl: list[int] = []
    cs: list[int] = []
    need_geo: list[int] = []
    geo_src: list[tuple[float, float, float, float, float]] = []
    uc: list[int] = []
    ur: list[int] = []
    uh: list[float] = []
    excluded: dict[int, list[str]] = {}
    due_arr: list[float] = []
    extra_ship: list[int] = []
    qty = np.array([ln.quantity for ln in sc.lines], dtype=np.int64)
    whole = np.array([(not ln.split) or ln.min_lot >= ln.quantity for ln in sc.lines], dtype=bool)
    min_lot = np.where(whole, qty, np.array([ln.min_lot for ln in sc.lines], dtype=np.int64))
    for li, line in enumerate(sc.lines):
        dest_prov = _dest_province(line, lg)
        dest = _dest_coords(line, lg)
        due = _due_day(sc, line)
        pen = (line.late_penalty_cny_per_unit_day if line.late_penalty_cny_per_unit_day is not None
               else sc.late_penalty_cny_per_unit_day)
        reasons: list[str] = []
        for cand in line.candidates:
            site = sites[cand.site]
            why = _check_hard(line, site, caps[site.id], cand.hours_per_unit)
            if why:
                reasons.append(why)
                continue
            lead, ship_extra = cand.lead_days, 0
            for d in sc.disruptions:
                a, b = _delays(d, line, site, dest_prov)
                lead += a
                ship_extra += b
            ci = len(cl)
            cl.append(li)
            cs.append(site_idx[site.id])
            rows["price"].append(cand.unit_price_cny)
            rows["prod_co2"].append(cand.production_co2_kg_per_unit)
            rows["risk"].append(cand.risk_cny_per_unit)
            rows["lead"].append(lead)
            rows["pen"].append(pen)
            due_arr.append(np.nan if due is None else due)
            extra_ship.append(ship_extra)
            given = (cand.shipping_cny_per_unit, cand.shipping_days, cand.shipping_co2_kg_per_unit)
            rows["ship_cny"].append(given[0] if given[0] is not None else np.nan)
            rows["ship_days"].append(given[1] if given[1] is not None else np.nan)
            rows["ship_co2"].append(given[2] if given[2] is not None else np.nan)
            if None in given and dest is not None and site.lat is not None and site.lon is not None:
                need_geo.append(ci)
                geo_src.append((site.lat, site.lon, dest[0], dest[1], line.unit_mass_kg))
            for r, h in cand.hours_per_unit.items():
                if h > 0:
                    uc.append(ci)
                    ur.append(res_index[(site.id, r)])
                    uh.append(h)
        if reasons and len(reasons) == len(line.candidates):
            excluded[li] = reasons
        elif not line.candidates:
            excluded[li] = ["no candidate offers"]

    n = len(cl)
    arr = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()} if n else {
        k: np.zeros(0) for k in ("price", "prod_co2", "risk", "lead", "pen", "ship_cny", "ship_days", "ship_co2")}
    if need_geo:
        g = np.asarray(geo_src, dtype=np.float64)
        cost, days, co2 = geo.shipping_between(g[:, 0], g[:, 1], g[:, 2], g[:, 3], g[:, 4], lg)
        idx = np.asarray(need_geo, dtype=np.int64)
        for key, val in (("ship_cny", cost), ("ship_days", days), ("ship_co2", co2)):
            col = arr[key]
            col[idx] = np.where(np.isnan(col[idx]), val, col[idx])
    for key in ("ship_cny", "ship_days", "ship_co2"):
        arr[key] = np.nan_to_num(arr[key], nan=0.0)
    delivery = (arr["lead"] + arr["ship_days"] + np.asarray(extra_ship, dtype=np.float64)).astype(np.int64)
    due_np = np.asarray(due_arr, dtype=np.float64)
    late = np.where(np.isnan(due_np), 0.0, np.maximum(0.0, delivery - np.nan_to_num(due_np))).astype(np.int64)
    late_cny = late * arr["pen"]
    co2 = arr["prod_co2"] + arr["ship_co2"]
    unit_cost = arr["price"] + arr["ship_cny"] + late_cny + sc.co2_cny_per_kg * co2 + arr["risk"]
    cand_line = np.asarray(cl, dtype=np.int64)

    # hard lateness limit drops candidates after costing
    keep = np.ones(n, dtype=bool)
    for ci in range(n):
        lim = sc.lines[cl[ci]].constraints.max_late_days
        if lim is not None and late[ci] > lim:
            keep[ci] = False
    if not keep.all():
        for li in set(cand_line[~keep].tolist()) - set(cand_line[keep].tolist()):
            excluded.setdefault(li, []).append(f"every offer is later than max_late_days="
                                               f"{sc.lines[li].constraints.max_late_days}")
    penalty = sc.unassigned_penalty_cny_per_unit
    if penalty is None:
        penalty = 10.0 * float(unit_cost.max(initial=0.0)) + 1000.0
    cm = Compiled(
        scenario=sc, line_ids=[ln.id for ln in sc.lines], qty=qty, min_lot=min_lot, whole=whole,
        cand_line=cand_line, cand_site=np.asarray(cs, dtype=np.int64), unit_cost=unit_cost,
        price=arr["price"], risk_cny=arr["risk"], ship_cny=arr["ship_cny"], late_cny=late_cny, co2_kg=co2,
        delivery_day=delivery, late_days=late, site_ids=site_ids, res_keys=list(res_index),
        res_cap=np.asarray(res_cap, dtype=np.float64), use_cand=np.asarray(uc, dtype=np.int64),
        use_res=np.asarray(ur, dtype=np.int64), use_h=np.asarray(uh, dtype=np.float64),
        unassigned_cost=np.full(len(sc.lines), penalty), allow_partial=sc.allow_partial,
        excluded=excluded)
    return restrict(cm, keep) if not keep.all() else cm


def restrict(cm: Compiled, keep: BoolArray) -> Compiled:
    """The same compiled scenario with only the candidates where `keep` is True."""
    new_idx = np.cumsum(keep) - 1
    use_keep = keep[cm.use_cand]
    return Compiled(
        scenario=cm.scenario, line_ids=cm.line_ids, qty=cm.qty, min_lot=cm.min_lot, whole=cm.whole,
        cand_line=cm.cand_line[keep], cand_site=cm.cand_site[keep], unit_cost=cm.unit_cost[keep],
        price=cm.price[keep], risk_cny=cm.risk_cny[keep], ship_cny=cm.ship_cny[keep], late_cny=cm.late_cny[keep],
        co2_kg=cm.co2_kg[keep], delivery_day=cm.delivery_day[keep], late_days=cm.late_days[keep],
        site_ids=cm.site_ids, res_keys=cm.res_keys, res_cap=cm.res_cap,
        use_cand=new_idx[cm.use_cand[use_keep]], use_res=cm.use_res[use_keep], use_h=cm.use_h[use_keep],
        unassigned_cost=cm.unassigned_cost, allow_partial=cm.allow_partial, excluded=dict(cm.excluded))


def subset_lines(cm: Compiled, lines: IntArray, res_cap: FloatArray) -> tuple[Compiled, IntArray]:
    """The sub-problem of `lines` (indices) with capacities `res_cap`; also its candidates' indices in cm."""
    line_map = np.full(cm.n_lines, -1, dtype=np.int64)
    line_map[lines] = np.arange(len(lines))
    keep = line_map[cm.cand_line] >= 0
    sub = restrict(cm, keep)
    sub.cand_line = line_map[sub.cand_line]
    sub.line_ids = [cm.line_ids[i] for i in lines]
    sub.qty, sub.min_lot, sub.whole = cm.qty[lines], cm.min_lot[lines], cm.whole[lines]
    sub.unassigned_cost = cm.unassigned_cost[lines]
    sub.res_cap = np.maximum(res_cap, 0.0)
    sub.excluded = {int(line_map[k]): v for k, v in cm.excluded.items() if line_map[k] >= 0}
    return sub, np.flatnonzero(keep)


def capacity_used(cm: Compiled, x: FloatArray) -> FloatArray:
    """Hours used per (site, resource) by candidate quantities `x` (C,)."""
    used = np.zeros(len(cm.res_cap))
    np.add.at(used, cm.use_res, cm.use_h * x[cm.use_cand])
    return used


def unassigned_reason(cm: Compiled, li: int) -> str:
    """Why a line (index) could not be (fully) placed."""
    if li in cm.excluded:
        return "no feasible offer: " + "; ".join(cm.excluded[li][:4])
    return "not enough free capacity at the sites allowed for this line"


def make_plan(cm: Compiled, x: FloatArray, u: FloatArray, *, status: Status, bound: float | None,
              solver: str, time_s: float, components: int = 0, greedy_objective: float | None = None,
              messages: tuple[str, ...] = ()) -> Plan:
    """A Plan from candidate quantities `x` (C,) and unplaced quantities `u` (L,)."""
    xi = np.rint(x).astype(np.int64)
    ui = np.rint(u).astype(np.int64)
    pos = np.flatnonzero(xi > 0)
    order = pos[np.lexsort((cm.cand_site[pos], cm.cand_line[pos]))]
    assignments = tuple(
        Assignment(line=cm.line_ids[cm.cand_line[c]], site=cm.site_ids[cm.cand_site[c]], quantity=int(xi[c]),
                   delivery_day=int(cm.delivery_day[c]), late_days=int(cm.late_days[c]),
                   unit_cost_cny=round(float(cm.unit_cost[c]), 6))
        for c in order)
    unassigned = tuple(Unassigned(line=cm.line_ids[li], quantity=int(ui[li]), reason=unassigned_reason(cm, int(li)))
                       for li in np.flatnonzero(ui > 0))
    co2_cny = cm.scenario.co2_cny_per_kg * cm.co2_kg
    costs = Costs(
        production_cny=float(xi @ cm.price), shipping_cny=float(xi @ cm.ship_cny),
        lateness_cny=float(xi @ cm.late_cny), co2_cny=float(xi @ co2_cny), risk_cny=float(xi @ cm.risk_cny),
        unassigned_cny=float(ui @ cm.unassigned_cost), co2_kg=float(xi @ cm.co2_kg))
    objective: float | None = float(xi @ cm.unit_cost + ui @ cm.unassigned_cost)
    if status == "infeasible":
        objective, bound = None, None
    gap = None
    if objective is not None and bound is not None:
        gap = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    return Plan(status=status, objective=objective, bound=bound, gap=gap, assignments=assignments,
                unassigned=unassigned, costs=costs, solver=solver, time_s=round(time_s, 3),
                components=components, greedy_objective=greedy_objective, messages=messages)
