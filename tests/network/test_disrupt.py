"""Generated scenarios, allocation and every disruption kind: what moved, what became late, the rest kept."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from fabgrid.domain.allocation import Disruption, Plan, Scenario
from fabgrid.domain.catalog import Network
from fabgrid.errors import NotFoundError
from fabgrid.network.check import check_plan
from fabgrid.network.disrupt import disrupt
from fabgrid.network.generate import generate_scenario
from fabgrid.network.solve import allocate


@pytest.fixture(scope="module")
def planned(network: Network) -> tuple[Scenario, Plan]:
    sc = generate_scenario(network, n_sites=10, n_lines=80, seed=4)
    plan = allocate(sc, time_limit_s=5, gap_target=1e-3)
    assert plan.status in ("optimal", "feasible")
    assert check_plan(sc, plan).ok
    return sc, plan


def test_generator_is_seeded_and_uses_the_network(network: Network) -> None:
    a = generate_scenario(network, n_sites=12, n_lines=30, seed=9)
    b = generate_scenario(network, n_sites=12, n_lines=30, seed=9)
    c = generate_scenario(network, n_sites=12, n_lines=30, seed=10)
    assert a == b and a != c
    assert len(a.sites) == 12 and len(a.lines) == 30
    # 8 shipped sites, 4 synthetic clones placed in logistics cities
    assert sum(s.id.startswith("gen") for s in a.sites) == 4
    mats = {ln.material for ln in a.lines}
    assert mats <= {"pla", "pa12"}
    sls_sites = {s.id for s in a.sites if any(m.resource == "sls" for m in s.machines)}
    for ln in a.lines:
        assert ln.candidates, ln.id
        if ln.material == "pa12":
            assert {c.site for c in ln.candidates} <= sls_sites


def _pieces(plan: Plan) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for a in plan.assignments:
        out[a.line][a.site] = out[a.line].get(a.site, 0) + a.quantity
    return out


def _check_report(sc: Scenario, plan: Plan, d: Disruption, rep: object) -> None:
    from fabgrid.domain.allocation import DisruptionReport

    assert isinstance(rep, DisruptionReport)
    # a re-plan never fails: what cannot be placed any more is reported unplaced (partial plan)
    new_sc = sc.model_copy(update={"disruptions": (d,), "allow_partial": True})
    chk = check_plan(new_sc, rep.plan)
    assert chk.ok, chk.violations
    before, after = _pieces(plan), _pieces(rep.plan)
    affected = set(rep.affected_lines)
    for line in before.keys() | after.keys():
        if line not in affected:
            assert before.get(line) == after.get(line), f"unaffected line {line} changed"
    moved = Counter()
    for m in rep.moved:
        assert m.line in affected and m.quantity > 0
        if m.from_site is not None:
            moved[m.line] += m.quantity
    assert rep.churn_units == sum(moved.values())
    for line in affected:
        lost = sum(max(0, q - after.get(line, {}).get(s, 0)) for s, q in before.get(line, {}).items())
        assert moved[line] == lost
    for late in rep.late:
        assert late.line in affected
        assert late.late_days_after is None or late.late_days_after > late.late_days_before


def test_site_closure_moves_work_away(planned: tuple[Scenario, Plan]) -> None:
    sc, plan = planned
    busiest = Counter(a.site for a in plan.assignments).most_common(1)[0][0]
    d = Disruption(kind="site", site=busiest, days=sc.horizon_days)       # closed for the whole horizon
    rep = disrupt(sc, plan, d, time_limit_s=5)
    _check_report(sc, plan, d, rep)
    at_site = {a.line for a in plan.assignments if a.site == busiest}
    assert set(rep.affected_lines) == at_site
    assert not any(a.site == busiest for a in rep.plan.assignments)    # no capacity left there
    was_there = sum(a.quantity for a in plan.assignments if a.site == busiest)
    assert sum(m.quantity for m in rep.moved if m.from_site == busiest) == was_there
    assert rep.churn_units >= was_there
    unplaced = {u.line for u in rep.plan.unassigned}
    assert unplaced <= at_site
    assert {x.line for x in rep.late if x.late_days_after is None} == unplaced


def test_short_closure_makes_lines_late_or_move(planned: tuple[Scenario, Plan]) -> None:
    sc, plan = planned
    busiest = Counter(a.site for a in plan.assignments).most_common(1)[0][0]
    d = Disruption(kind="site", site=busiest, days=3)
    rep = disrupt(sc, plan, d, time_limit_s=5)
    _check_report(sc, plan, d, rep)
    kept = [a for a in rep.plan.assignments if a.site == busiest]
    before = {(a.line, a.site): a for a in plan.assignments}
    for a in kept:   # whatever stays at the closed site is delivered 3 days later
        assert a.delivery_day == before[(a.line, a.site)].delivery_day + 3  # type: ignore[operator]
    assert rep.moved or rep.late


@pytest.mark.parametrize("kind", ["machine", "province", "route", "material"])
def test_other_disruption_kinds(planned: tuple[Scenario, Plan], kind: str) -> None:
    sc, plan = planned
    used = Counter(a.site for a in plan.assignments).most_common(1)[0][0]
    site = next(s for s in sc.sites if s.id == used)
    dest = next(ln.destination for ln in sc.lines if ln.id == plan.assignments[0].line)
    d = {
        "machine": Disruption(kind="machine", machine=site.machines[0].id, days=sc.horizon_days),
        "province": Disruption(kind="province", province="Hunan", days=4),
        "route": Disruption(kind="route", route=(site.city, dest or "Changsha"), days=5),
        "material": Disruption(kind="material", material="pla", site=used, days=4),
    }[kind]
    rep = disrupt(sc, plan, d, time_limit_s=5)
    _check_report(sc, plan, d, rep)
    if kind == "province":
        hunan = {s.id for s in sc.sites if s.province == "Hunan"}
        touched = {a.line for a in plan.assignments if a.site in hunan}
        assert touched <= set(rep.affected_lines)


def test_disruption_targets_are_validated(planned: tuple[Scenario, Plan]) -> None:
    sc, plan = planned
    for d in (Disruption(kind="site", site="nowhere", days=1), Disruption(kind="machine", machine="m?", days=1),
              Disruption(kind="province", province="Atlantis", days=1),
              Disruption(kind="material", material="unobtainium", days=1)):
        with pytest.raises(NotFoundError):
            disrupt(sc, plan, d)
