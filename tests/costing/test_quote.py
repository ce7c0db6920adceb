"""Offers over a network: every rejection reason, determinism, tiers, lead time from the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import trimesh

from fabgrid.costing import leadtime
from fabgrid.costing.part import Part, from_mesh
from fabgrid.costing.quote import quote_network
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import Calendar, Network, ProcessFamily, Shift
from fabgrid.domain.quote import QuoteRequest
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services.quotes import PreparedPart, quote_prepared

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _codes(rejected: list) -> dict[str, str]:
    return {r.site: r.code for r in rejected}


def test_every_rejection_reason(network: Network, rates: Rates, box_part: Part) -> None:
    offers, rejected = quote_network(box_part, network, QuoteRequest(material="pla"), rates, NOW)
    assert {o.site for o in offers} == {"a", "e"}
    codes = _codes(rejected)
    assert codes == {"b": "no_process", "c": "material_not_stocked", "d": "too_big"}
    assert all(r.reason for r in rejected)

    _, rejected = quote_network(box_part, network, QuoteRequest(material="pla", certifications=("ISO13485",)),
                                rates, NOW)
    assert _codes(rejected)["a"] == "certification"

    offers, rejected = quote_network(box_part, network, QuoteRequest(material="pla"), rates, NOW,
                                     dfm_errors={"fdm": ["wall 0.3 mm is below 0.8 mm"]})
    assert not offers
    assert _codes(rejected)["a"] == "dfm" and "0.3 mm" in next(r.reason for r in rejected if r.site == "a")

    offers, rejected = quote_network(box_part, network, QuoteRequest(material="pla", finish="dyeing"), rates, NOW)
    assert not offers and _codes(rejected)["a"] == "finish_unavailable"
    with pytest.raises(NotFoundError):
        quote_network(box_part, network, QuoteRequest(material="nope"), rates, NOW)
    with pytest.raises(InputError):
        quote_network(box_part, network, QuoteRequest(material="pla", process=ProcessFamily.SLS), rates, NOW)
    with pytest.raises(NotFoundError):
        quote_network(box_part, network, QuoteRequest(material="pla", finish="gold_plating"), rates, NOW)


def test_finish_not_offered_for_process_rejects_request(network: Network, rates: Rates,
                                                        box_part: Part) -> None:
    offers, _ = quote_network(box_part, network, QuoteRequest(material="pa12", finish="dyeing"), rates, NOW)
    assert [o.site for o in offers] == ["a"]
    assert offers[0].lead_time_days >= 1


def test_same_input_same_price_and_hash(network: Network, rates: Rates) -> None:
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=12.0)
    q1 = quote_prepared(PreparedPart(from_mesh(mesh), "ball"), "pla", 4, network=network,
                        rates=rates, now=NOW, destination="Changsha")
    q2 = quote_prepared(PreparedPart(from_mesh(mesh.copy()), "ball"), "pla", 4, network=network,
                        rates=rates, now=datetime(2026, 3, 5, 6, 0, tzinfo=UTC), destination="Changsha")
    assert q1.input_hash == q2.input_hash
    assert [(o.site, o.unit_price_cny) for o in q1.offers] == [(o.site, o.unit_price_cny) for o in q2.offers]
    assert q1.expires_at == NOW + (q1.expires_at - q1.created_at) and q1.expires_at > q1.created_at
    q3 = quote_prepared(PreparedPart(from_mesh(mesh), "ball"), "pla", 5, network=network,
                        rates=rates, now=NOW, destination="Changsha")
    assert q3.input_hash != q1.input_hash


def test_tiers_and_queue(network: Network, rates: Rates, box_part: Part) -> None:
    req = QuoteRequest(material="pla", quantity=10, destination="Guangzhou", need_by=date(2026, 3, 4))
    offers, _ = quote_network(box_part, network, req, rates, NOW)
    o = next(x for x in offers if x.site == "a")
    tiers = {t.tier: t for t in o.tiers}
    # nothing is queued at the site: express would buy no earlier date, so it is not offered (issue 17)
    assert "express" not in tiers
    assert tiers["economy"].unit_price_cny <= tiers["standard"].unit_price_cny
    assert tiers["standard"].ship_date < tiers["economy"].ship_date
    assert o.delivery_date > o.ship_date  # Changsha -> Guangzhou takes road days
    assert o.meets_need_by == (o.delivery_date <= date(2026, 3, 4))
    assert o.co2_kg > o.breakdown["machine_co2_kg"] > 0
    queued, _ = quote_network(box_part, network, req, rates, NOW, queued_h={("a", ProcessFamily.FDM): 200.0})
    q = next(x for x in queued if x.site == "a")
    assert q.ship_date > o.ship_date
    assert q.unit_price_cny == o.unit_price_cny
    qt = {t.tier: t for t in q.tiers}
    assert qt["economy"].unit_price_cny <= qt["standard"].unit_price_cny <= qt["express"].unit_price_cny
    assert qt["express"].ship_date < qt["standard"].ship_date <= qt["economy"].ship_date
    # express goes ahead of the queued work: its date is the one an empty queue gives
    assert qt["express"].ship_date == tiers["standard"].ship_date


def test_calendar_skips_holidays() -> None:
    cal = Calendar(shifts=(Shift(name="d", start=time(8), end=time(20)),), workdays=(0, 1, 2, 3, 4),
                   holidays=(date(2026, 3, 3),))
    assert leadtime.next_workday(cal, date(2026, 3, 2)) == date(2026, 3, 4)
    assert leadtime.add_workdays(cal, date(2026, 3, 6), 1) == date(2026, 3, 9)
    assert leadtime.production_days(cal, 30.0, 0.0, unattended=True) == 2
    assert leadtime.production_days(cal, 30.0, 0.0, unattended=False) == 3
    # Monday 09:00 local is before the cut-off: work starts today
    assert leadtime.ship_date(cal, NOW, 1, 0, 16) == date(2026, 3, 2)
    assert leadtime.ship_date(cal, NOW, 2, 0, 16) == date(2026, 3, 4)


def test_service_reads_dfm_errors_from_a_stored_report(network: Network, rates: Rates) -> None:
    from fabgrid.domain.part import DfmFinding, Severity
    from fabgrid.services.analysis import analyze_file
    from fabgrid.services.quotes import prepare_part

    data = trimesh.creation.box((20.0, 20.0, 10.0)).export(file_type="stl")
    findings = [
        DfmFinding(code="wall.too_thin", severity=Severity.ERROR, process=ProcessFamily.FDM,
                   message="wall 0.4 mm < 0.8 mm", fix="thicken"),
        DfmFinding(code="build_volume", severity=Severity.ERROR, process=ProcessFamily.FDM, machine_model="printer",
                   message="too big for printer", fix="smaller"),
        DfmFinding(code="mesh.self_intersection", severity=Severity.WARNING, message="x", fix="y")]
    # the report as the store keeps it (JSON), validated again by the service
    report = analyze_file(data, "plate.stl").model_copy(update={"findings": findings}).model_dump(mode="json")
    prepared = prepare_part(data, "plate.stl", report=report)
    assert prepared.dfm_errors == {"fdm": ["wall 0.4 mm < 0.8 mm"]}
    assert prepared.part.hull_volume_mm3 == pytest.approx(4000.0, rel=1e-9)
    q = quote_prepared(prepared, "pla", network=network, rates=rates, now=NOW)
    assert not q.offers and {r.code for r in q.rejected if r.site in ("a", "e")} == {"dfm"}
    q = quote_prepared(prepared, "pa12", network=network, rates=rates, now=NOW)
    assert [o.site for o in q.offers] == ["a"]
