"""The scorecard as a cost in the allocation (issue 18, item 5): the penalty of a record, hand-computed, bounded;
the allocation engine adds it to the objective, so of two otherwise equal offers the worse record loses the line
and a factory late half the time loses work it would win on price alone. The independent checker agrees."""

from __future__ import annotations

from datetime import date

import pytest

from fabgrid.domain.allocation import Candidate, Line, Scenario, ScenarioSite
from fabgrid.network.check import check_plan
from fabgrid.network.solve import allocate
from fabgrid.services.factories import Scorecard, factory_rules, record_penalty


def card(**kw: object) -> Scorecard:
    base: dict[str, object] = {"days": 90, "orders": 0, "lines": 0, "delivered": 0, "on_time_rate": None,
                               "quality_issue_rate": None}
    return Scorecard(**{**base, **kw})  # type: ignore[arg-type]


def test_no_record_no_penalty() -> None:
    p = record_penalty(card())
    assert (p.share, p.late, p.defects, p.declines) == (0.0, 0.0, 0.0, 0.0)
    assert record_penalty(card(delivered=20, on_time=20, on_time_rate=1.0, acceptance_rate=1.0, answers=20,
                               inspected=20, quality_issue_rate=0.0, claim_rate=0.0)).share == 0.0


def test_hand_computed_penalty() -> None:
    r = factory_rules()
    assert (r.late_weight, r.defect_weight, r.decline_weight, r.prior_count, r.max_share) == (0.5, 1.0, 0.1, 3, 0.5)
    # late half the time over 10 deliveries: 0.5 * 10/13 = 0.384615..., weight 0.5 -> 0.192308
    late = record_penalty(card(delivered=10, on_time=5, on_time_rate=0.5))
    assert late.late == pytest.approx(5 / 13) and late.share == pytest.approx(0.5 * 5 / 13, abs=1e-6)
    # one delivery late of one: shrunk to 1/4, not 100 %
    assert record_penalty(card(delivered=1, on_time_rate=0.0)).late == pytest.approx(0.25)
    # everything at once: failed inspections 0.2 of 5 inspected, upheld claims 0.1 of 10 delivered, declines
    # 0.25 of 8 answers
    p = record_penalty(card(delivered=10, on_time=5, on_time_rate=0.5, inspected=5, quality_issue_rate=0.2,
                            claims_upheld=1, claim_rate=0.1, answers=8, acceptance_rate=0.75))
    defects = 0.2 * 5 / 8 + 0.1 * 10 / 13
    assert p.defects == pytest.approx(defects)
    assert p.declines == pytest.approx(0.25 * 8 / 11)
    assert p.share == pytest.approx(0.5 * 5 / 13 + defects + 0.1 * 0.25 * 8 / 11, abs=1e-6)  # 0.412413
    # bounded: the worst record costs at most max_share of the price
    worst = record_penalty(card(delivered=500, on_time_rate=0.0, inspected=500, quality_issue_rate=1.0,
                                claim_rate=1.0, answers=500, acceptance_rate=0.0))
    assert worst.share == r.max_share == 0.5


def scenario(price_a: float, risk_a: float, price_b: float, risk_b: float) -> Scenario:
    sites = tuple(ScenarioSite(id=s, city="Changsha", province="Hunan", capacity_h_per_day={"fdm": 20.0})
                  for s in ("site-a", "site-b"))
    line = Line(id="L1", material="fdm_pla", quantity=10, due_date=date(2027, 3, 10), destination="Changsha",
                split=False, candidates=(
                    Candidate(site="site-a", unit_price_cny=price_a, hours_per_unit={"fdm": 0.5}, lead_days=3,
                              shipping_cny_per_unit=0.0, shipping_days=1, risk_cny_per_unit=risk_a),
                    Candidate(site="site-b", unit_price_cny=price_b, hours_per_unit={"fdm": 0.5}, lead_days=3,
                              shipping_cny_per_unit=0.0, shipping_days=1, risk_cny_per_unit=risk_b)))
    return Scenario(start_date=date(2027, 3, 1), horizon_days=10, sites=sites, lines=(line,))


@pytest.mark.parametrize("solver", ["highs", "greedy"])
def test_the_worse_record_loses_a_tie(solver: str) -> None:
    for bad, good in (("a", "b"), ("b", "a")):
        risk = record_penalty(card(answers=4, acceptance_rate=0.5)).share * 40.0  # half its lines declined
        assert risk > 0
        sc = scenario(40.0, risk if bad == "a" else 0.0, 40.0, risk if bad == "b" else 0.0)
        plan = allocate(sc, time_limit_s=5, solver=solver)
        assert [(a.site, a.quantity) for a in plan.assignments] == [(f"site-{good}", 10)]
        assert plan.costs.risk_cny == 0.0 and plan.objective == pytest.approx(400.0)
        assert check_plan(sc, plan).violations == []


def test_late_half_the_time_loses_work_it_would_win_on_price_alone() -> None:
    share = record_penalty(card(delivered=20, on_time=10, on_time_rate=0.5)).share  # 0.5 * 0.5 * 20/23
    assert share == pytest.approx(0.2174, abs=1e-4)
    # site a is 10 % cheaper: on price alone it wins ...
    plain = allocate(scenario(100.0, 0.0, 110.0, 0.0), time_limit_s=5)
    assert [a.site for a in plain.assignments] == ["site-a"]
    # ... with its record priced in (21.7 CNY a unit) it loses to the punctual site b
    sc = scenario(100.0, share * 100.0, 110.0, 0.0)
    plan = allocate(sc, time_limit_s=5)
    assert [a.site for a in plan.assignments] == ["site-b"]
    assert plan.costs.production_cny == pytest.approx(1100.0) and plan.costs.risk_cny == 0.0
    assert check_plan(sc, plan).violations == []
    # a record that is only a little worse does not outweigh a 10 % lower price
    small = record_penalty(card(delivered=20, on_time=18, on_time_rate=0.9)).share
    mild = allocate(scenario(100.0, small * 100.0, 110.0, 0.0), time_limit_s=5)
    assert [a.site for a in mild.assignments] == ["site-a"]
    assert mild.costs.risk_cny == pytest.approx(10 * small * 100.0, rel=1e-6)
    assert mild.objective == pytest.approx(1000.0 + mild.costs.risk_cny)
