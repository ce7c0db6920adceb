"""Optimal allocation of order lines to sites: a MILP solved by HiGHS, decomposed by shared capacity.

Lines only interact through the (site, resource) capacities they share, so the problem splits into
connected components solved one by one (time shared by size), warm-started by the greedy baseline.
Reports status, objective, the proved bound and gap. Must not import store, services, api or cli.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from fabgrid.domain.allocation import Plan, Scenario, Status
from fabgrid.errors import InputError
from fabgrid.network import geo
from fabgrid.network.greedy import greedy_allocate, greedy_baseline
from fabgrid.network.model import (
    BoolArray,
    Compiled,
    FloatArray,
    IntArray,
    capacity_used,
    compile_scenario,
    make_plan,
)
from fabgrid.network.repair import eject_repair

#: Relative gap under which a plan is reported "optimal".
OPTIMAL_GAP = 1e-4


@dataclass
class _Result:
    x: FloatArray          # quantities per candidate of the component (C_c,)
    u: FloatArray          # unplaced per line of the component (L_c,)
    bound: float
    status: Status


@dataclass
class _Model:
    """The MILP of a set of lines: columns are candidates (then one slack per line when partial)."""

    lp: Any
    lines: IntArray
    cands: IntArray
    cl: IntArray           # local line of each candidate column
    scale: FloatArray      # x = scale * column value (q for whole lines, else 1)
    q: FloatArray
    whole: BoolArray
    partial: bool
    integrality: list[Any]
    semi: IntArray         # candidate columns with a minimum lot (each has a binary y column)

    def start(self, x: FloatArray, u: FloatArray) -> FloatArray:
        """Column values for candidate quantities `x` (C,) and unplaced `u` (L,) of the full problem."""
        cols = [x[self.cands] / self.scale]
        if self.partial:
            cols.append(u[self.lines] / np.where(self.whole, self.q, 1.0))
        cols.append((cols[0][self.semi] > 0.5).astype(np.float64))
        return np.concatenate(cols)

    def split(self, col: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(x of the candidates, u of the lines) from column values."""
        n = len(self.cands)
        x = np.rint(col[:n]) * self.scale
        u = self.q - np.bincount(self.cl, weights=x, minlength=len(self.lines))
        return x, np.maximum(u, 0.0)


def components(cm: Compiled) -> tuple[int, IntArray]:
    """Connected components of lines linked by shared capacities: (count, label per line)."""
    n_l, n_r = cm.n_lines, len(cm.res_cap)
    rows = cm.cand_line[cm.use_cand]
    cols = n_l + cm.use_res
    g = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_l + n_r, n_l + n_r))
    _, labels = csgraph.connected_components(g, directed=False)
    _, first = np.unique(labels[:n_l], return_inverse=True)
    return int(first.max(initial=-1) + 1), np.asarray(first, dtype=np.int64)


