"""Network simulator: determinism, common random numbers, conservation, disruptions, CLI, report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import DisruptionKind, SimParams
from fabgrid.errors import InputError
from fabgrid.sim.config import parse_disruptions
from fabgrid.sim.library import Library
from fabgrid.sim.metrics import interval, kpi_table
from fabgrid.sim.run import Setup, build_world, compare, run_policy

DAYS = 3
SCALE = 0.08


def _setup(network: Network, params: SimParams, library: Library, sites: tuple[str, ...],
           spec: str | None = None, days: int = DAYS) -> Setup:
    return Setup(network, params, library, days, parse_disruptions(spec, network, days), sites=sites,
                 rate_scale=SCALE)


def _scalars(m: dict[str, object]) -> str:
    timed = ("wall_s", "allocation_s", "sequencing_s")
    return json.dumps({k: v for k, v in m.items() if k not in timed}, sort_keys=True)


def test_library_facts_come_from_the_engines(library: Library) -> None:
    assert library.parts
    for p in library.parts:
        assert p.offers and all(p.offers.values())
        for q, offers in p.offers.items():
            assert all(o.unit_price_cny > 0 for o in offers.values())
            assert p.value_added_cny[q] >= 0
        for f in p.models.values():
            assert f.marginal_h > 0 and f.fixed_h >= 0 and 0 < f.fraction <= 1


def test_same_seed_same_result(network: Network, params: SimParams, library: Library,
                               sites: tuple[str, ...]) -> None:
    setup = _setup(network, params, library, sites)
    for policy in ("traditional", "fabgrid"):
        a = run_policy(setup, policy, 5)[1]
        b = run_policy(setup, policy, 5)[1]
        assert _scalars(a) == _scalars(b)
    c = run_policy(setup, "traditional", 6)[1]
    assert c["orders"] != a["orders"] or c["parts_good"] != a["parts_good"]


def test_common_random_numbers(network: Network, params: SimParams, library: Library, sites: tuple[str, ...]) -> None:
    setup = _setup(network, params, library, sites)
    t = build_world(setup, "traditional", 3)
    f = build_world(setup, "fabgrid", 3)
    for name in ("placed_h", "due_h", "part", "quantity", "city", "oem"):
        assert np.array_equal(getattr(t.orders, name), getattr(f.orders, name))
    assert len(t.orders) > 50
    assert t.orders.oem.any() and (~t.orders.oem).any()


@pytest.mark.parametrize("policy", ["traditional", "fabgrid"])
def test_conservation_of_orders(network: Network, params: SimParams, library: Library, sites: tuple[str, ...],
                                policy: str) -> None:
    setup = _setup(network, params, library, sites, "site:cs-jingkai-01:closed:day0-1", days=4)
    world, m = run_policy(setup, policy, 2)
    assert m["orders"] == m["orders_delivered"] + m["orders_in_progress"] + m["orders_lost"]
    assert m["orders_delivered"] > 0
    assert (world.units_left >= 0).all()
    assert not (world.lost & ~np.isnan(world.delivered_h) & (world.delivered_h <= world.end_h)).any()
    assert m["parts_good"] > 0 and 0 < m["oee"] <= 1 and 0 < m["utilisation"] <= 1
    # ISO 22400: planned runtime per unit x produced quantity cannot exceed the production time (no
    # speed gains in the model; set-up time is not production time)
    assert 0.5 < m["effectiveness"] <= 1 + 1e-9
    assert m["cost_per_part_cny"] > 0 and m["energy_kwh_per_value_added_cny"] > 0


def test_site_closure_stops_its_machines(network: Network, params: SimParams, library: Library,
                                         sites: tuple[str, ...]) -> None:
    closed = "cs-jingkai-01"
    setup = _setup(network, params, library, sites, f"site:{closed}:closed:day0-1")
    world, _ = run_policy(setup, "traditional", 1)
    kt = kpi_table(world)
    idx = [i for i, s in enumerate(world.machine_site) if s == closed]
    assert idx
    el = kt.elements["machine"]
    busy_days01 = el["apt_s"][idx, :2] + el["asut_s"][idx, :2]
    assert float(busy_days01.sum()) == 0.0
    offline = el["offline_s"][idx, :2]
    assert np.allclose(offline, 86400.0)
    assert all(not (0 <= t < 48) for t, s, _ in world.rec.build_log if s == closed)
    assert any(s == closed for _, s, _ in world.rec.build_log)  # it works again from day 2


def test_material_shortage_and_logistics_halt(network: Network, params: SimParams, library: Library,
                                              sites: tuple[str, ...]) -> None:
    mat = library.parts[0].material
    spec = f"material:{mat}:short:day0-1,province:Hunan:logistics:day1-1"
    setup = _setup(network, params, library, sites, spec)
    assert [d.kind for d in setup.disruptions] == [DisruptionKind.MATERIAL, DisruptionKind.PROVINCE]
    for policy in ("traditional", "fabgrid"):
        world, _ = run_policy(setup, policy, 4)
        assert not [b for b in world.rec.build_log if b[2] == mat and b[0] < 48.0]
        assert not [s for s in world.rec.ship_log if 24.0 <= s[0] < 48.0]
        assert world.rec.ship_log


def test_disruptions_spec_errors(network: Network) -> None:
    ds = parse_disruptions("site:cs-jingkai-01:closed:day3-6,material:pa12:short:day5", network, 30)
    assert (ds[0].start_h, ds[0].end_h) == (72.0, 168.0)
    assert ds[1].start_day == ds[1].end_day == 5
    for bad in ("site:nowhere:closed:day1-2", "site:cs-jingkai-01:open:day1-2", "province:Hunan:logistics:d1",
                "material:unobtainium:short:day1-2", "site:cs-jingkai-01:closed:day5-2", "site:cs-jingkai-01:closed"):
        with pytest.raises(InputError) as exc:
            parse_disruptions(bad, network, 30)
        assert exc.value.hint


def test_interval_is_the_t_interval() -> None:
    ci = interval([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0
    assert math.isclose(ci["half_width"], 4.302652729911275 / math.sqrt(3), rel_tol=1e-9)
    assert interval([5.0])["half_width"] == 0.0


def test_compare_and_report(network: Network, params: SimParams, library: Library, sites: tuple[str, ...],
                            tmp_path: Path) -> None:
    from fabgrid.sim.report import write_report

    doc = compare(_setup(network, params, library, sites, days=2), ["traditional", "fabgrid"], 1, 2)
    for p in ("traditional", "fabgrid"):
        for k in ("parts_per_machine_hour", "cost_per_part_cny", "energy_kwh_per_value_added_cny", "orders_lost"):
            assert set(doc["policies"][p][k]) >= {"mean", "low", "high"}
    assert doc["change"]["orders"]["mean"] == 0.0  # same demand under both policies
    out = tmp_path / "r.html"
    pngs = write_report(doc, params, out)
    text = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "Industry claims" in text and "Assumptions" in text
    assert len(pngs) >= 4
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_contract(capsys: pytest.CaptureFixture[str], sites: tuple[str, ...]) -> None:
    from fabgrid.cli import main

    main(["simulate", "--days", "2", "--seed", "1", "--policy", "both", "--sites", ",".join(sites[:8]),
          "--scale", "0.04", "--parts", "4", "--fast", "--json"])
    doc = json.loads(capsys.readouterr().out)
    for p in ("traditional", "fabgrid"):
        for k in ("parts_per_machine_hour", "cost_per_part_cny", "energy_kwh_per_value_added_cny", "on_time_rate",
                  "orders_lost"):
            assert k in doc["policies"][p]
    assert "parts_per_machine_hour" in doc["change"]
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--days", "2", "--disruptions", "site:nowhere:closed:day1-2", "--json"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "hint: " in err


def test_fabgrid_reroutes_a_closed_factory(network: Network, params: SimParams, library: Library,
                                           sites: tuple[str, ...]) -> None:
    closed = "cs-jingkai-01"
    setup = Setup(network, params, library, 3, parse_disruptions(f"site:{closed}:closed:day1-2", network, 3),
                  sites=sites, rate_scale=0.3)
    world, m = run_policy(setup, "fabgrid", 1)
    assert m["units_rerouted"] > 0  # queued work moved by network.disrupt.disrupt
    assert not [b for b in world.rec.build_log if b[1] == closed and 24.0 <= b[0] < 72.0]
    assert (world.units_left >= 0).all()  # nothing made twice
    assert m["orders"] == m["orders_delivered"] + m["orders_in_progress"] + m["orders_lost"]


def test_effectiveness_is_at_most_one_when_every_build_has_ended(network: Network, params: SimParams,
                                                                 library: Library, sites: tuple[str, ...]) -> None:
    """ISO 22400: planned runtime per unit x produced quantity over the production time. Set-up is not
    production time, so it must not be in the planned unit time either: with every build ended (orders of
    the first day only, a week to make them) the ratio is 1 at most (the model has no speed gains)."""
    from dataclasses import fields, replace

    from fabgrid.costing.rates import load_rates
    from fabgrid.sim.demand import generate_orders
    from fabgrid.sim.metrics import run_metrics

    setup = _setup(network, params, library, sites, days=7)
    orders = generate_orders(params, library, 1, 5, SCALE)
    first = orders.placed_h < 8.0
    orders = replace(orders, **{f.name: getattr(orders, f.name)[first] for f in fields(orders) if f.name != "cities"})
    world = build_world(setup, "traditional", 5, orders=orders)
    world.env.run(until=world.end_h)
    m = run_metrics(world, load_rates())
    assert m["parts_good"] > 0
    assert 0.95 < m["effectiveness"] <= 1 + 1e-9
