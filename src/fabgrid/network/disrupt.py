"""Disruption handling: re-plan only the lines a disruption touches, keep the rest, report the churn.

A disruption (site closed, machine down, province or route logistics halted, material short) is
added to the scenario; lines whose offers or capacity it changes are re-optimised in the capacity
the other lines leave; the report says what moved, what became late and the alternatives.
Must not import store, services, api or cli.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from fabgrid.domain.allocation import (
    Alternative,
    Disruption,
    DisruptionKind,
    DisruptionReport,
    LateLine,
    Move,
    Plan,
    Scenario,
)
from fabgrid.errors import InputError, NotFoundError
from fabgrid.network import geo
from fabgrid.network.model import (
    Compiled,
    FloatArray,
    IntArray,
    capacity_used,
    compile_scenario,
    make_plan,
    subset_lines,
)
from fabgrid.network.solve import solve_compiled


def validate_disruption(sc: Scenario, d: Disruption) -> None:
    """NotFoundError when the disruption names a site, machine, province, city or material unknown here."""
    sites = {s.id for s in sc.sites}
    if d.site is not None and d.site not in sites:
        raise NotFoundError(f"disruption: unknown site {d.site!r}", hint="use a site id of the scenario")
    if d.kind is DisruptionKind.MACHINE and d.machine not in {m.id for s in sc.sites for m in s.machines}:
        raise NotFoundError(f"disruption: unknown machine {d.machine!r}",
                            hint="use a machine id listed under a site's machines in the scenario")
    if d.kind is DisruptionKind.PROVINCE:
        lg = geo.load_logistics()
        provs = {s.province.casefold() for s in sc.sites} | {
            (ln.destination_province or "").casefold() for ln in sc.lines} | {
            lg.cities[ln.destination.casefold()].province.casefold() for ln in sc.lines
            if ln.destination and ln.destination.casefold() in lg.cities}
        if (d.province or "").casefold() not in provs:
            raise NotFoundError(f"disruption: no site or destination in province {d.province!r}")
    if d.kind is DisruptionKind.ROUTE and d.route is not None:
        cities = {s.city.casefold() for s in sc.sites} | {(ln.destination or "").casefold() for ln in sc.lines}
        for c in d.route:
            if c.casefold() not in cities:
                raise NotFoundError(f"disruption: route end {c!r} is no site city or destination",
                                    hint="give --route FROM:TO with city names of the scenario")
    if d.kind is DisruptionKind.MATERIAL and d.material not in {ln.material for ln in sc.lines}:
        raise NotFoundError(f"disruption: no line uses material {d.material!r}")


def _plan_x(cm: Compiled, plan: Plan) -> tuple[FloatArray, dict[str, list[str]]]:
    """Candidate quantities of `plan` in `cm`; and per line the plan's sites that cm no longer offers."""
    key = {(cm.line_ids[cm.cand_line[c]], cm.site_ids[cm.cand_site[c]]): c for c in range(cm.n_cands)}
    x = np.zeros(cm.n_cands)
    lost: dict[str, list[str]] = defaultdict(list)
    for a in plan.assignments:
        c = key.get((a.line, a.site))
        if c is None:
            lost[a.line].append(a.site)
        else:
            x[c] += a.quantity
    return x, lost


def _pieces(plan: Plan) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in plan.assignments:
        out[a.line][a.site] += a.quantity
    return out


