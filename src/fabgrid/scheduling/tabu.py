"""Tabu search for the classic job shop (one machine per operation): swaps on the critical blocks.

The N5 neighbourhood of Nowicki & Smutnicki (1996): swap the first two or last two operations of a
block of the critical path (not the first pair of the first block nor the last pair of the last one),
moves ranked by the head/tail estimate of Balas & Vazacopoulos (1998), a tabu list on reversed pairs,
and a restart from the best schedule with a few random critical swaps when the search stalls. Works on
`Problem` records that `classic` accepts; pure Python, no solver, no I/O.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Sequence

from fabgrid.domain.schedule import ScheduledOperation
from fabgrid.scheduling.problem import Problem


def classic(problem: Problem) -> bool:
    """True for a classic job shop: each operation has one resource, no setups, calendars or orders."""
    if problem.orders or problem.setup or problem.work_windows is not None:
        return False
    if any(r.down for r in problem.resources):
        return False
    return all(len(op.alternatives) == 1 and op.alternatives[0].resource is not None
               for job in problem.jobs for op in job.operations)


class _Shop:
    """Operations numbered 0..n-1 job by job, with job predecessor/successor, machine and duration."""

    def __init__(self, problem: Problem) -> None:
        self.key: list[tuple[int, int]] = []
        self.p: list[int] = []
        self.machine: list[int] = []
        self.release: list[int] = []
        self.jp: list[int] = []
        self.js: list[int] = []
        for j, job in enumerate(problem.jobs):
            for k, op in enumerate(job.operations):
                alt = op.alternatives[0]
                i = len(self.p)
                self.key.append((j, k))
                self.p.append(alt.duration)
                self.machine.append(alt.resource)  # type: ignore[arg-type]
                self.release.append(job.release if k == 0 else 0)
                self.jp.append(i - 1 if k > 0 else -1)
                self.js.append(i + 1 if k + 1 < len(job.operations) else -1)
        self.n = len(self.p)
        self.m = len(problem.resources)
        self.index = {key: i for i, key in enumerate(self.key)}


class _State:
    """Machine sequences with heads (earliest starts) and tails (longest path after the end)."""

    def __init__(self, shop: _Shop, seqs: list[list[int]]) -> None:
        self.shop = shop
        self.seqs = seqs
        n = shop.n
        self.mp = [-1] * n
        self.ms = [-1] * n
        for seq in seqs:
            for a, b in itertools.pairwise(seq):
                self.ms[a] = b
                self.mp[b] = a
        self.r = [0] * n
        self.q = [0] * n
        self.order: list[int] = []
        self.makespan = 0

    def evaluate(self) -> bool:
        """Heads, tails and makespan; False if the sequences contain a cycle."""
        sh = self.shop
        n, jp, js, mp, ms, p = sh.n, sh.jp, sh.js, self.mp, self.ms, sh.p
        indeg = [(jp[i] >= 0) + (mp[i] >= 0) for i in range(n)]
        stack = [i for i in range(n) if indeg[i] == 0]
        order = []
        r = list(sh.release)
        while stack:
            i = stack.pop()
            order.append(i)
            e = r[i] + p[i]
            for s in (js[i], ms[i]):
                if s >= 0:
                    if r[s] < e:
                        r[s] = e
                    indeg[s] -= 1
                    if indeg[s] == 0:
                        stack.append(s)
        if len(order) != n:
            return False
        q = [0] * n
        for i in reversed(order):
            a, b = js[i], ms[i]
            t = 0
            if a >= 0:
                t = q[a] + p[a]
            if b >= 0 and q[b] + p[b] > t:
                t = q[b] + p[b]
            q[i] = t
        self.r, self.q, self.order = r, q, order
        self.makespan = max(r[i] + p[i] for i in range(n)) if n else 0
        return True

    def critical_blocks(self, rng: random.Random) -> list[list[int]]:
        """The blocks (runs on one machine) of one critical path, chosen at random among ties."""
        sh = self.shop
        r, q, p, cmax = self.r, self.q, sh.p, self.makespan
        jp, mp = sh.jp, self.mp
        starts = [i for i in range(sh.n) if r[i] + p[i] + q[i] == cmax
                  and not (jp[i] >= 0 and r[jp[i]] + p[jp[i]] == r[i])
                  and not (mp[i] >= 0 and r[mp[i]] + p[mp[i]] == r[i])]
        if not starts:
            return []
        i = rng.choice(starts)
        path = [i]
        while True:
            nxt = [s for s in (sh.js[i], self.ms[i])
                   if s >= 0 and r[s] == r[i] + p[i] and r[s] + p[s] + q[s] == cmax]
            if not nxt:
                break
            i = nxt[0] if len(nxt) == 1 else rng.choice(nxt)
            path.append(i)
        blocks: list[list[int]] = []
        for i in path:
            if blocks and sh.machine[blocks[-1][-1]] == sh.machine[i] and self.ms[blocks[-1][-1]] == i:
                blocks[-1].append(i)
            else:
                blocks.append([i])
        return blocks

    def estimate(self, u: int, v: int) -> int:
        """Makespan estimate after swapping u and its machine successor v (Balas & Vazacopoulos)."""
        sh = self.shop
        r, q, p = self.r, self.q, sh.p
        a, b = self.mp[u], self.ms[v]
        ju, jv, su, sv = sh.jp[u], sh.jp[v], sh.js[u], sh.js[v]
        rv = max(r[jv] + p[jv] if jv >= 0 else sh.release[v], r[a] + p[a] if a >= 0 else 0)
        ru = max(r[ju] + p[ju] if ju >= 0 else sh.release[u], rv + p[v])
        qu = max(q[su] + p[su] if su >= 0 else 0, q[b] + p[b] if b >= 0 else 0)
        qv = max(q[sv] + p[sv] if sv >= 0 else 0, qu + p[u])
        return max(rv + p[v] + qv, ru + p[u] + qu)

    def swap(self, u: int, v: int) -> None:
        """Swap u and its machine successor v in the machine sequence."""
        a, b = self.mp[u], self.ms[v]
        seq = self.seqs[self.shop.machine[u]]
        pos = seq.index(u)
        seq[pos], seq[pos + 1] = v, u
        if a >= 0:
            self.ms[a] = v
        self.mp[v], self.ms[v] = a, u
        self.mp[u], self.ms[u] = v, b
        if b >= 0:
            self.mp[b] = u


TEN = (2, 2, 2)
"""Tabu tenure: drawn in [a + jobs // b, that + max(2, machines // c)] for each move."""
STALL = 10
"""Iterations without a new best, per operation, before a restart from the best schedule."""
KICK = (2, 6)
"""How many random critical swaps shake the best schedule at a restart."""


def _tenure(shop: _Shop) -> tuple[int, int]:
    jobs = shop.n // max(1, shop.m)
    lo = TEN[0] + jobs // TEN[1]
    return lo, lo + max(2, shop.m // TEN[2])


def _moves(blocks: list[list[int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    last = len(blocks) - 1
    for bi, block in enumerate(blocks):
        if len(block) < 2:
            continue
        if bi > 0:
            out.append((block[0], block[1]))
        if bi < last and (len(block) > 2 or bi == 0):
            out.append((block[-2], block[-1]))
    return out


Row = tuple[int, int, int, int, int]
"""One scheduled operation as ``(job, index, machine, start, end)``."""


class Exchange:
    """The best schedule known to searches running side by side (thread-safe), and a stop flag."""

    def __init__(self, makespan: int, rows: Sequence[Row]) -> None:
        self._lock = threading.Lock()
        self.makespan = makespan
        self.rows: tuple[Row, ...] = tuple(rows)
        self.stopped = False
        self.found_by = "start"

    def offer(self, makespan: int, rows: Sequence[Row], by: str) -> bool:
        """Keep ``rows`` if shorter than the best known; True if kept."""
        with self._lock:
            if makespan >= self.makespan:
                return False
            self.makespan, self.rows, self.found_by = makespan, tuple(rows), by
            return True

    def best(self) -> tuple[int, tuple[Row, ...]]:
        """The best makespan and its schedule."""
        with self._lock:
            return self.makespan, self.rows


def rows_of(ops: Sequence[ScheduledOperation]) -> tuple[Row, ...]:
    """Schedule records as rows."""
    return tuple((o.job, o.index, o.machine if o.machine is not None else -1, o.start, o.end) for o in ops)


def operations_of(rows: Sequence[Row]) -> tuple[ScheduledOperation, ...]:
    """Rows as schedule records, ordered by job and index."""
    return tuple(ScheduledOperation(job=j, index=k, machine=m, start=s, end=e)
                 for j, k, m, s, e in sorted(rows))


def _sequences(shop: _Shop, rows: Sequence[Row]) -> list[list[int]]:
    seqs: list[list[int]] = [[] for _ in range(shop.m)]
    for j, k, _m, _s, _e in sorted(rows, key=lambda r: (r[3], r[4])):
        i = shop.index[(j, k)]
        seqs[shop.machine[i]].append(i)
    return seqs


def _rows(shop: _Shop, state: _State) -> list[Row]:
    return [(shop.key[i][0], shop.key[i][1], shop.machine[i], state.r[i], state.r[i] + shop.p[i])
            for i in range(shop.n)]


def improve(problem: Problem, start: Sequence[ScheduledOperation], *, time_limit_s: float,
            seed: int = 0, lower_bound: int = 0, max_iterations: int | None = None,
            exchange: Exchange | None = None) -> tuple[ScheduledOperation, ...]:
    """The best schedule the tabu search finds from ``start`` (a complete, valid schedule) in the time.

    Stops at ``time_limit_s``, at ``max_iterations``, when the makespan reaches ``lower_bound`` or when
    ``exchange`` is stopped. With an ``exchange`` it publishes each improvement there and restarts from
    a better schedule found by another search. The answer is never longer than ``start``
    (semi-active: every operation as early as its machine order allows).
    """
    shop = _Shop(problem)
    rng = random.Random(seed)
    state = _State(shop, _sequences(shop, rows_of(start)))
    if not state.evaluate():  # overlapping input: its order by start is not a valid sequence
        return tuple(start)
    best_seqs = [list(s) for s in state.seqs]
    best = state.makespan
    deadline = time.perf_counter() + time_limit_s
    tenure_lo, tenure_hi = _tenure(shop)
    tabu: dict[tuple[int, int], int] = {}
    it, stall = 0, 0
    stall_limit = max(1000, STALL * shop.n)
    while best > lower_bound and (max_iterations is None or it < max_iterations):
        if it % 32 == 0:
            if time.perf_counter() >= deadline:
                break
            if exchange is not None:
                if exchange.stopped:
                    break
                other, rows = exchange.best()
                if other < best:
                    state = _State(shop, _sequences(shop, rows))
                    if state.evaluate():
                        best, stall = state.makespan, 0
                        best_seqs = [list(s) for s in state.seqs]
                        tabu.clear()
                    else:
                        state = _State(shop, [list(s) for s in best_seqs])
                        state.evaluate()
        it += 1
        moves = _moves(state.critical_blocks(rng))
        if not moves:
            break  # one block or none: the critical path is a chain, this schedule is optimal
        chosen, chosen_val = None, None
        for u, v in moves:
            val = state.estimate(u, v)
            if tabu.get((u, v), 0) > it and val >= best:
                continue
            if chosen_val is None or val < chosen_val or (val == chosen_val and rng.random() < 0.5):
                chosen, chosen_val = (u, v), val
        if chosen is None:
            chosen = rng.choice(moves)
        u, v = chosen
        state.swap(u, v)
        state.evaluate()
        tabu[(v, u)] = it + rng.randint(tenure_lo, tenure_hi)
        if state.makespan < best:
            best, stall = state.makespan, 0
            best_seqs = [list(s) for s in state.seqs]
            if exchange is not None:
                exchange.offer(best, _rows(shop, state), "tabu")
        else:
            stall += 1
        if stall >= stall_limit:
            # Back to the best schedule, shaken by a few random critical swaps.
            state = _State(shop, [list(s) for s in best_seqs])
            state.evaluate()
            for _ in range(rng.randint(KICK[0], KICK[1])):
                mv = _moves(state.critical_blocks(rng))
                if not mv:
                    break
                state.swap(*rng.choice(mv))
                state.evaluate()
            tabu.clear()
            stall = 0
    final = _State(shop, best_seqs)
    final.evaluate()
    return operations_of(_rows(shop, final))
