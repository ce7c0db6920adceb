"""Parts priced by hand from the formulas and the data, and the monotonicity of prices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trimesh

from fabgrid.costing.base import estimate
from fabgrid.costing.part import Part, from_mesh
from fabgrid.costing.postprocess import post_process
from fabgrid.costing.price import machine_rate_cny_per_h, price_estimate
from fabgrid.costing.quote import quote_network
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import Network, ProcessFamily
from fabgrid.domain.quote import QuoteRequest

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday morning in China


def test_cnc_box_priced_by_hand(network: Network, rates: Rates, box_part: Part) -> None:
    cat, site = network.catalog, network.sites["b"]
    model, mat = cat.machine_models["mill"], cat.materials["al"]
    cnc = rates.section("cnc")
    allow = cnc["stock_allowance_mm"]
    stock = (40 + 2 * allow) * (30 + 2 * allow) * (20 + 2 * allow)
    e = mat.properties["specific_cutting_energy_j_mm3"]
    rough = (stock - 24000.0) * e / (model.params["spindle_kw"] * 1000 * cnc["roughing_power_share"])
    finish = 5200.0 / (cnc["finish_cm2_per_min_j_mm3"] / e * 100 / 60)
    tools = 1 * cnc["tools_per_setup"] * model.params["tool_change_s"]  # near-convex: 2 sides, 1 setup
    cycle = rough + finish + tools
    est = estimate(box_part, model, mat, 1, rates)
    assert est.time_s == pytest.approx(cycle + cnc["setup_s"], rel=1e-9)
    assert est.material_g == pytest.approx(stock * 2.7 / 1000, rel=1e-9)

    post = post_process(cat, ProcessFamily.CNC, box_part.area_mm2, None)
    pr = price_estimate(est, model, mat, site, post, rates)
    p = rates.price
    productive_h = p.hours_per_year * p.machine_utilisation
    rate = model.price_cny / model.lifetime_h + model.maintenance_cny_per_year / productive_h
    assert machine_rate_cny_per_h(model, rates) == pytest.approx(rate)
    direct = (est.time_s / 3600 * rate + est.energy_kwh * site.electricity_cny_per_kwh
              + est.material_g / 1000 * mat.price_cny_per_kg
              + (p.handling_min_per_part[ProcessFamily.CNC] + p.setup_min[ProcessFamily.CNC]) / 60
              * site.labour_cny_per_h)
    unit = direct * (1 + p.overhead_pct / 100) * (1 + p.margin_pct / 100)
    assert pr.direct_cny == pytest.approx(direct, rel=1e-9)
    assert pr.unit_cny == pytest.approx(max(unit, p.minimum_order_cny[ProcessFamily.CNC]), rel=1e-9)


def test_sls_box_priced_by_hand(network: Network, rates: Rates, box_part: Part) -> None:
    cat, site = network.catalog, network.sites["a"]
    model, mat = cat.machine_models["sls"], cat.materials["pa12"]
    pb = rates.section("powder_bed")
    prm = model.params
    height = 24000.0 / (pb["packing_density"] * 300 * 300)
    layers_s = height / 0.1 * prm["recoat_s_per_layer"]
    scan = 24000.0 / (prm["hatch_mm"] * 0.1 * prm["scan_speed_mm_s"])
    warm = prm["warmup_s"] * 24000.0 / (pb["packing_density"] * 300**3)
    est = estimate(box_part, model, mat, 1, rates)
    assert est.time_s == pytest.approx(layers_s + scan + warm, rel=1e-9)
    assert est.material_g == pytest.approx(24.0 * (1 + pb["cake_factor"] * 0.3), rel=1e-9)
    post = post_process(cat, ProcessFamily.SLS, box_part.area_mm2, "dyeing")
    assert post.steps == ("depowdering", "dyeing")
    assert post.operator_s == pytest.approx(90 + 60) and post.consumables_cny == 2.0 and post.lead_days == 1
    pr = price_estimate(est, model, mat, site, post, rates)
    assert pr.consumables_cny == 2.0
    assert pr.material_cny == pytest.approx(est.material_g / 1000 * 400)


@pytest.mark.parametrize("material", ["pla", "pa12", "al"])
def test_more_volume_is_never_cheaper(network: Network, rates: Rates, material: str) -> None:
    prices = []
    for s in (1.0, 1.3, 1.7, 2.2):
        part = from_mesh(trimesh.creation.box((20 * s, 15 * s, 10 * s)))
        offers, _ = quote_network(part, network, QuoteRequest(material=material, quantity=20), rates, NOW)
        prices.append({o.site: o.unit_price_cny for o in offers})
    for site in prices[0]:
        series = [p[site] for p in prices if site in p]
        assert series == sorted(series), (site, series)


@pytest.mark.parametrize("material", ["pla", "pa12", "al"])
def test_more_copies_never_raise_the_unit_price(network: Network, rates: Rates, box_part: Part,
                                                material: str) -> None:
    series: dict[str, list[float]] = {}
    for qty in (1, 2, 3, 7, 10, 11, 49, 50, 51, 200, 1000):
        offers, _ = quote_network(box_part, network, QuoteRequest(material=material, quantity=qty), rates, NOW)
        for o in offers:
            series.setdefault(o.site, []).append(o.unit_price_cny)
            assert o.total_price_cny == pytest.approx(o.unit_price_cny * qty, abs=0.01 * qty)
    assert series
    for site, s in series.items():
        assert s == sorted(s, reverse=True), (site, s)
