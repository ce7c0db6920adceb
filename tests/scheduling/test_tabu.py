"""Tabu search of the classic job shop and the CP-SAT + tabu portfolio; every schedule checked."""

from __future__ import annotations

import random

from fabgrid.domain.schedule import SolveStatus
from fabgrid.scheduling.check import check_schedule
from fabgrid.scheduling.cpsat import solve
from fabgrid.scheduling.dispatch import best_dispatch, dispatch
from fabgrid.scheduling.problem import Order, Problem, flexible_jobshop, jobshop
from fabgrid.scheduling.readers import parse_fjs, parse_jsplib
from fabgrid.scheduling.tabu import Exchange, classic, improve, rows_of


def _random_shop(seed: int, jobs: int, machines: int) -> Problem:
    rng = random.Random(seed)
    routes = []
    for _ in range(jobs):
        order = list(range(machines))
        rng.shuffle(order)
        routes.append([(m, rng.randint(1, 99)) for m in order])
    return jobshop(f"random{seed}", routes, machines)


def test_classic_accepts_only_plain_job_shops(ft06_text: str, fjs_text: str) -> None:
    ft06 = parse_jsplib(ft06_text, "ft06")
    assert classic(ft06)
    assert not classic(parse_fjs(fjs_text, "small"))
    assert not classic(flexible_jobshop("f", [[[(0, 3), (1, 4)]]], 2))
    late = Problem(jobs=ft06.jobs, resources=ft06.resources, orders=(Order("o", due=10),))
    assert not classic(late)


def test_tabu_improves_rule_schedules_and_they_pass_the_checker() -> None:
    for seed in range(4):
        problem = _random_shop(seed, 10, 5)
        start = dispatch(problem, "SPT")
        ops = improve(problem, start.operations, time_limit_s=5, max_iterations=400, seed=seed)
        report = check_schedule(problem, ops)
        assert report.ok, report.violations[:3]
        assert problem.lower_bound() <= report.makespan <= start.makespan
    # On these instances the rule leaves room: the search must find some of it.
    problem = _random_shop(7, 15, 5)
    start = dispatch(problem, "FIFO")
    ops = improve(problem, start.operations, time_limit_s=5, max_iterations=1000)
    assert check_schedule(problem, ops).makespan < start.makespan


def test_tabu_finds_the_ft06_optimum(ft06_text: str) -> None:
    problem = parse_jsplib(ft06_text, "ft06")
    start = best_dispatch(problem)
    assert start.makespan > 55
    ops = improve(problem, start.operations, time_limit_s=10, lower_bound=55)
    report = check_schedule(problem, ops)
    assert report.ok and report.makespan == 55


def test_tabu_restarts_from_a_shorter_schedule_of_the_exchange(ft06_text: str) -> None:
    problem = parse_jsplib(ft06_text, "ft06")
    optimum = solve(problem, time_limit_s=10, warm=best_dispatch(problem))
    assert optimum.makespan == 55
    worst = max((dispatch(problem, r) for r in ("LPT", "FIFO", "SPT")), key=lambda s: s.makespan)
    exchange = Exchange(optimum.makespan, rows_of(optimum.operations))
    ops = improve(problem, worst.operations, time_limit_s=5, max_iterations=1, exchange=exchange)
    assert check_schedule(problem, ops).makespan == 55
    # Its own improvements go the other way.
    exchange = Exchange(10_000, ())
    ops = improve(problem, worst.operations, time_limit_s=5, max_iterations=200, exchange=exchange)
    assert exchange.makespan == check_schedule(problem, ops).makespan < worst.makespan
    assert exchange.found_by == "tabu"


def test_portfolio_is_checked_and_never_longer_than_its_warm_start() -> None:
    problem = _random_shop(3, 12, 6)
    warm = best_dispatch(problem)
    s = solve(problem, time_limit_s=3, warm=warm)
    report = check_schedule(problem, s.operations)
    assert report.ok and report.makespan == s.makespan <= warm.makespan
    assert s.solver.startswith("cp-sat+tabu:")
    assert s.lower_bound <= s.makespan
    if s.status is SolveStatus.OPTIMAL:
        assert s.lower_bound == s.makespan
