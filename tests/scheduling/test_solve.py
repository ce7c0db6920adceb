"""CP-SAT and dispatch rules on small instances, every schedule verified by the independent checker."""

from __future__ import annotations

import pytest

from fabgrid.domain.schedule import ScheduledOperation, SolveStatus
from fabgrid.errors import InputError
from fabgrid.scheduling.check import check_schedule
from fabgrid.scheduling.cpsat import solve
from fabgrid.scheduling.dispatch import RULES, best_dispatch, dispatch
from fabgrid.scheduling.plan import plan
from fabgrid.scheduling.problem import Alternative, Job, Operation, Order, Problem, Resource
from fabgrid.scheduling.readers import parse_fjs, parse_jsplib


def test_ft06_solved_to_optimality(ft06_text: str) -> None:
    problem = parse_jsplib(ft06_text, "ft06")
    result = plan(problem, time_limit_s=20)
    s = result.schedule
    assert result.check.ok, result.check.violations
    assert s.makespan == 55 and s.lower_bound == 55
    assert s.status is SolveStatus.OPTIMAL
    assert result.baseline.makespan >= 55
    assert len(s.operations) == 36


def test_fjs_solved_to_optimality(fjs_text: str) -> None:
    problem = parse_fjs(fjs_text, "small.fjs")
    result = plan(problem, time_limit_s=10)
    assert result.check.ok, result.check.violations
    assert result.schedule.makespan == 9
    assert result.schedule.status is SolveStatus.OPTIMAL


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_dispatch_rule_is_valid(rule: str, ft06_text: str, fjs_text: str) -> None:
    for problem in (parse_jsplib(ft06_text, "ft06"), parse_fjs(fjs_text, "small")):
        s = dispatch(problem, rule)
        report = check_schedule(problem, s.operations)
        assert report.ok, (rule, report.violations)
        assert report.makespan == s.makespan >= problem.lower_bound()


def test_unknown_rule() -> None:
    with pytest.raises(InputError, match="unknown dispatch rule"):
        dispatch(parse_jsplib("1 1\n0 1\n"), "XYZ")


def _tardy_problem() -> Problem:
    """One machine, three jobs: the weighted-tardiness optimum is not the makespan-only order."""
    jobs = tuple(Job((Operation((Alternative(0, d),)),), name=f"j{i}", order=i) for i, d in enumerate((5, 3, 2)))
    orders = (Order("a", due=10, weight=1), Order("b", due=3, weight=5), Order("c", due=2, weight=1))
    return Problem(jobs=jobs, resources=(Resource("M0"),), orders=orders)


def test_weighted_tardiness_first() -> None:
    problem = _tardy_problem()
    s = solve(problem, time_limit_s=5, warm=best_dispatch(problem))
    report = check_schedule(problem, s.operations)
    assert report.ok
    # b first (late 0), then c (ends 5, late 3), then a (ends 10, on time): 3 is the least weighted tardiness.
    assert s.weighted_tardiness == report.weighted_tardiness == 3
    assert s.makespan == 10 and s.status is SolveStatus.OPTIMAL


def _ops(problem: Problem) -> list[ScheduledOperation]:
    return list(plan(problem, time_limit_s=5).schedule.operations)


def _replace(ops: list[ScheduledOperation], i: int, **kw: int | None) -> list[ScheduledOperation]:
    out = list(ops)
    out[i] = out[i].model_copy(update=kw)
    return out


