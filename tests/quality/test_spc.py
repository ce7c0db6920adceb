"""SPC: constants against their definitions, hand-computed capability and limits, WE rules 1-4."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from fabgrid.domain.quality import Tolerance
from fabgrid.errors import InputError
from fabgrid.quality.spc import capability, chart_constants, individuals_mr, spc_report, western_electric, xbar_r

TOL = Tolerance(feature="bore", nominal_mm=10.1, lsl_mm=9.5, usl_mm=10.7)
VALUES = [10.0, 10.2, 9.9, 10.1, 10.3]  # mean 10.1, MR-bar 0.225, s 0.158114


def test_constants_match_their_definitions() -> None:
    table = chart_constants()
    assert sorted(table) == list(range(2, 26))
    for n, c in table.items():
        d2, _ = integrate.quad(lambda x, n=n: 1 - stats.norm.cdf(x) ** n - stats.norm.sf(x) ** n, -np.inf, np.inf)
        assert c.d2 == pytest.approx(d2, abs=0.001), n
        assert c.a2 == pytest.approx(3 / (c.d2 * np.sqrt(n)), abs=0.002), n
        assert c.d4 == pytest.approx(1 + 3 * c.d3 / c.d2, abs=0.003), n
        assert c.d3_lower == pytest.approx(max(0.0, 1 - 3 * c.d3 / c.d2), abs=0.003), n
    rng = np.random.default_rng(0)
    for n in (2, 5, 10):
        x = rng.normal(size=(60_000, n))
        r = x.max(axis=1) - x.min(axis=1)
        assert table[n].d3 == pytest.approx(r.std(), abs=0.01)


def test_capability_by_hand() -> None:
    cap = capability(VALUES, TOL)
    sigma = 0.225 / 1.128
    assert cap.mean_mm == pytest.approx(10.1)
    assert cap.sigma_within_mm == pytest.approx(sigma)
    assert cap.cp == pytest.approx(1.2 / (6 * sigma))
    assert cap.cpk == pytest.approx(0.6 / (3 * sigma))
    assert cap.pp == pytest.approx(1.2 / (6 * 0.158114), rel=1e-5)
    assert cap.out_of_tolerance == 0
    off = capability(VALUES, Tolerance(feature="bore", nominal_mm=10.0, lsl_mm=9.5, usl_mm=10.25))
    assert off.cpk == pytest.approx(0.15 / (3 * sigma)) and off.out_of_tolerance == 1
    one_sided = capability(VALUES, Tolerance(feature="bore", nominal_mm=10.0, usl_mm=10.6))
    assert one_sided.cp is None and one_sided.pp is None
    assert one_sided.ppk == pytest.approx(0.5 / (3 * 0.158114), rel=1e-5)


def test_individuals_limits_by_hand() -> None:
    i_chart, mr_chart, sigma = individuals_mr(VALUES)
    assert sigma == pytest.approx(0.225 / 1.128)
    assert i_chart.ucl == pytest.approx(10.1 + 3 * 0.225 / 1.128)
    assert i_chart.lcl == pytest.approx(10.1 - 3 * 0.225 / 1.128)
    assert mr_chart.center == pytest.approx(0.225) and mr_chart.ucl == pytest.approx(3.267 * 0.225)
    assert mr_chart.lcl == 0.0


def test_xbar_r_limits_by_hand() -> None:
    xbar, r, sigma = xbar_r([[1, 2, 3], [2, 3, 4], [3, 4, 5], [2, 2, 2]])
    assert xbar.values == [2.0, 3.0, 4.0, 2.0] and xbar.center == pytest.approx(2.75)
    assert xbar.ucl == pytest.approx(2.75 + 1.023 * 1.5) and xbar.lcl == pytest.approx(2.75 - 1.023 * 1.5)
    assert r.center == pytest.approx(1.5) and r.ucl == pytest.approx(2.574 * 1.5) and r.lcl == 0.0
    assert sigma == pytest.approx(1.5 / 1.693)


@pytest.mark.parametrize(("values", "rule", "index", "points"), [
    ([0, 0, 3.5, 0], 1, 2, [2]),
    ([0, 0, -3.2], 1, 2, [2]),
    ([0, 2.5, 0.5, 2.2, 0], 2, 3, [1, 3]),
    ([1.5, 1.2, 0.5, 1.1, 1.3], 3, 4, [0, 1, 3, 4]),
    ([-0.5] * 8, 4, 7, list(range(8))),
])
def test_we_rule_triggers(values: list[float], rule: int, index: int, points: list[int]) -> None:
    found = western_electric(values, 0.0, 1.0)
    assert [(v.rule, v.index, v.points) for v in found] == [(rule, index, points)]


@pytest.mark.parametrize("values", [
    [2.9, -2.9, 0, 0],                    # rule 1: inside 3 sigma
    [2.5, 0, 0, 2.5],                     # rule 2: too far apart
    [2.5, -2.5, 0],                       # rule 2: opposite sides
    [1.5, 1.2, 0.5, 0.5, 1.3],            # rule 3: only 3 of 5
    [0.5] * 7 + [-0.5],                   # rule 4: 7 in a row
])
def test_we_rules_not_triggered(values: list[float]) -> None:
    assert western_electric(values, 0.0, 1.0) == []


def test_report_raises_alarms() -> None:
    rng = np.random.default_rng(3)
    x = list(10 + 0.02 * rng.normal(size=30))
    x[20] = 10.3
    rep = spc_report(x, TOL, subgroup_size=1)
    assert any(v.rule == 1 and v.index == 20 for v in rep.location.violations)
    assert any("WE rule 1" in a for a in rep.alarms)
    steady = spc_report(list(10.1 + 0.01 * np.sin(np.arange(20) * 2.0)), TOL, subgroup_size=4)
    assert steady.location.kind == "xbar" and steady.capability.cpk is not None and steady.capability.cpk > 1.33


def test_bad_input() -> None:
    with pytest.raises(InputError):
        spc_report([1.0, 2.0, 3.0], TOL, subgroup_size=2)
    with pytest.raises(InputError):
        xbar_r(np.ones((4, 30)))
    with pytest.raises(InputError):
        capability([float("nan"), 1.0], TOL)
    with pytest.raises(ValueError):
        Tolerance(feature="x", nominal_mm=1.0)
