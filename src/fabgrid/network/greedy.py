"""Greedy baseline: lines by regret, each to its cheapest offers that still fit, splitting with minimum lots.

Kept for comparison with the optimiser and as its warm start. Reads `model.Compiled` only;
must not import the solver, store, services or cli.
"""

from __future__ import annotations

import numpy as np

from fabgrid.network.model import Compiled, FloatArray, IntArray


def greedy_allocate(cm: Compiled, residual_h: FloatArray | None = None, lines: IntArray | None = None,
                    prefer: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """Candidate quantities `x` (C,) and unplaced quantities `u` (L,) by regret-ordered greedy.

    Lines whose best and second-best offers differ most (per line, times quantity) go first;
    each takes its cheapest offers in turn, as many units as the residual capacity allows, never
    leaving a piece below the line's minimum lot.
    """
    res = (cm.res_cap if residual_h is None else residual_h).astype(np.float64).copy()
    x = np.zeros(cm.n_cands)
    u = cm.qty.astype(np.float64).copy()
    if cm.n_cands == 0:
        return x, u
    # per candidate: slice into the (sorted) use list
    order_use = np.argsort(cm.use_cand, kind="stable")
    uc, ur, uh = cm.use_cand[order_use], cm.use_res[order_use], cm.use_h[order_use]
    ustart = np.searchsorted(uc, np.arange(cm.n_cands + 1))
    # candidates grouped by line, cheapest first
    corder = np.lexsort((cm.unit_cost, cm.cand_line) if prefer is None else
                        (cm.unit_cost, -prefer, cm.cand_line))
    cstart = np.searchsorted(cm.cand_line[corder], np.arange(cm.n_lines + 1))
    best = np.full(cm.n_lines, np.inf)
    second = np.full(cm.n_lines, np.inf)
    counts = np.diff(cstart)
    has1 = counts >= 1
    best[has1] = cm.unit_cost[corder[cstart[:-1][has1]]]
    has2 = counts >= 2
    second[has2] = cm.unit_cost[corder[cstart[:-1][has2] + 1]]
    with np.errstate(invalid="ignore"):
        regret = np.where(has2, (second - best) * cm.qty, np.where(has1, np.inf, -np.inf))
    if prefer is not None:
        need_h = np.zeros(cm.n_lines)
        np.maximum.at(need_h, cm.cand_line[uc], uh)
        regret = need_h * cm.qty
    todo = np.argsort(-regret, kind="stable")
    if lines is not None:
        wanted = np.zeros(cm.n_lines, dtype=bool)
        wanted[lines] = True
        todo = todo[wanted[todo]]
    # plain Python in the loop: per-element numpy calls would dominate
    res_l: list[float] = res.tolist()
    ur_l, uh_l, us_l = ur.tolist(), uh.tolist(), ustart.tolist()   # flat: no per-candidate containers
    x_l = [0.0] * cm.n_cands
    corder_l, cstart_l = corder.tolist(), cstart.tolist()
    qty, lots, wholes = cm.qty.tolist(), cm.min_lot.tolist(), cm.whole.tolist()
    for li in todo.tolist():
        need, lot, whole = int(qty[li]), int(lots[li]), bool(wholes[li])
        for c in corder_l[cstart_l[li]:cstart_l[li + 1]]:
            a, b = us_l[c], us_l[c + 1]
            fit = need
            for k in range(a, b):
                fit = min(fit, int(res_l[ur_l[k]] / uh_l[k] + 1e-9))
            take = min(need, fit)
            if whole and take < need:
                continue
            if take < need and need - take < lot:
                take = need - lot
            if take < lot or take <= 0:
                continue
            x_l[c] += take
            for k in range(a, b):
                res_l[ur_l[k]] -= uh_l[k] * take
            need -= take
            if need == 0:
                break
        u[li] = need
    x = np.asarray(x_l, dtype=np.float64)
    return x, u


def greedy_baseline(cm: Compiled) -> tuple[FloatArray, FloatArray]:
    """The baseline: regret greedy, then ejection repair of the lines it could not place."""
    from fabgrid.network.repair import eject_repair

    x, u = greedy_allocate(cm)
    bad = np.flatnonzero(u > 0)
    if len(bad):
        eject_repair(cm, x, u, bad)
    return x, u
