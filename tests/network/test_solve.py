"""Allocation engine on small scenarios with known optima; every plan goes through the checker."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import numpy as np
import pytest

from fabgrid.domain.allocation import Assignment, Plan, Scenario
from fabgrid.network.check import check_plan
from fabgrid.network.solve import allocate


def _solve(doc: dict[str, Any], **kw: Any) -> tuple[Scenario, Plan]:
    sc = Scenario.model_validate(doc)
    plan = allocate(sc, time_limit_s=kw.pop("time_limit_s", 5.0), **kw)
    rep = check_plan(sc, plan)
    assert rep.ok, rep.violations
    return sc, plan


def _gap_doc(costs: list[list[float]], uses: list[list[float]], caps: list[float]) -> dict[str, Any]:
    """A generalized assignment instance in the compact [site, cost, capacity_use] form."""
    return {"sites": [{"id": f"m{j}", "capacity_h_per_day": {"capacity": c}} for j, c in enumerate(caps)],
            "lines": [{"id": f"j{i}", "quantity": 1,
                       "candidates": [[f"m{j}", costs[i][j], uses[i][j]] for j in range(len(caps))]}
                      for i in range(len(costs))]}


def _brute_force_gap(costs: list[list[float]], uses: list[list[float]], caps: list[float]) -> float | None:
    best = None
    for choice in itertools.product(range(len(caps)), repeat=len(costs)):
        load = [0.0] * len(caps)
        for i, j in enumerate(choice):
            load[j] += uses[i][j]
        if all(load[j] <= caps[j] + 1e-9 for j in range(len(caps))):
            cost = sum(costs[i][j] for i, j in enumerate(choice))
            best = cost if best is None else min(best, cost)
    return best


def test_hand_known_gap_optimum() -> None:
    # both l1 and l2 prefer A, which only fits one of them next to l3
    doc = _gap_doc([[5, 7], [4, 9], [1, 1]], [[6, 6], [6, 6], [3, 3]], [10, 10])
    _, plan = _solve(doc)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(12.0)
    assert plan.bound == pytest.approx(12.0, abs=1e-6)
    sites = {a.line: a.site for a in plan.assignments}
    assert (sites["j0"], sites["j1"]) == ("m1", "m0")     # 7 + 4 + 1 beats 5 + 9 + 1


@pytest.mark.parametrize("seed", range(6))
def test_random_gap_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 6, 3
    costs = rng.integers(1, 30, size=(n, m)).astype(float).tolist()
    uses = rng.integers(1, 10, size=(n, m)).astype(float).tolist()
    caps = [float(c) for c in rng.integers(8, 16, size=m)]
    best = _brute_force_gap(costs, uses, caps)
    sc = Scenario.model_validate(_gap_doc(costs, uses, caps))
    plan = allocate(sc, time_limit_s=5)
    if best is None:
        assert plan.status == "infeasible" and plan.unassigned and not plan.assignments
    else:
        assert plan.status == "optimal"
        assert plan.objective == pytest.approx(best)
        assert check_plan(sc, plan).ok


def _two_sites(cap_a: float, cap_b: float) -> list[dict[str, Any]]:
    return [{"id": "A", "province": "Hunan", "capacity_h_per_day": {"fdm": cap_a}},
            {"id": "B", "province": "Hubei", "certifications": ["ISO 13485"], "capacity_h_per_day": {"fdm": cap_b}}]


def _line(lid: str, qty: int, price_a: float, price_b: float, **kw: Any) -> dict[str, Any]:
    return {"id": lid, "quantity": qty, **kw, "candidates": [
        {"site": "A", "unit_price_cny": price_a, "hours_per_unit": {"fdm": 1.0}},
        {"site": "B", "unit_price_cny": price_b, "hours_per_unit": {"fdm": 1.0}}]}


@pytest.mark.parametrize(("min_lot", "expect_a", "expect_b"), [(1, 6, 4), (4, 6, 4), (5, 5, 5)])
def test_split_with_minimum_lot(min_lot: int, expect_a: int, expect_b: int) -> None:
    # A is cheaper but holds 6 units: the rest goes to B, never below the minimum lot
    _, plan = _solve({"sites": _two_sites(6, 10), "lines": [_line("l", 10, 10, 12, min_lot=min_lot)]})
    got = {a.site: a.quantity for a in plan.assignments}
    assert got == {"A": expect_a, "B": expect_b}
    assert plan.objective == pytest.approx(10 * expect_a + 12 * expect_b)


def test_minimum_lot_makes_it_infeasible() -> None:
    # 10 units, lot 7: one site must take all 10, neither holds more than 8
    _, plan = _solve({"sites": _two_sites(8, 8), "lines": [_line("l", 10, 10, 12, min_lot=7)]})
    assert plan.status == "infeasible"
    assert plan.assignments == ()
    assert plan.unassigned[0].line == "l" and "capacity" in plan.unassigned[0].reason
    assert "infeasible" in plan.messages[0]


def test_no_split_goes_to_one_site() -> None:
    _, plan = _solve({"sites": _two_sites(6, 10), "lines": [_line("l", 8, 10, 12, split=False)]})
    assert [(a.site, a.quantity) for a in plan.assignments] == [("B", 8)]


def test_hard_constraints_override_price() -> None:
    doc = {"sites": _two_sites(100, 100), "lines": [
        _line("hunan", 3, 50, 10, constraints={"provinces": ["Hunan"]}),
        _line("medical", 3, 10, 50, constraints={"certifications": ["ISO 13485"]}),
        _line("whitelist", 3, 10, 50, constraints={"sites": ["B"]}),
    ]}
    _, plan = _solve(doc)
    sites = {a.line: a.site for a in plan.assignments}
    assert sites == {"hunan": "A", "medical": "B", "whitelist": "B"}


def test_no_candidate_meets_constraints_is_reported() -> None:
    doc = {"sites": _two_sites(100, 100), "lines": [
        _line("ok", 1, 1, 2), _line("impossible", 2, 1, 2, constraints={"certifications": ["AS9100D"]})]}
    sc, plan = _solve(doc)
    assert plan.status == "infeasible"
    (un,) = plan.unassigned
    assert un.line == "impossible" and "AS9100D" in un.reason
    partial = sc.model_copy(update={"allow_partial": True, "unassigned_penalty_cny_per_unit": 1000.0})
    p2 = allocate(partial, time_limit_s=5)
    assert p2.status == "optimal" and [u.line for u in p2.unassigned] == ["impossible"]
    assert p2.objective == pytest.approx(1 + 2000)
    assert check_plan(partial, p2).ok


def test_lateness_penalty_and_hard_due() -> None:
    start = date(2026, 3, 2)
    cands = [{"site": "A", "unit_price_cny": 10, "hours_per_unit": {"fdm": 1}, "lead_days": 9,
              "shipping_cny_per_unit": 0, "shipping_days": 1},
             {"site": "B", "unit_price_cny": 13, "hours_per_unit": {"fdm": 1}, "lead_days": 2,
              "shipping_cny_per_unit": 0, "shipping_days": 1}]
    base = {"start_date": start.isoformat(), "sites": _two_sites(100, 100)}
    line = {"id": "l", "quantity": 4, "due_date": "2026-03-07", "candidates": cands}
    # A is 5 days late: at 0.5 CNY/unit/day A still wins (10 + 2.5 < 13), at 1 CNY B wins
    _, cheap = _solve({**base, "late_penalty_cny_per_unit_day": 0.5, "lines": [line]})
    assert cheap.assignments[0].site == "A" and cheap.assignments[0].late_days == 5
    assert cheap.costs.lateness_cny == pytest.approx(4 * 5 * 0.5)
    _, dear = _solve({**base, "late_penalty_cny_per_unit_day": 1.0, "lines": [line]})
    assert dear.assignments[0].site == "B" and dear.assignments[0].late_days == 0
    _, hard = _solve({**base, "late_penalty_cny_per_unit_day": 0.0,
                      "lines": [{**line, "constraints": {"max_late_days": 0}}]})
    assert hard.assignments[0].site == "B"


def test_geo_shipping_and_co2_weight() -> None:
    sites = [{"id": "near", "city": "Changsha", "province": "Hunan", "lat": 28.2, "lon": 112.97,
              "capacity_h_per_day": {"fdm": 100}},
             {"id": "far", "city": "Harbin", "province": "Heilongjiang", "lat": 45.75, "lon": 126.65,
              "capacity_h_per_day": {"fdm": 100}}]
    line = {"id": "l", "quantity": 5, "unit_mass_kg": 2.0, "destination": "Zhuzhou", "candidates": [
        {"site": "near", "unit_price_cny": 20, "hours_per_unit": {"fdm": 1}, "production_co2_kg_per_unit": 5},
        {"site": "far", "unit_price_cny": 18, "hours_per_unit": {"fdm": 1}, "production_co2_kg_per_unit": 0.1}]}
    _, plan = _solve({"sites": sites, "lines": [line]})
    # 2 kg over ~2,000 road km costs more than the 2 CNY price difference
    assert plan.assignments[0].site == "near" and plan.costs.shipping_cny > 0
    # with a heavy CO2 weight the low-carbon far site wins despite shipping
    _, green = _solve({"sites": sites, "lines": [line], "co2_cny_per_kg": 10.0})
    assert green.assignments[0].site == "far" and green.costs.co2_cny > 0


def test_greedy_is_never_better_than_the_optimum() -> None:
    rng = np.random.default_rng(7)
    costs = rng.integers(1, 50, size=(12, 4)).astype(float).tolist()
    uses = rng.integers(2, 9, size=(12, 4)).astype(float).tolist()
    sc = Scenario.model_validate(_gap_doc(costs, uses, [20.0, 20.0, 20.0, 20.0]))
    opt = allocate(sc, time_limit_s=5)
    greedy = allocate(sc, solver="greedy")
    assert opt.status == "optimal" and opt.greedy_objective is not None
    assert check_plan(sc, opt).ok
    if greedy.status != "infeasible":
        assert check_plan(sc, greedy).ok
        assert greedy.objective is not None and greedy.objective >= opt.objective - 1e-6  # type: ignore[operator]


def test_checker_catches_broken_plans() -> None:
    sc, plan = _solve({"sites": _two_sites(6, 10), "lines": [_line("l", 10, 10, 12, min_lot=4)]})
    over = plan.model_copy(update={"assignments": (Assignment(line="l", site="A", quantity=10),)})
    assert any("uses" in v for v in check_plan(sc, over).violations)
    lot = plan.model_copy(update={"assignments": (Assignment(line="l", site="A", quantity=6),
                                                  Assignment(line="l", site="B", quantity=3))})
    viol = check_plan(sc, lot).violations
    assert any("minimum lot" in v for v in viol) and any("!= quantity" in v for v in viol)
    wrong = plan.model_copy(update={"objective": (plan.objective or 0) - 1})
    assert any("objective" in v for v in check_plan(sc, wrong).violations)
    ghost = plan.model_copy(update={"assignments": (*plan.assignments,
                                                    Assignment(line="l", site="Z", quantity=1))})
    assert any("made no offer" in v for v in check_plan(sc, ghost).violations)


def test_bad_scenarios_are_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown site"):
        Scenario.model_validate({"sites": [{"id": "A"}], "lines": [{"id": "l", "quantity": 1,
                                                                     "candidates": [["B", 1, 1]]}]})
    with pytest.raises(ValidationError, match="duplicate line id"):
        Scenario.model_validate({"sites": [{"id": "A"}], "lines": [
            {"id": "l", "quantity": 1, "candidates": [["A", 1, 1]]},
            {"id": "l", "quantity": 1, "candidates": [["A", 1, 1]]}]})
    with pytest.raises(ValidationError, match="start_date"):
        Scenario.model_validate({"sites": [{"id": "A"}], "lines": [
            {"id": "l", "quantity": 1, "due_date": "2026-01-01", "candidates": [["A", 1, 1]]}]})