def test_checker_catches_broken_schedules(ft06_text: str) -> None:
    problem = parse_jsplib(ft06_text, "ft06")
    ops = _ops(problem)
    assert check_schedule(problem, ops).ok
    by_key = {(o.job, o.index): i for i, o in enumerate(ops)}
    # precedence: operation 1 of job 0 moved before operation 0 ends
    i = by_key[(0, 1)]
    prev = ops[by_key[(0, 0)]]
    d = ops[i].end - ops[i].start
    bad = check_schedule(problem, _replace(ops, i, start=prev.start, end=prev.start + d))
    assert any("before operation 0 ends" in v for v in bad.violations)
    # overlap on a machine: two operations on one machine put at the same time
    a, b = ops[by_key[(0, 0)]], next(o for o in ops if o.machine == ops[by_key[(0, 0)]].machine and o.job != 0)
    j = ops.index(b)
    shifted = _replace(ops, j, start=a.start, end=a.start + (b.end - b.start))
    assert any("overlaps" in v for v in check_schedule(problem, shifted).violations)
    # wrong duration, wrong machine, missing and duplicated operations
    assert any("lasts" in v for v in check_schedule(problem, _replace(ops, 0, end=ops[0].end + 1)).violations)
    wrong = (ops[0].machine + 1) % 6  # type: ignore[operator]
    assert any("not one of its alternatives" in v
               for v in check_schedule(problem, _replace(ops, 0, machine=wrong)).violations)
    assert any("not scheduled" in v for v in check_schedule(problem, ops[1:]).violations)
    assert any("twice" in v for v in check_schedule(problem, [*ops, ops[0]]).violations)
    # the makespan is recomputed, not taken from the solver
    assert check_schedule(problem, ops).makespan == max(o.end for o in ops)


def test_checker_catches_calendar_setup_and_release_violations() -> None:
    ops_def = (Operation((Alternative(0, 4),), family="A", start_staffed=True),
               Operation((Alternative(1, 3),), staffed=True))
    jobs = (Job(ops_def, release=2), Job((Operation((Alternative(0, 4),), family="B"),)))
    problem = Problem(jobs=jobs, resources=(Resource("M", down=((20, 30),)), Resource("S")),
                      work_windows=((0, 10), (15, 25)), setup={("A", "B"): 5, ("B", "A"): 5}, horizon=60)
    good = [ScheduledOperation(job=0, index=0, machine=0, start=2, end=6),
            ScheduledOperation(job=0, index=1, machine=1, start=6, end=9),
            ScheduledOperation(job=1, index=0, machine=0, start=11, end=15)]
    report = check_schedule(problem, good)
    assert report.ok, report.violations
    assert check_schedule(problem, plan(problem, time_limit_s=5).schedule.operations).ok

    def viol(i: int, **kw: int) -> tuple[str, ...]:
        return check_schedule(problem, _replace(good, i, **kw)).violations

    assert any("release" in v for v in viol(0, start=1, end=5))
    assert any("not inside one shift" in v for v in viol(1, start=8, end=11))
    assert any("outside every shift" in v for v in viol(0, start=11, end=15))
    assert any("changeover" in v for v in viol(2, start=8, end=12) + viol(2, start=9, end=13))
    assert any("down-time" in v for v in viol(2, start=18, end=22))
    assert any("horizon" in v for v in viol(2, start=58, end=62))


def test_zero_durations_are_scheduled() -> None:
    problem = parse_jsplib("3 2\n0 0 1 3\n1 0 0 0\n0 2 1 0\n", "zeros")
    result = plan(problem, time_limit_s=5)
    assert result.check.ok and result.schedule.makespan == 3
    for rule in RULES:
        assert check_schedule(problem, dispatch(problem, rule).operations).ok


def test_setups_without_triangle_inequality_use_the_circuit() -> None:
    """A -> C costs 10 but A -> B -> C costs 2: only a sequence model gets this right (and the checker)."""
    fams = ("A", "C", "B")
    jobs = tuple(Job((Operation((Alternative(0, 3),), family=f),)) for f in fams)
    setup = {("A", "B"): 1, ("B", "C"): 1, ("A", "C"): 10, ("C", "A"): 10, ("B", "A"): 10, ("C", "B"): 10}
    problem = Problem(jobs=jobs, resources=(Resource("M0"),), setup=setup)
    result = plan(problem, time_limit_s=5)
    assert result.check.ok, result.check.violations
    assert result.schedule.makespan == 3 * 3 + 2 and result.schedule.status is SolveStatus.OPTIMAL