def _build(cm: Compiled, lines: IntArray, cands: IntArray, partial: bool, cap: FloatArray) -> _Model:
    import highspy

    n_lc, n_cc = len(lines), len(cands)
    line_pos = np.full(cm.n_lines, -1, dtype=np.int64)
    line_pos[lines] = np.arange(n_lc)
    cand_pos = np.full(cm.n_cands, -1, dtype=np.int64)
    cand_pos[cands] = np.arange(n_cc)
    cl = line_pos[cm.cand_line[cands]]
    q = cm.qty[lines].astype(np.float64)
    whole = cm.whole[lines]
    wc = whole[cl]                                   # candidate of a whole line: binary y, x = q*y
    scale = np.where(wc, q[cl], 1.0)
    use_mask = cand_pos[cm.use_cand] >= 0
    uc = cand_pos[cm.use_cand[use_mask]]
    ures, rpos = np.unique(cm.use_res[use_mask], return_inverse=True)
    uh = cm.use_h[use_mask] * scale[uc]
    n_r = len(ures)
    n_s = n_lc if partial else 0                     # slack columns
    lot = cm.min_lot[lines][cl].astype(np.float64)
    semi = np.flatnonzero((~wc) & (lot > 1))         # x in {0} U [lot, q]: binary y, lot*y <= x <= q*y
    n_y = len(semi)
    n_col = n_cc + n_s + n_y
    cost = np.concatenate([cm.unit_cost[cands] * scale,
                           (cm.unassigned_cost[lines] * np.where(whole, q, 1.0))[:n_s], np.zeros(n_y)])
    upper = np.concatenate([np.where(wc, 1.0, q[cl]), np.where(whole, 1.0, q)[:n_s], np.ones(n_y)])
    lower = np.zeros(n_col)
    kinds = np.full(n_col, int(highspy.HighsVarType.kInteger), dtype=np.int32)
    kinds[n_cc:n_cc + n_s][~whole[:n_s]] = int(highspy.HighsVarType.kContinuous)
    n_rows = n_lc + n_r + 2 * n_y
    ycol = n_cc + n_s + np.arange(n_y)
    lot_rows = n_lc + n_r + np.arange(2 * n_y)
    rows = np.concatenate([cl, np.arange(n_s), n_lc + rpos, lot_rows, lot_rows])
    colsi = np.concatenate([np.arange(n_cc), n_cc + np.arange(n_s), uc, semi, semi, ycol, ycol])
    vals = np.concatenate([np.ones(n_cc + n_s), uh, np.ones(2 * n_y), -q[cl][semi], -lot[semi]])
    a = sparse.csc_matrix((vals, (rows, colsi)), shape=(n_rows, n_col))
    rhs_d = np.where(whole, 1.0, q)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, n_rows
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_ = np.concatenate([rhs_d, np.full(n_r + n_y, -np.inf), np.zeros(n_y)])
    lp.row_upper_ = np.concatenate([rhs_d, np.maximum(cap[ures], 0.0), np.zeros(n_y), np.full(n_y, np.inf)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    integrality = [highspy.HighsVarType(int(t)) for t in kinds]
    return _Model(lp, lines, cands, cl, scale, q, whole, partial, integrality, semi)


def _run(m: _Model, time_s: float, gap: float, threads: int, *, relax: bool = False,
         start: FloatArray | None = None, abs_gap: float = 1e-6) -> tuple[str, FloatArray | None, float]:
    """Solve the model (or its LP relaxation): (status, column values or None, dual bound)."""
    import highspy

    lp = m.lp
    lp.integrality_ = [] if relax else m.integrality
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.05, float(time_s)))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("mip_abs_gap", max(1e-6, float(abs_gap)))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = start.astype(np.float64).tolist()
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    if ms == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None, np.inf
    if info.primal_solution_status != 2:
        return "unknown", None, -np.inf
    col = np.asarray(h.getSolution().col_value, dtype=np.float64)
    if relax:
        return ("optimal" if ms == highspy.HighsModelStatus.kOptimal else "unknown"), col, \
            float(info.objective_function_value)
    bound = float(info.mip_dual_bound)
    return ("optimal" if ms == highspy.HighsModelStatus.kOptimal else "feasible"), col, bound


def _round_lines(m: _Model, col: FloatArray, lot: FloatArray) -> BoolArray:
    """Lines (local) whose LP values are integral and respect the minimum lots."""
    n = len(m.cands)
    v = col[:n]
    frac = np.abs(v - np.rint(v)) > 1e-6
    x = np.rint(v) * m.scale
    bad_lot = (x > 0) & (x < lot - 1e-9)
    bad = np.bincount(m.cl, weights=(frac | bad_lot).astype(np.float64), minlength=len(m.lines)) > 0
    if m.partial:
        s = col[n:n + len(m.lines)]
        bad |= np.abs(s - np.rint(s)) > 1e-6
    return np.asarray(~bad, dtype=bool)


def _cands_of(cm: Compiled, lines: IntArray) -> IntArray:
    mask = np.zeros(cm.n_lines, dtype=bool)
    mask[lines] = True
    return np.flatnonzero(mask[cm.cand_line])


