"""ISO 22400-2 KPI functions: hand-computed cases, the formulas checked term by term, aggregation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from fabgrid.errors import InputError
from fabgrid.telemetry.events import columns_from_events, parse_ts
from fabgrid.telemetry.kpi import FORMULAS, compute
from fabgrid.telemetry.state import fixed_periods

T0 = "2026-11-20T00:00:00Z"


def _ts(hours: float) -> str:
    return f"2026-11-20T{int(hours):02d}:{round(hours % 1 * 60):02d}:00Z"


def _window(h0: float = 0, h1: float = 8, period_h: float | None = None):
    lo, hi = parse_ts(T0, "t") + h0 * 3600, parse_ts(T0, "t") + h1 * 3600
    return fixed_periods(lo, hi, None if period_h is None else period_h * 3600)


# One machine, 8 h: setup 0.5 h, producing 4 h, unplanned downtime 0.5 h, idle 1 h,
# planned downtime 1 h, offline 1 h; 40 good (4 of them reworked) + 5 scrap at PRU 240 s; 12.5 kWh.
HAND = [
    {"ts": _ts(0), "machine": "m1", "site": "s1", "type": "state", "state": "setup"},
    {"ts": _ts(0.5), "machine": "m1", "type": "state", "state": "producing"},
    {"ts": _ts(4.5), "machine": "m1", "type": "state", "state": "unplanned_downtime"},
    {"ts": _ts(5), "machine": "m1", "type": "state", "state": "idle"},
    {"ts": _ts(6), "machine": "m1", "type": "state", "state": "planned_downtime"},
    {"ts": _ts(7), "machine": "m1", "type": "state", "state": "offline"},
    {"ts": _ts(4.5), "machine": "m1", "type": "count", "good": 40, "scrap": 5, "rework": 4,
     "planned_unit_s": 240},
    {"ts": _ts(4.5), "machine": "m1", "type": "energy", "kwh": 12.5},
]

# Hand-computed: PBT = 0.5 + 4 + 0.5 + 1 = 6 h, APT = 4 h, AUPT = 4.5 h, AOET = AUBT = 5 h,
# PRU*PQ = 240 s * 45 = 3 h.
EXPECTED = {
    "availability": 4 / 6,
    "effectiveness": 3 / 4,
    "quality_ratio": 40 / 45,
    "oee": (4 / 6) * (3 / 4) * (40 / 45),
    "nee": (4.5 / 6) * (3 / 4) * (40 / 45),
    "technical_efficiency": 4 / 4.5,
    "setup_rate": 0.5 / 4.5,
    "scrap_ratio": 5 / 45,
    "rework_ratio": 4 / 45,
    "first_pass_yield": 36 / 45,
    "throughput_rate_per_h": 45 / 5,
    "energy_kwh_per_good_unit": 12.5 / 40,
}


def test_hand_case_machine_kpis() -> None:
    rows = compute(columns_from_events(HAND), _window()).rows()
    m = next(r for r in rows if r.scope == "machine")
    for name, want in EXPECTED.items():
        assert getattr(m, name) == pytest.approx(want, rel=1e-12), name
    e = m.elements
    assert (e.pbt_s, e.pot_s, e.pdot_s, e.offline_s) == (6 * 3600, 7 * 3600, 3600, 3600)
    assert (e.pq, e.gq, e.sq, e.rq) == (45, 40, 5, 4)


def test_undefined_kpis_are_none_not_zero() -> None:
    ev = [{"ts": _ts(0), "machine": "m", "type": "state", "state": "offline"}]
    m = compute(columns_from_events(ev), _window()).rows()[0]
    assert m.availability is None and m.oee is None and m.quality_ratio is None
    assert m.elements.offline_s == 8 * 3600


def test_window_clips_states_held_from_before() -> None:
    # producing since 02:00 (before the window), idle from 06:00; window 04:00-08:00
    ev = [{"ts": _ts(2), "machine": "m", "type": "state", "state": "producing"},
          {"ts": _ts(6), "machine": "m", "type": "state", "state": "idle"}]
    m = compute(columns_from_events(ev), _window(4, 8)).rows()[0]
    assert m.elements.apt_s == 2 * 3600 and m.elements.idle_s == 2 * 3600
    assert m.availability == pytest.approx(0.5)


def test_periods_split_states_and_sum_to_total() -> None:
    t = compute(columns_from_events(HAND), _window(period_h=3))
    apt = t.elements["machine"]["apt_s"][0]
    # producing 0.5-4.5 h: 2.5 h in [0,3), 1.5 h in [3,6), 0 in [6,8), total 4 h
    assert apt.tolist() == pytest.approx([2.5 * 3600, 1.5 * 3600, 0.0, 4 * 3600])


def test_power_is_integrated_and_energy_summed() -> None:
    ev = [{"ts": _ts(0), "machine": "m", "type": "state", "state": "producing"},
          {"ts": _ts(0), "machine": "m", "type": "power", "power_w": 2000},
          {"ts": _ts(2), "machine": "m", "type": "power", "power_w": 500},
          {"ts": _ts(1), "machine": "m", "type": "count", "good": 10, "planned_unit_s": 60, "value_cny": 250}]
    m = compute(columns_from_events(ev), _window(0, 4)).rows()[0]
    assert m.energy_kwh == pytest.approx(2.0 * 2 + 0.5 * 2)
    assert m.energy_kwh_per_good_unit == pytest.approx(0.5)
    assert m.energy_kwh_per_cny == pytest.approx(5.0 / 250)


def test_site_and_network_aggregate_elements_not_ratios() -> None:
    ev = [{"ts": _ts(0), "machine": "a", "site": "s1", "type": "state", "state": "producing"},
          {"ts": _ts(0), "machine": "b", "site": "s1", "type": "state", "state": "producing"},
          {"ts": _ts(6), "machine": "b", "type": "state", "state": "unplanned_downtime"},
          {"ts": _ts(0), "machine": "c", "site": "s2", "type": "state", "state": "idle"},
          {"ts": _ts(1), "machine": "a", "type": "count", "good": 90, "scrap": 10, "planned_unit_s": 100},
          {"ts": _ts(1), "machine": "b", "type": "count", "good": 1, "scrap": 0, "planned_unit_s": 100}]
    rows = {(r.scope, r.key): r for r in compute(columns_from_events(ev), _window()).rows({"s1": 0.6})}
    s1 = rows[("site", "s1")]
    # b's downtime is unplanned: inside PBT, outside APT
    assert s1.elements.apt_s == (8 + 6) * 3600
    assert s1.availability == pytest.approx(14 / 16)
    assert s1.quality_ratio == pytest.approx(91 / 101)  # not the mean of 0.9 and 1.0
    net = rows[("network", "network")]
    assert net.availability == pytest.approx(14 / 24)
    assert rows[("machine", "c")].co2_kg is None and rows[("machine", "a")].co2_kg == 0.0


@pytest.mark.parametrize(("event", "code"), [
    ({"ts": T0, "machine": "m", "type": "state", "state": "sleeping"}, "telemetry.state"),
    ({"ts": "2026-11-20T00:00:00", "machine": "m", "type": "state", "state": "idle"}, "telemetry.ts"),
    ({"ts": T0, "machine": "m", "type": "count", "good": 1, "rework": 2, "planned_unit_s": 5},
     "telemetry.event_field"),
    ({"ts": T0, "machine": "m", "type": "count", "good": 3}, "telemetry.event_field"),
    ({"ts": T0, "machine": "m", "type": "vibration"}, "telemetry.event_type"),
    ({"ts": T0, "type": "state", "state": "idle"}, "telemetry.event_field"),
])
def test_bad_events_name_the_problem(event: dict[str, object], code: str) -> None:
    with pytest.raises(InputError) as err:
        columns_from_events([event])
    assert err.value.code == code and "event 1" in err.value.message


# ---- formulas.txt (ISO 22400-2, hsu-aut ontology) checked term by term -------------------------

ELEMENT_VALUES = {"APT": 4.0, "PBT": 6.0, "PRU": 240 / 3600, "PQ": 45.0, "GQ": 40.0, "SQ": 5.0, "RQ": 4.0,
                  "AUPT": 4.5, "ASUT": 0.5, "ADET": 0.5, "AOET": 5.0, "GP": 36.0, "IP": 45.0}


def _evaluate(rhs: str, values: dict[str, float]) -> float:
    expr = rhs
    for name in sorted(values, key=len, reverse=True):
        expr = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", repr(values[name]), expr)
    assert re.fullmatch(r"[0-9.eE+\-*/() ]+", expr), f"unresolved term in {rhs!r} -> {expr!r}"
    return float(eval(expr, {"__builtins__": {}}))  # arithmetic only, checked above


def _ours(name: str, v: dict[str, float]) -> float:
    fn = FORMULAS[name][2]
    a = lambda *k: [np.float64(v[x]) for x in k]  # noqa: E731
    args = {
        "availability": a("APT", "PBT"), "effectiveness": [np.float64(v["PRU"] * v["PQ"]), v["APT"]],
        "quality_ratio": a("GQ", "PQ"), "oee": a("Availability", "Effectiveness", "Quality rate"),
        "nee": a("AUPT", "PBT", "Effectiveness", "Quality rate"), "technical_efficiency": a("APT", "ADET"),
        "setup_rate": a("ASUT", "AUPT"), "scrap_ratio": a("SQ", "PQ"), "rework_ratio": a("RQ", "PQ"),
        "first_pass_yield": a("GP", "IP"), "throughput_rate": [np.float64(v["PQ"]), np.float64(v["AOET"] * 3600)],
    }[name]
    return float(fn(*args))


def _check_formulas(lines: dict[str, str]) -> None:
    v = dict(ELEMENT_VALUES)
    v["Availability"] = v["APT"] / v["PBT"]
    v["Effectiveness"] = v["PRU"] * v["PQ"] / v["APT"]
    v["Quality rate"] = v["GQ"] / v["PQ"]
    for name, (lhs, rhs, _fn) in FORMULAS.items():
        assert lhs in lines, f"{lhs} not in formulas.txt"
        assert lines[lhs].replace(" ", "") == rhs.replace(" ", ""), (lhs, lines[lhs], rhs)
        want = _evaluate(lines[lhs], v)
        assert _ours(name, v) == pytest.approx(want, rel=1e-12), name


def test_formulas_match_iso22400_text(shared_benchmarks: Path) -> None:
    text = (shared_benchmarks / "iso22400" / "formulas.txt").read_text(encoding="utf-8")
    lines = {}
    for line in text.splitlines():
        if "=" in line:
            lhs, rhs = line.split("=", 1)
            lines.setdefault(lhs.strip(), rhs.strip())
    _check_formulas(lines)


def test_formulas_hardcoded_copy() -> None:
    # the same check without ../shared: the standard's right-hand sides as published
    lines = {lhs: rhs for lhs, rhs, _ in FORMULAS.values()}
    _check_formulas(lines)
    # and the hand case equals the engine's own pipeline (events -> elements -> KPIs)
    m = compute(columns_from_events(HAND), _window()).rows()[0]
    assert m.oee == pytest.approx(_evaluate("Availability * Effectiveness * Quality rate", {
        "Availability": 4 / 6, "Effectiveness": 0.75, "Quality rate": 40 / 45}))
    assert math.isclose(m.first_pass_yield or 0, 0.8)


def test_job_counts_are_spread_over_the_job_across_periods() -> None:
    ev = [{"ts": _ts(0), "machine": "m", "type": "state", "state": "producing"},
          {"ts": _ts(2), "machine": "m", "type": "job", "event": "start", "job": "j1"},
          {"ts": _ts(6), "machine": "m", "type": "job", "event": "end", "job": "j1", "good": 40, "scrap": 0,
           "planned_unit_s": 360},
          {"ts": _ts(7), "machine": "m", "type": "count", "good": 3, "planned_unit_s": 60}]
    t = compute(columns_from_events(ev), _window(period_h=4))
    gq = t.elements["machine"]["gq"][0]
    assert gq.tolist() == pytest.approx([20.0, 23.0, 43.0])  # job 2-6 h split 2:2; the count is a point
    assert t.elements["machine"]["planned_time_s"][0, 0] == pytest.approx(20 * 360)