def _moves(before: Plan, after: Plan, lines: list[str]) -> list[Move]:
    """Moves per line: quantity that left a site paired with quantity that arrived elsewhere."""
    b, a = _pieces(before), _pieces(after)
    un_b = {u.line: u.quantity for u in before.unassigned}
    un_a = {u.line: u.quantity for u in after.unassigned}
    out: list[Move] = []
    for lid in lines:
        sites = sorted(set(b.get(lid, {})) | set(a.get(lid, {})))
        gone: list[tuple[str | None, int]] = [(s, b.get(lid, {}).get(s, 0) - a.get(lid, {}).get(s, 0))
                                              for s in sites]
        src: list[list[Any]] = [[s, q] for s, q in gone if q > 0]
        dst: list[list[Any]] = [[s, -q] for s, q in gone if q < 0]
        extra_unplaced = un_a.get(lid, 0) - un_b.get(lid, 0)
        if extra_unplaced > 0:
            dst.append([None, extra_unplaced])
        elif extra_unplaced < 0:
            src.append([None, -extra_unplaced])
        for d in dst:
            while d[1] > 0 and src:
                q = min(d[1], src[0][1])
                out.append(Move(line=lid, from_site=src[0][0], to_site=d[0], quantity=int(q)))
                d[1] -= q
                src[0][1] -= q
                if src[0][1] == 0:
                    src.pop(0)
    return out


def disrupt(sc: Scenario, plan: Plan, d: Disruption, *, time_limit_s: float = 10.0,
            churn_cny_per_unit: float = 1.0, alternatives: int = 3) -> DisruptionReport:
    """Apply disruption `d` to the plan of `sc`: re-plan the affected lines, keep the others.

    `churn_cny_per_unit` is charged per unit placed at a site where its line had nothing before, so
    that the re-plan prefers stability; the new plan's objective includes it (``costs.churn_cny``).
    A re-plan never fails: units that cannot be placed any more are listed as unplaced (the plan is
    partial, as if the scenario allowed it) and their lines appear in `late` with no delivery.
    """
    if plan.status == "infeasible":
        raise InputError("the plan is infeasible: there is nothing to disrupt",
                         hint="allocate the scenario first (allow_partial=true keeps a partial plan)",
                         code="disrupt.plan")
    validate_disruption(sc, d)
    known = {ln.id for ln in sc.lines}
    for a in plan.assignments:
        if a.line not in known:
            raise InputError(f"plan: assignment to line {a.line!r} which the scenario does not have",
                             hint="give the scenario the plan was made for", code="disrupt.plan")
    new_sc = sc.model_copy(update={"disruptions": (*sc.disruptions, d)})
    old_cm, new_cm = compile_scenario(sc), compile_scenario(new_sc)
    x_old, lost_old = _plan_x(old_cm, plan)
    x_new, lost = _plan_x(new_cm, plan)
    # affected: an offer in use changed (cost, delivery, gone) or uses a capacity that shrank
    okey = {(old_cm.cand_line[c], old_cm.site_ids[old_cm.cand_site[c]]): c for c in range(old_cm.n_cands)}
    affected = np.zeros(new_cm.n_lines, dtype=bool)
    for c in np.flatnonzero(x_new > 0):
        oc = okey.get((new_cm.cand_line[c], new_cm.site_ids[new_cm.cand_site[c]]))
        if oc is None or new_cm.unit_cost[c] != old_cm.unit_cost[oc] or \
                new_cm.delivery_day[c] != old_cm.delivery_day[oc]:
            affected[new_cm.cand_line[c]] = True
    shrunk = new_cm.res_cap < old_cm.res_cap - 1e-9
    users = new_cm.use_cand[shrunk[new_cm.use_res]]
    affected[new_cm.cand_line[users[x_new[users] > 0]]] = True
    index = {lid: i for i, lid in enumerate(new_cm.line_ids)}
    for lid in set(lost) - set(lost_old):
        affected[index[lid]] = True
    aff = np.flatnonzero(affected)
    fixed_x = np.where(affected[new_cm.cand_line], 0.0, x_new)
    sub, sub_cands = subset_lines(new_cm, aff, new_cm.res_cap - capacity_used(new_cm, fixed_x))
    before_sites = _pieces(plan)
    churn = np.array([0.0 if before_sites.get(sub.line_ids[sub.cand_line[c]], {}).get(
        sub.site_ids[sub.cand_site[c]], 0) > 0 else churn_cny_per_unit for c in range(sub.n_cands)])
    sub.unit_cost = sub.unit_cost + churn
    sub_plan = solve_compiled(sub, time_limit_s=time_limit_s, partial=True)
    # merge: fixed lines as they were, affected lines from the re-plan
    key = {(a.line, a.site): a.quantity for a in sub_plan.assignments}
    xs = np.array([float(key.get((sub.line_ids[sub.cand_line[c]], sub.site_ids[sub.cand_site[c]]), 0))
                   for c in range(sub.n_cands)])
    x_full = fixed_x.copy()
    x_full[sub_cands] = xs
    u_full = np.zeros(new_cm.n_lines)
    for un in plan.unassigned:
        u_full[index[un.line]] = un.quantity
    u_full[aff] = 0.0
    for un in sub_plan.unassigned:
        u_full[index[un.line]] = un.quantity
    churn_paid = float(xs @ churn)
    fixed_cost = float(fixed_x @ new_cm.unit_cost) + float(
        np.where(affected, 0.0, u_full) @ new_cm.unassigned_cost)
    bound = None if sub_plan.bound is None else fixed_cost + sub_plan.bound
    status = "feasible" if sub_plan.status in ("optimal", "feasible") else sub_plan.status
    new_plan = make_plan(new_cm, x_full, u_full, status=status, bound=None, solver=f"replan: {sub_plan.solver}",
                         time_s=sub_plan.time_s, components=sub_plan.components)
    objective = (new_plan.objective or 0.0) + churn_paid
    gap = None if bound is None else max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    new_plan = new_plan.model_copy(update={
        "objective": objective, "bound": bound, "gap": gap,
        "costs": new_plan.costs.model_copy(update={"churn_cny": churn_paid}),
        "messages": (f"re-planned {len(aff)} affected line(s); the other lines keep their sites; "
                     "bound and gap are those of the re-plan with the other lines fixed",)})
    moves = _moves(plan, new_plan, [new_cm.line_ids[i] for i in aff])
    churn_units = sum(m.quantity for m in moves if m.from_site is not None)
    total = sum(a.quantity for a in plan.assignments) or 1
    late = _late_lines(old_cm, x_old, new_cm, x_full, u_full, aff, alternatives)
    return DisruptionReport(
        disruption=d, affected_lines=tuple(new_cm.line_ids[i] for i in aff), moved=tuple(moves),
        churn_units=churn_units, churn_fraction=churn_units / total, late=tuple(late),
        objective_before=plan.objective, plan=new_plan)