def _repair(cm: Compiled, x: FloatArray, u: FloatArray, rest: IntArray, t_end: float, abs_gap: float,
            threads: int, guide: FloatArray) -> None:
    """Place the lines `rest` into the capacity the other lines leave (in place on x, u).

    The LP solution `guide` (C,) is rounded greedily into the residual capacity; lines left without
    room make some by moving other lines' pieces (ejection); a small MIP over `rest` (slack allowed)
    then improves the cost from that start. Lines still unplaced free their neighbours for a
    second, larger round.
    """
    for _ in range(3):
        left = t_end - time.perf_counter()
        if left < 0.05 or not len(rest):
            return
        rc = _cands_of(cm, rest)
        x[rc] = 0.0
        gx, gu = greedy_allocate(cm, cm.res_cap - capacity_used(cm, x), rest, prefer=guide)
        x[rc], u[rest] = gx[rc], gu[rest]
        bad = rest[u[rest] > 0]
        if len(bad):
            eject_repair(cm, x, u, bad)
        start_x, start_u = x.copy(), u.copy()
        x[rc] = 0.0
        sub = _build(cm, rest, rc, True, cm.res_cap - capacity_used(cm, x))
        _, scol, _ = _run(sub, left * 0.5, 1e-4, threads, start=sub.start(start_x, start_u), abs_gap=abs_gap)
        x[rc] = start_x[rc]
        if scol is not None:
            sx, su = sub.split(scol)
            start_cost = float(start_x[rc] @ cm.unit_cost[rc] + start_u[rest] @ cm.unassigned_cost[rest])
            if float(sx @ cm.unit_cost[rc] + su @ cm.unassigned_cost[rest]) < start_cost - 1e-9:
                x[rc], u[rest] = sx, su
        bad = rest[u[rest] > 0]
        if not len(bad):
            return
        # free the neighbours: lines placed at the resources the unplaced lines could use
        bad_c = _cands_of(cm, bad)
        touched = np.zeros(len(cm.res_cap), dtype=bool)
        touched[cm.use_res[np.isin(cm.use_cand, bad_c)]] = True
        busy = cm.use_cand[touched[cm.use_res]]
        busy = busy[x[busy] > 0]
        rest = np.union1d(bad, cm.cand_line[busy])


def _solve_component(cm: Compiled, lines: IntArray, cands: IntArray, partial: bool, time_s: float,
                     gap_target: float, threads: int, lp_time_s: float | None = None) -> _Result:
    """LP relaxation -> keep its integral lines -> repair the others by small MIPs -> full MIP if needed.

    The LP (which gives the bound) may use up to `lp_time_s` (default `time_s`); the rest stops
    `time_s` after the start.
    """
    t0 = time.perf_counter()
    model = _build(cm, lines, cands, partial, cm.res_cap)
    st, col, lp_bound = _run(model, max(time_s, lp_time_s or 0.0), gap_target, threads, relax=True)
    t_end = max(t0 + time_s, time.perf_counter() + 0.05)
    if st == "infeasible":
        return _Result(np.zeros(len(cands)), model.q.copy(), np.inf, "infeasible")
    x = np.zeros(cm.n_cands)
    u = np.zeros(cm.n_lines)
    if col is not None:
        ok = _round_lines(model, col, cm.min_lot[cm.cand_line[cands]].astype(np.float64))
        keep_c = ok[model.cl]
        fixed = col.copy()
        fixed[:len(cands)][~keep_c] = 0.0
        fx, fu = model.split(fixed)
        x[cands[keep_c]] = fx[keep_c]
        u[lines[ok]] = fu[ok]
        u[lines[~ok]] = cm.qty[lines[~ok]]          # unplaced until the repair places them
        abs_gap = 0.5 * gap_target * abs(lp_bound)
        guide = np.zeros(cm.n_cands)
        guide[cands] = col[:len(cands)] * model.scale
        _repair(cm, x, u, lines[~ok], time.perf_counter() + 0.7 * (t_end - time.perf_counter()), abs_gap,
                threads, guide)
    else:
        x, u = greedy_allocate(cm, cm.res_cap, lines)
    feasible = partial or not u[lines].any()
    if feasible:
        obj = float(x[cands] @ cm.unit_cost[cands] + u[lines] @ cm.unassigned_cost[lines])
        if obj - lp_bound <= gap_target * max(abs(obj), 1e-9):
            status: Status = "optimal" if obj - lp_bound <= OPTIMAL_GAP * max(abs(obj), 1e-9) else "feasible"
            return _Result(x[cands], u[lines], lp_bound, status)
    left = t_end - time.perf_counter()
    st, col, bound = _run(model, max(0.05, left), gap_target, threads,
                          start=model.start(x, u) if feasible else None)
    if st == "infeasible":
        return _Result(np.zeros(len(cands)), model.q.copy(), np.inf, "infeasible")
    bound = max(bound, lp_bound)
    if col is None:
        if not feasible:
            return _Result(np.zeros(len(cands)), model.q.copy(), bound, "unknown")
        return _Result(x[cands], u[lines], bound, "feasible")
    mx, mu = model.split(col)
    return _Result(mx, mu, bound, "optimal" if st == "optimal" else "feasible")


