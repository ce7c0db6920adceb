"""Dispatch-rule baselines: Giffler-Thompson schedule generation with a priority rule.

Rules: SPT, LPT, MWKR, LWKR, MOPNR, EDD, FIFO, ATC. Handles flexible routings, resource down-times,
work windows (shifts) and material changeovers, so its schedules are valid warm starts for CP-SAT.
Depends only on problem and domain records; no solver, no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fabgrid.domain.schedule import Schedule, ScheduledOperation, SolveStatus
from fabgrid.errors import InputError
from fabgrid.scheduling.problem import Operation, Problem, Window


@dataclass(frozen=True)
class _Candidate:
    job: int
    index: int
    alt: int
    resource: int | None
    start: int
    end: int


_Rule = Callable[[Problem, _Candidate, "_State"], tuple[float, ...]]


class _State:
    """Progress of the serial generation: next operation and ready time per job, per resource."""

    def __init__(self, problem: Problem) -> None:
        self.next = [0] * len(problem.jobs)
        self.ready = [j.release for j in problem.jobs]
        self.free = [0] * len(problem.resources)
        self.family: list[str | None] = [None] * len(problem.resources)
        self.remaining = [
            sum(min(a.duration for a in op.alternatives) for op in j.operations) for j in problem.jobs
        ]
        self.due = [
            problem.orders[j.order].due if j.order is not None and problem.orders else math.inf
            for j in problem.jobs
        ]
        self.weight = [
            problem.orders[j.order].weight if j.order is not None and problem.orders else 1
            for j in problem.jobs
        ]
        self.mean_duration = max(1.0, sum(self.remaining) / max(1, problem.num_operations))


def _fit(t: int, duration: int, down: Sequence[Window], windows: Sequence[Window] | None,
         staffed: bool, start_staffed: bool) -> int:
    """Earliest start >= t so that the operation avoids ``down`` and respects the work windows."""
    s = t
    for _ in range(10_000):
        moved = False
        if windows is not None and (staffed or start_staffed):
            need = duration if staffed else 1
            w = next((w for w in windows if w[1] - max(s, w[0]) >= need), None)
            if w is None:
                return -1
            if s < w[0]:
                s, moved = w[0], True
        for a, b in down:
            if s < b and a < s + max(duration, 1):
                s, moved = b, True
        if not moved:
            return s
    return -1


def _candidates(problem: Problem, st: _State, j: int) -> list[_Candidate]:
    k = st.next[j]
    op = problem.jobs[j].operations[k]
    out = []
    for ai, alt in enumerate(op.alternatives):
        down: tuple[Window, ...] = ()
        if alt.resource is None:
            t = st.ready[j]
        else:
            setup = problem.setup_time(st.family[alt.resource], op.family)
            t = max(st.ready[j], st.free[alt.resource] + setup)
            down = problem.resources[alt.resource].down
        s = _fit(t, alt.duration, down, problem.work_windows, op.staffed, op.start_staffed)
        if s < 0:
            raise InputError(
                f"{problem.name or 'schedule'}: operation {k} ({op.name or 'unnamed'}) of job "
                f"{problem.jobs[j].name or j} does not fit in the work windows of the horizon",
                hint="give a longer horizon (--horizon) or less work", code="schedule.horizon")
        out.append(_Candidate(j, k, ai, alt.resource, s, s + alt.duration))
    return out


def _op(problem: Problem, c: _Candidate) -> Operation:
    return problem.jobs[c.job].operations[c.index]


RULES: dict[str, _Rule] = {
    "SPT": lambda p, c, s: (c.end - c.start, c.start),
    "LPT": lambda p, c, s: (-(c.end - c.start), c.start),
    "MWKR": lambda p, c, s: (-s.remaining[c.job], c.start),
    "LWKR": lambda p, c, s: (s.remaining[c.job], c.start),
    "MOPNR": lambda p, c, s: (-(len(p.jobs[c.job].operations) - c.index), -s.remaining[c.job]),
    "EDD": lambda p, c, s: (s.due[c.job], -s.remaining[c.job]),
    "FIFO": lambda p, c, s: (s.ready[c.job], c.start),
    # Apparent tardiness cost (Vepsalainen & Morton 1987), a rule for weighted tardiness.
    "ATC": lambda p, c, s: (
        -(s.weight[c.job] / max(1, c.end - c.start))
        * math.exp(-max(0.0, s.due[c.job] - s.remaining[c.job] - c.start) / (2.0 * s.mean_duration))
        if s.due[c.job] != math.inf else 0.0,
        -s.remaining[c.job],
    ),
}


def objectives(problem: Problem, ops: Sequence[ScheduledOperation]) -> tuple[int, int]:
    """``(weighted tardiness, makespan)`` of a complete schedule."""
    makespan = max((o.end for o in ops), default=0)
    if not problem.orders:
        return 0, makespan
    done = [0] * len(problem.orders)
    for o in ops:
        order = problem.jobs[o.job].order
        if order is not None:
            done[order] = max(done[order], o.end)
    wt = sum(o.weight * max(0, c - o.due) for o, c in zip(problem.orders, done, strict=True))
    return wt, makespan


def dispatch(problem: Problem, rule: str = "MWKR") -> Schedule:
    """Schedule ``problem`` with the Giffler-Thompson algorithm and priority rule ``rule``."""
    return _dispatch(problem, rule)[0]


def _dispatch(problem: Problem, rule: str) -> tuple[Schedule, tuple[int, ...]]:
    """The schedule of ``rule`` and the jobs in the order their first operations were placed."""
    key = RULES.get(rule.upper())
    if key is None:
        raise InputError(f"unknown dispatch rule {rule!r}", hint=f"use one of {sorted(RULES)}",
                         code="schedule.rule")
    t0 = time.perf_counter()
    st = _State(problem)
    placed: list[ScheduledOperation] = []
    active = {j for j, job in enumerate(problem.jobs) if job.operations}
    cands = {j: _candidates(problem, st, j) for j in active}
    while active:
        best = min((c for j in active for c in cands[j]), key=lambda c: (c.end, c.start))
        if best.resource is None:
            chosen = best
        else:
            conflict = [
                min((c for c in cands[j] if c.resource == best.resource), key=lambda c: c.end, default=None)
                for j in active
            ]
            pool = [c for c in conflict if c is not None and c.start < best.end] or [best]
            chosen = min(pool, key=lambda c: (key(problem, c, st), c.end, c.job))
        placed.append(ScheduledOperation(job=chosen.job, index=chosen.index, machine=chosen.resource,
                                         start=chosen.start, end=chosen.end))
        op = _op(problem, chosen)
        j = chosen.job
        st.ready[j] = chosen.end
        st.remaining[j] -= min(a.duration for a in op.alternatives)
        st.next[j] += 1
        touched = {j}
        if chosen.resource is not None:
            st.free[chosen.resource] = chosen.end
            st.family[chosen.resource] = op.family if op.family is not None else st.family[chosen.resource]
            touched |= {jj for jj in active if any(c.resource == chosen.resource for c in cands[jj])}
        if st.next[j] == len(problem.jobs[j].operations):
            active.discard(j)
            cands.pop(j)
            touched.discard(j)
        for jj in touched:
            cands[jj] = _candidates(problem, st, jj)
    wt, makespan = objectives(problem, placed)
    first = tuple(o.job for o in placed if o.index == 0)
    placed.sort(key=lambda o: (o.job, o.index))
    return Schedule(operations=tuple(placed), makespan=makespan, weighted_tardiness=wt,
                    lower_bound=problem.lower_bound(), status=SolveStatus.FEASIBLE, solver=f"dispatch:{rule.upper()}",
                    time_s=time.perf_counter() - t0), first


def best_dispatch(problem: Problem, rules: Sequence[str] | None = None) -> Schedule:
    """The best schedule over the dispatch rules, by weighted tardiness then makespan."""
    results = [dispatch(problem, r) for r in (rules or sorted(RULES))]
    return min(results, key=lambda s: (s.weighted_tardiness, s.makespan, s.solver))


def best_dispatch_order(problem: Problem, rules: Sequence[str] | None = None) -> tuple[Schedule, tuple[int, ...]]:
    """`best_dispatch` with the jobs in the order their first operations start in it; jobs starting
    together come in the order the rule placed them (its priority)."""
    results = [_dispatch(problem, r) for r in (rules or sorted(RULES))]
    best, placed = min(results, key=lambda r: (r[0].weighted_tardiness, r[0].makespan, r[0].solver))
    start = {o.job: o.start for o in best.operations if o.index == 0}
    rank = {j: k for k, j in enumerate(placed)}
    return best, tuple(sorted(start, key=lambda j: (start[j], rank[j])))
