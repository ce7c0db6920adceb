"""Ejection repair: make room for unplaced lines by moving placed pieces to their spare alternatives.

Used by the solver when rounding an LP solution leaves lines without room at any of their offers
although capacity is free elsewhere. Reads `model.Compiled` only; no solver, store or cli imports.
"""

from __future__ import annotations

import numpy as np

from fabgrid.network.model import Compiled, FloatArray, IntArray

#: Offers per unplaced line (cheapest first) at which making room is tried; bounds the work.
MAX_EJECT_OFFERS = 4


def _single_resource(cm: Compiled) -> tuple[IntArray, FloatArray]:
    """Per candidate: its only resource and hours per unit (-1 when it uses none or several)."""
    n_use = np.bincount(cm.use_cand, minlength=cm.n_cands)
    res = np.full(cm.n_cands, -1, dtype=np.int64)
    hours = np.zeros(cm.n_cands)
    one = n_use[cm.use_cand] == 1
    res[cm.use_cand[one]] = cm.use_res[one]
    hours[cm.use_cand[one]] = cm.use_h[one]
    return res, hours


def eject_repair(cm: Compiled, x: FloatArray, u: FloatArray, bad: IntArray) -> None:
    """Place the unplaced units `u` of lines `bad` (in place on x, u) by moving other lines' pieces.

    For each bad line and each of its offers, the pieces at that offer's resource that can move whole
    to another offer of their own line with spare capacity are moved, cheapest cost per freed hour
    first, until the bad line fits; the offer with the least total cost increase wins.
    """
    cres_a, ch_a = _single_resource(cm)
    residual_a = cm.res_cap.copy()
    one = cres_a >= 0
    np.subtract.at(residual_a, cres_a[one], (ch_a * x)[one])
    by_line_a = np.argsort(cm.cand_line, kind="stable")
    lstart_a = np.searchsorted(cm.cand_line[by_line_a], np.arange(cm.n_lines + 1))
    by_res_a = np.argsort(cres_a, kind="stable")
    rstart_a = np.searchsorted(cres_a[by_res_a], np.arange(len(cm.res_cap) + 1))
    # plain Python lists: the loops below touch single elements, where numpy scalars are slow
    cres, ch, residual = cres_a.tolist(), ch_a.tolist(), residual_a.tolist()
    by_line, lstart, by_res, rstart = by_line_a.tolist(), lstart_a.tolist(), by_res_a.tolist(), rstart_a.tolist()
    cost, cline, xs = cm.unit_cost.tolist(), cm.cand_line.tolist(), x.tolist()
    lots = cm.min_lot.tolist()
    for b in sorted(bad.tolist(), key=lambda li: -u[li]):
        n = float(u[b])
        if n <= 0:
            continue
        best: tuple[float, int, list[tuple[int, int]]] | None = None
        tried = 0
        for c in sorted(by_line[lstart[b]:lstart[b + 1]], key=cost.__getitem__):
            r = cres[c]
            if r < 0 or (xs[c] == 0 and n < lots[b]):
                continue
            need_h = n * ch[c] - residual[r] + 1e-9
            if need_h > 0:
                tried += 1
                if tried > MAX_EJECT_OFFERS:
                    continue
            total = n * cost[c]
            moves: list[tuple[int, int]] = []
            if need_h > 0:
                options: list[tuple[float, int, int]] = []
                for j in by_res[rstart[r]:rstart[r + 1]]:
                    lj = cline[j]
                    if xs[j] <= 0 or lj == b:
                        continue
                    for k in by_line[lstart[lj]:lstart[lj + 1]]:
                        rk = cres[k]
                        if k != j and rk >= 0 and rk != r and residual[rk] >= xs[j] * ch[k]:
                            options.append(((cost[k] - cost[j]) / ch[j], j, k))
                options.sort()
                taken: dict[int, float] = {}
                used_j: set[int] = set()
                freed = 0.0
                for per_h, j, k in options:
                    rk = cres[k]
                    if j in used_j or residual[rk] - taken.get(rk, 0.0) < xs[j] * ch[k]:
                        continue
                    used_j.add(j)
                    taken[rk] = taken.get(rk, 0.0) + xs[j] * ch[k]
                    moves.append((j, k))
                    total += per_h * xs[j] * ch[j]
                    freed += xs[j] * ch[j]
                    if freed >= need_h:
                        break
                if freed < need_h:
                    continue
            if best is None or total < best[0]:
                best = (total, c, moves)
        if best is None:
            continue
        _, c, moves = best
        for j, k in moves:
            residual[cres[k]] -= xs[j] * ch[k]
            residual[cres[j]] += xs[j] * ch[j]
            xs[k] += xs[j]
            xs[j] = 0.0
        xs[c] += n
        residual[cres[c]] -= n * ch[c]
        u[b] = 0.0
    x[:] = xs