def solve_compiled(cm: Compiled, *, time_limit_s: float = 10.0, gap_target: float = OPTIMAL_GAP,
                   threads: int = 2, partial: bool | None = None, started: float | None = None) -> Plan:
    """Optimise a compiled scenario; see `allocate`. `started`: perf_counter() the time limit runs from."""
    t0 = time.perf_counter() if started is None else started
    partial = cm.allow_partial if partial is None else partial
    baseline: list[tuple[FloatArray, FloatArray]] = []

    def greedy() -> tuple[FloatArray, FloatArray]:
        if not baseline:
            baseline.append(greedy_baseline(cm))
        return baseline[0]
    x = np.zeros(cm.n_cands)
    u = np.zeros(cm.n_lines)
    n_comp, label = components(cm)
    has_use = np.zeros(cm.n_lines, dtype=bool)
    has_use[cm.cand_line[cm.use_cand]] = True
    n_cand_line = np.bincount(cm.cand_line, minlength=cm.n_lines)
    bound = 0.0
    # lines without capacity use: cheapest offer for the whole quantity; lines without offers: unplaced
    free = np.flatnonzero(~has_use)
    ok = n_cand_line[free] > 0
    if len(free):
        order = np.lexsort((cm.unit_cost, cm.cand_line))
        first = np.searchsorted(cm.cand_line[order], free)
        best = order[first[ok]]
        x[best] = cm.qty[free[ok]]
        u[free[~ok]] = cm.qty[free[~ok]]
        bound += float(cm.unit_cost[best] @ cm.qty[free[ok]]) + float(u[free] @ cm.unassigned_cost[free])
    lab_sorted = np.argsort(label, kind="stable")
    lstart = np.searchsorted(label[lab_sorted], np.arange(n_comp + 1))
    comp_lines = [ls[has_use[ls]] for ls in (lab_sorted[lstart[k]:lstart[k + 1]] for k in range(n_comp))]
    comp_lines = [ls for ls in comp_lines if len(ls)]
    line_cands = np.argsort(cm.cand_line, kind="stable")
    cstart = np.searchsorted(cm.cand_line[line_cands], np.arange(cm.n_lines + 1))
    sizes = np.array([int(n_cand_line[ls].sum()) + len(ls) for ls in comp_lines], dtype=np.float64)
    order_c = np.argsort(-sizes, kind="stable")
    workers = max(1, min(threads, len(comp_lines)))
    budget = max(0.1, time_limit_s - (time.perf_counter() - t0)) * 0.97
    total = float(sizes.sum()) or 1.0

    def work(k: int) -> tuple[int, IntArray, _Result]:
        ls = comp_lines[k]
        cands = np.concatenate([line_cands[cstart[li]:cstart[li + 1]] for li in ls])
        left = budget - (time.perf_counter() - t0)
        share = min(left, budget * workers * sizes[k] / total)
        return k, cands, _solve_component(cm, ls, cands, partial, max(0.05, share), gap_target, 1,
                                          lp_time_s=max(0.05, left))

    statuses: list[Status] = []
    infeasible_lines: list[int] = []
    if not partial and not ok.all():
        statuses.append("infeasible")                   # lines without any feasible offer
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for k, cands, res in pool.map(work, order_c.tolist()):
            ls = comp_lines[k]
            if res.status == "infeasible":
                statuses.append(res.status)
                infeasible_lines.extend(ls.tolist())
                continue
            if (res.status == "unknown" or (not partial and res.u.any())) and (partial or not greedy()[1][ls].any()):
                gx, gu = greedy()
                res = _Result(gx[cands], gu[ls], res.bound, "feasible")   # greedy is a valid plan
            elif not partial and res.u.any():
                res = _Result(res.x, res.u, res.bound, "unknown")
            statuses.append(res.status)
            x[cands] = res.x
            u[ls] = res.u
            bound += res.bound
    elapsed = time.perf_counter() - t0
    gx, gu = greedy()                                   # the baseline, reported beside the result
    greedy_obj = float(gx @ cm.unit_cost + gu @ cm.unassigned_cost)
    name = f"highs-milp ({len(comp_lines)} components)"
    if "infeasible" in statuses:
        return _diagnose(cm, infeasible_lines, u, time_limit_s, elapsed, name, greedy_obj)
    status: Status = "unknown" if "unknown" in statuses else "feasible"
    if not partial and u.any():
        return make_plan(cm, x, u, status="unknown", bound=bound if np.isfinite(bound) else None, solver=name,
                         time_s=elapsed, components=len(comp_lines), greedy_objective=greedy_obj,
                         messages=(f"time limit reached with {int(u.sum())} units not placed yet; "
                                   "give a longer --time-limit",))
    objective = float(x @ cm.unit_cost + u @ cm.unassigned_cost)
    if status != "unknown" and objective - bound <= OPTIMAL_GAP * max(abs(objective), 1e-9):
        status = "optimal"
    return make_plan(cm, x, u, status=status, bound=min(bound, objective) if np.isfinite(bound) else None,
                     solver=name, time_s=elapsed, components=len(comp_lines), greedy_objective=greedy_obj)