def _late_lines(old_cm: Compiled, x_old: FloatArray, new_cm: Compiled, x_new: FloatArray, u_new: FloatArray,
                aff: IntArray, n_alt: int) -> list[LateLine]:
    """Affected lines that are later than before, with their best other offers."""
    def worst(cm: Compiled, x: FloatArray) -> IntArray:
        w = np.zeros(cm.n_lines, dtype=np.int64)
        pos = x > 0
        np.maximum.at(w, cm.cand_line[pos], cm.late_days[pos])
        return w

    before, after = worst(old_cm, x_old), worst(new_cm, x_new)
    residual = new_cm.res_cap - capacity_used(new_cm, x_new)
    out: list[LateLine] = []
    for li in aff:
        unplaced = u_new[li] > 0
        if not unplaced and after[li] <= before[li]:
            continue
        cands = np.flatnonzero((new_cm.cand_line == li) & (x_new <= 0))
        cands = cands[np.lexsort((new_cm.unit_cost[cands], new_cm.late_days[cands]))][:n_alt]
        alts = []
        for c in cands:
            r = new_cm.use_res[new_cm.use_cand == c]
            alts.append(Alternative(site=new_cm.site_ids[new_cm.cand_site[c]],
                                    delivery_day=int(new_cm.delivery_day[c]), late_days=int(new_cm.late_days[c]),
                                    unit_cost_cny=round(float(new_cm.unit_cost[c]), 4),
                                    free_h=round(float(residual[r].min()), 3) if len(r) else None))
        out.append(LateLine(line=new_cm.line_ids[li], late_days_before=int(before[li]),
                            late_days_after=None if unplaced else int(after[li]), alternatives=tuple(alts)))
    return out
