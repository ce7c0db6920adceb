"""CP-SAT model of the flexible job shop with interval variables, solved lexicographically.

Objective: weighted tardiness of the orders first, then makespan (two solves; the second keeps the
first's value). Warm-started from a schedule (usually the best dispatch rule); reports status and the
proven bound. A classic job shop (one machine per operation, makespan only) runs the plain model with
OR-Tools' defaults beside the tabu search of `tabu`, the two exchanging their best schedules. Depends on
OR-Tools, problem and domain records; no I/O.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from fabgrid.domain.schedule import Schedule, ScheduledOperation, SolveStatus
from fabgrid.scheduling.dispatch import objectives
from fabgrid.scheduling.problem import Problem
from fabgrid.scheduling.tabu import Exchange, classic, improve, operations_of, rows_of


@dataclass
class _OpVars:
    start: cp_model.IntVar
    end: cp_model.IntVar
    lits: list[cp_model.IntVar | int]
    resources: list[int | None]


@dataclass
class _Model:
    model: cp_model.CpModel
    ops: dict[tuple[int, int], _OpVars]
    makespan: cp_model.IntVar
    tardiness: cp_model.LinearExprT
    arcs: dict[int, dict[tuple[int, int], cp_model.IntVar]] = field(default_factory=dict)
    nodes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


def _windows_domain(windows: tuple[tuple[int, int], ...], need: int, horizon: int) -> cp_model.Domain:
    spans = [[a, min(b - need, horizon)] for a, b in windows if b - a >= need and a <= horizon]
    return cp_model.Domain.from_intervals(spans) if spans else cp_model.Domain.from_values([])


def _build(problem: Problem, horizon: int) -> _Model:
    m = cp_model.CpModel()
    ops: dict[tuple[int, int], _OpVars] = {}
    per_resource: dict[int, list[cp_model.IntervalVar]] = defaultdict(list)
    on_resource: dict[int, list[tuple[tuple[int, int], cp_model.IntVar | int]]] = defaultdict(list)
    for j, job in enumerate(problem.jobs):
        prev_end: cp_model.IntVar | None = None
        for k, op in enumerate(job.operations):
            lo = job.release
            start = m.new_int_var(lo, horizon, f"s{j}_{k}")
            end = m.new_int_var(lo, horizon, f"e{j}_{k}")
            single = len(op.alternatives) == 1
            lits: list[cp_model.IntVar | int] = []
            for a, alt in enumerate(op.alternatives):
                lit: cp_model.IntVar | int = 1 if single else m.new_bool_var(f"x{j}_{k}_{a}")
                lits.append(lit)
                if problem.work_windows is not None and (op.staffed or op.start_staffed):
                    need = alt.duration if op.staffed else 1
                    dom = _windows_domain(problem.work_windows, need, horizon)
                    if single:
                        m.add_linear_expression_in_domain(start, dom)
                    else:
                        m.add_linear_expression_in_domain(start, dom).only_enforce_if(lit)  # type: ignore[arg-type]
                if alt.resource is None:
                    if single:
                        m.add(end == start + alt.duration)
                    else:
                        m.add(end == start + alt.duration).only_enforce_if(lit)  # type: ignore[arg-type]
                    continue
                if single:
                    iv = m.new_interval_var(start, alt.duration, end, f"i{j}_{k}")
                else:
                    iv = m.new_optional_interval_var(start, alt.duration, end, lit, f"i{j}_{k}_{a}")
                per_resource[alt.resource].append(iv)
                on_resource[alt.resource].append(((j, k), lit))
            if not single:
                m.add_exactly_one(lits)  # type: ignore[arg-type]
            if prev_end is not None:
                m.add(start >= prev_end)
            prev_end = end
            ops[(j, k)] = _OpVars(start, end, lits, [a.resource for a in op.alternatives])
    for r, res in enumerate(problem.resources):
        fixed = [m.new_fixed_size_interval_var(a, b - a, f"down{r}_{a}") for a, b in res.down if b > a]
        if per_resource[r] or fixed:
            m.add_no_overlap(per_resource[r] + fixed)
    makespan = m.new_int_var(0, horizon, "makespan")
    lasts = [ops[(j, len(job.operations) - 1)].end for j, job in enumerate(problem.jobs) if job.operations]
    m.add_max_equality(makespan, lasts)
    tardiness: cp_model.LinearExprT = 0
    if problem.orders:
        terms = []
        by_order: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for j, job in enumerate(problem.jobs):
            if job.order is not None and job.operations:
                by_order[job.order].append(ops[(j, len(job.operations) - 1)].end)
        for o, ends in by_order.items():
            order = problem.orders[o]
            late = m.new_int_var(0, horizon, f"late{o}")
            for e in ends:
                m.add(late >= e - order.due)
            terms.append(order.weight * late)
        tardiness = sum(terms)
    built = _Model(m, ops, makespan, tardiness)
    if problem.setup:
        pairwise = {r: ms for r, ms in on_resource.items() if _triangle(problem, ms)}
        _add_pairwise_changeovers(problem, built, pairwise)
        _add_changeovers(problem, built, {r: ms for r, ms in on_resource.items() if r not in pairwise})
    return built


def _triangle(problem: Problem, members: list[tuple[tuple[int, int], cp_model.IntVar | int]]) -> bool:
    """True when the setups among these operations obey the triangle inequality (pairwise is exact)."""
    fams = sorted({f for (j, k), _ in members if (f := problem.jobs[j].operations[k].family) is not None})
    st = problem.setup_time
    return all(st(a, c) <= st(a, b) + st(b, c) for a in fams for b in fams for c in fams)


def _add_pairwise_changeovers(problem: Problem, built: _Model,
                              on_resource: dict[int, list[tuple[tuple[int, int], cp_model.IntVar | int]]]) -> None:
    """Setups as ordered pairs of operations of different families on one resource.

    Exact when setups obey the triangle inequality: between any two operations of different families
    some consecutive pair changes family and pays a setup at least as long. Much smaller than a circuit.
    """
    m = built.model
    for r, members in on_resource.items():
        for i, (ki, pi) in enumerate(members):
            fi = problem.jobs[ki[0]].operations[ki[1]].family
            for kj, pj in members[i + 1:]:
                fj = problem.jobs[kj[0]].operations[kj[1]].family
                g_ij, g_ji = problem.setup_time(fi, fj), problem.setup_time(fj, fi)
                if (g_ij == 0 and g_ji == 0) or ki[0] == kj[0]:
                    continue
                before = m.new_bool_var(f"seq{r}_{ki}_{kj}")
                both = [x for x in (pi, pj) if not isinstance(x, int)]
                vi, vj = built.ops[ki], built.ops[kj]
                m.add(vj.start >= vi.end + g_ij).only_enforce_if([before, *both])
                m.add(vi.start >= vj.end + g_ji).only_enforce_if([before.Not(), *both])


def _add_changeovers(problem: Problem, built: _Model,
                     on_resource: dict[int, list[tuple[tuple[int, int], cp_model.IntVar | int]]]) -> None:
    """Sequence-dependent setups: a circuit per resource whose arcs carry the setup between neighbours."""
    m = built.model
    for r, members in on_resource.items():
        fams = {problem.jobs[j].operations[k].family for (j, k), _ in members}
        if len(fams - {None}) < 2:
            continue
        arcs: list[tuple[int, int, cp_model.LiteralT]] = []
        lits: dict[tuple[int, int], cp_model.IntVar] = {}
        nodes = [key for key, _ in members]
        for i, (key_i, pres_i) in enumerate(members, start=1):
            first = m.new_bool_var(f"first{r}_{i}")
            last = m.new_bool_var(f"last{r}_{i}")
            arcs += [(0, i, first), (i, 0, last)]
            lits[(0, i)], lits[(i, 0)] = first, last
            if not isinstance(pres_i, int):
                arcs.append((i, i, pres_i.Not()))
            fam_i = problem.jobs[key_i[0]].operations[key_i[1]].family
            for jn, (key_j, _) in enumerate(members, start=1):
                if jn == i or (key_j[0] == key_i[0] and key_j[1] < key_i[1]):
                    continue
                lit = m.new_bool_var(f"arc{r}_{i}_{jn}")
                arcs.append((i, jn, lit))
                lits[(i, jn)] = lit
                fam_j = problem.jobs[key_j[0]].operations[key_j[1]].family
                gap = problem.setup_time(fam_i, fam_j)
                m.add(built.ops[key_j].start >= built.ops[key_i].end + gap).only_enforce_if(lit)
        m.add_circuit([(a, b, lit) for a, b, lit in arcs])  # type: ignore[misc]
        built.arcs[r], built.nodes[r] = lits, nodes


def _hint(built: _Model, problem: Problem, warm: Schedule) -> None:
    m = built.model
    m.clear_hints()  # type: ignore[no-untyped-call]
    seq: dict[int, list[ScheduledOperation]] = defaultdict(list)
    for o in warm.operations:
        v = built.ops[(o.job, o.index)]
        m.add_hint(v.start, o.start)
        m.add_hint(v.end, o.end)
        for lit, res in zip(v.lits, v.resources, strict=True):
            if not isinstance(lit, int):
                m.add_hint(lit, res == o.machine)
        if o.machine is not None:
            seq[o.machine].append(o)
    for r, lits in built.arcs.items():
        index = {key: i for i, key in enumerate(built.nodes[r], start=1)}
        order = [index[(o.job, o.index)] for o in sorted(seq[r], key=lambda o: o.start)]
        chain = set(zip([0, *order], [*order, 0], strict=True))
        if not order:
            chain = set()
        for arc, lit in lits.items():
            m.add_hint(lit, arc in chain)
    m.add_hint(built.makespan, objectives(problem, warm.operations)[1])


def _extract(problem: Problem, built: _Model, solver: cp_model.CpSolver) -> tuple[ScheduledOperation, ...]:
    out = []
    for (j, k), v in built.ops.items():
        chosen = next(res for lit, res in zip(v.lits, v.resources, strict=True)
                      if isinstance(lit, int) or solver.boolean_value(lit))
        out.append(ScheduledOperation(job=j, index=k, machine=chosen, start=solver.value(v.start),
                                      end=solver.value(v.end)))
    return tuple(sorted(out, key=lambda o: (o.job, o.index)))


_WEAK_FOR_MAKESPAN = ("feasibility_pump", "rins/rens", "rnd_cst_lns", "rnd_var_lns")


def _solver(time_limit_s: float, workers: int, seed: int, local_search: bool = True) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    if not local_search:
        # Pure makespan: with two workers, one runs the full search and the other takes turns among
        # the interleaved subsolvers. The violation local search and the generic random / RINS / pump
        # neighbourhoods found little on ft10, ta01, ta03, ta08 at equal deterministic time; leaving
        # them out gives the scheduling and graph neighbourhoods more turns.
        solver.parameters.use_feasibility_jump = False
        solver.parameters.num_violation_ls = 0
        solver.parameters.ignore_subsolvers.extend(_WEAK_FOR_MAKESPAN)
    return solver


def solve(problem: Problem, *, time_limit_s: float = 10.0, warm: Schedule | None = None, workers: int = 2,
          seed: int = 0) -> Schedule:
    """Minimise weighted tardiness (when orders have due dates), then makespan, within the time limit.

    ``warm`` (a complete schedule of ``problem``) is given to CP-SAT as a hint and is also the answer
    if CP-SAT finds nothing better in time. The returned ``lower_bound`` is the proven makespan bound
    (under the tardiness found, when there are orders). With orders the search keeps every end within
    twice the warm start's makespan, and ``optimal`` means optimal within that horizon.
    """
    t0 = time.perf_counter()
    if warm is not None and classic(problem) and problem.num_operations:
        return _solve_classic(problem, warm, time_limit_s, workers, seed)
    horizon = problem.horizon or problem.trivial_horizon()
    if warm is not None:
        # Without orders the warm start bounds the makespan; with orders, a schedule of least tardiness
        # is searched within twice the warm start's makespan (keeps the model small).
        horizon = min(horizon, warm.makespan if not problem.orders else 2 * warm.makespan)
    built = _build(problem, horizon)
    best_ops = warm.operations if warm is not None else None
    optimal = True
    wt_best = warm.weighted_tardiness if warm is not None else None
    if problem.orders:
        if best_ops is not None:
            _hint(built, problem, warm)  # type: ignore[arg-type]
        built.model.minimize(built.tardiness)
        solver = _solver(time_limit_s / 2, workers, seed)
        status = solver.solve(built.model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = _extract(problem, built, solver)
            if wt_best is None or objectives(problem, found)[0] <= wt_best:
                best_ops, wt_best = found, objectives(problem, found)[0]
        elif status == cp_model.INFEASIBLE:
            raise _infeasible(problem)
        optimal = status == cp_model.OPTIMAL
        if wt_best is not None:
            built.model.add(built.tardiness <= wt_best)
    remaining = time_limit_s - (time.perf_counter() - t0)
    if best_ops is not None:
        _hint(built, problem, _as_schedule(problem, best_ops))
    built.model.minimize(built.makespan)
    solver = _solver(remaining, workers, seed, local_search=bool(problem.orders))
    status = solver.solve(built.model)
    bound = solver.best_objective_bound
    proven = math.ceil(bound - 1e-6) if math.isfinite(bound) else 0
    lower = max(problem.lower_bound(), proven)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = _extract(problem, built, solver)
        if best_ops is None or objectives(problem, found) <= objectives(problem, best_ops):
            best_ops = found
    elif status == cp_model.INFEASIBLE and best_ops is None:
        raise _infeasible(problem)
    if best_ops is None:
        from fabgrid.errors import LimitError

        raise LimitError(f"{problem.name or 'schedule'}: no schedule found in {time_limit_s:g} s",
                         hint="give a longer --time-limit", code="schedule.timeout")
    optimal = optimal and status == cp_model.OPTIMAL
    wt, makespan = objectives(problem, best_ops)
    return Schedule(operations=tuple(best_ops), makespan=makespan, weighted_tardiness=wt,
                    lower_bound=min(lower, makespan),
                    status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
                    solver="cp-sat", time_s=time.perf_counter() - t0)


class _Publish(cp_model.CpSolverSolutionCallback):
    """Hands each CP-SAT schedule shorter than the best known to the exchange."""

    def __init__(self, built: _Model, exchange: Exchange) -> None:
        super().__init__()
        self._built, self._exchange = built, exchange

    def on_solution_callback(self) -> None:
        makespan = round(self.objective_value)
        if makespan < self._exchange.makespan:
            rows = [(j, k, v.resources[0] if v.resources[0] is not None else -1, self.value(v.start),
                     self.value(v.end)) for (j, k), v in self._built.ops.items()]
            self._exchange.offer(makespan, rows, "cp-sat")


CLASSIC_ROUNDS = 2
"""CP-SAT runs of a classic job shop; each after the first starts from the best schedule known."""


def _solve_classic(problem: Problem, warm: Schedule, time_limit_s: float, workers: int,
                   seed: int) -> Schedule:
    """A classic job shop (makespan only): CP-SAT and a tabu search side by side, sharing schedules.

    The CP-SAT model is the plain one (interval variables, no-overlap per machine, makespan) with
    OR-Tools' default portfolio on ``workers`` workers, hinted with the best schedule known; the tabu
    search (a thread; CP-SAT releases the interpreter lock while it searches) restarts from each
    shorter CP-SAT schedule and hands its own improvements to the next CP-SAT round.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    built = _build(problem, problem.horizon or problem.trivial_horizon())
    built.model.minimize(built.makespan)
    exchange = Exchange(warm.makespan, rows_of(warm.operations))
    floor = problem.lower_bound()
    searcher = threading.Thread(
        target=improve, args=(problem, warm.operations),
        kwargs={"time_limit_s": time_limit_s, "seed": seed, "lower_bound": floor, "exchange": exchange},
        daemon=True, name="tabu")
    searcher.start()
    optimal = False
    try:
        for rnd in range(CLASSIC_ROUNDS):
            left = deadline - time.perf_counter()
            if left <= 0.05 or exchange.makespan <= floor:
                break
            span = left / (CLASSIC_ROUNDS - rnd)
            makespan, rows = exchange.best()
            _hint(built, problem, _as_schedule(problem, operations_of(rows)))
            solver = _solver(span, workers, seed + rnd)
            status = solver.solve(built.model, _Publish(built, exchange))
            bound = solver.best_objective_bound
            if math.isfinite(bound):
                floor = max(floor, math.ceil(bound - 1e-6))
            if status == cp_model.OPTIMAL:
                optimal = True
                break
    finally:
        exchange.stopped = True
        searcher.join()
    makespan, rows = exchange.best()
    ops = operations_of(rows)
    wt, makespan = objectives(problem, ops)
    optimal = optimal or makespan <= floor
    return Schedule(operations=ops, makespan=makespan, weighted_tardiness=wt, lower_bound=min(floor, makespan),
                    status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
                    solver=f"cp-sat+tabu:{exchange.found_by}", time_s=time.perf_counter() - t0)


def _as_schedule(problem: Problem, ops: tuple[ScheduledOperation, ...]) -> Schedule:
    wt, mk = objectives(problem, ops)
    return Schedule(operations=ops, makespan=mk, weighted_tardiness=wt, lower_bound=0,
                    status=SolveStatus.FEASIBLE, solver="hint")


def _infeasible(problem: Problem) -> Exception:
    from fabgrid.errors import InputError

    return InputError(f"{problem.name or 'schedule'}: no schedule exists within the horizon",
                      hint="give a longer horizon (--horizon), fewer builds or fewer maintenance windows",
                      code="schedule.infeasible")