def _diagnose(cm: Compiled, bad_lines: list[int], u: FloatArray, time_limit_s: float, elapsed: float,
              name: str, greedy_obj: float) -> Plan:
    """Infeasible: find which lines cannot be placed (max placement) and report them, no assignments."""
    unplaced = np.zeros(cm.n_lines)
    unplaced[u > 0] = u[u > 0]
    if bad_lines:
        sub = np.zeros(cm.n_cands, dtype=bool)
        sub[np.isin(cm.cand_line, bad_lines)] = True
        ls = np.asarray(sorted(bad_lines), dtype=np.int64)
        cands = np.flatnonzero(sub)
        res = _solve_component(cm, ls, cands, True, max(1.0, time_limit_s / 4), 1e-3, 1)
        unplaced[ls] = res.u if res.status != "unknown" else cm.qty[ls]
    n_bad = int((unplaced > 0).sum())
    msg = (f"infeasible: {n_bad} line(s) cannot be fully placed under the hard constraints and capacities; "
           "set allow_partial=true to place the rest")
    return make_plan(cm, np.zeros(cm.n_cands), unplaced, status="infeasible", bound=None, solver=name,
                     time_s=elapsed, greedy_objective=greedy_obj, messages=(msg,))


def greedy_plan(cm: Compiled) -> Plan:
    """The greedy baseline as a Plan (status feasible, or infeasible when units stay unplaced)."""
    t0 = time.perf_counter()
    x, u = greedy_baseline(cm)
    status: Status = "infeasible" if (u.any() and not cm.allow_partial) else "feasible"
    obj = float(x @ cm.unit_cost + u @ cm.unassigned_cost)
    plan = make_plan(cm, x, u, status="feasible", bound=None, solver="greedy (regret + ejection repair)",
                     time_s=time.perf_counter() - t0, greedy_objective=obj)
    if status == "infeasible":
        plan = plan.model_copy(update={"status": "infeasible", "messages": (
            "greedy left units unplaced; the optimiser may still place them",)})
    return plan


def allocate(scenario: Scenario, *, time_limit_s: float = 10.0, gap_target: float = OPTIMAL_GAP,
             solver: str = "highs", threads: int = 2, logistics: geo.Logistics | None = None) -> Plan:
    """Allocate the scenario's lines to sites, minimising cost + shipping + lateness (+ CO2 weight).

    Hard: capacities per site and resource over the horizon, provinces, certifications, allowed
    sites, max lateness, minimum lots. `solver` is "highs" (MILP, proved bound) or "greedy". `logistics`:
    the freight figures (the shipped ones when None).
    """
    if time_limit_s <= 0:
        raise InputError(f"time limit must be > 0 s, got {time_limit_s}", code="allocation.time_limit")
    t0 = time.perf_counter()
    cm = compile_scenario(scenario, logistics)
    if solver == "greedy":
        return greedy_plan(cm)
    if solver != "highs":
        raise InputError(f"unknown solver {solver!r}", hint="use 'highs' or 'greedy'",
                         code="allocation.solver")
    return solve_compiled(cm, time_limit_s=time_limit_s, gap_target=gap_target, threads=threads, started=t0)
