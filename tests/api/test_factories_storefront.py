"""The storefront API refuses bad input with 422 problem+json and changes nothing (build volume 0, unknown machine
model, a material its process cannot run, negative or absurd rates, overlapping calendar entries, another site's
machines); custom machines, calendars and the site filters work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_factories_onboarding import joined, problem
from web_kit import Platform, make_settings

from fabgrid.app import create_app


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = make_settings(tmp_path_factory.mktemp("storefront"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


@pytest.fixture(scope="module")
def factory(own: Platform) -> tuple[dict[str, str], str]:
    h, site_id = joined(own, "Furong Fabrication")
    r = own.client.put("/api/v1/factory/machines", json={"machines": [{"model": "prusa_mk4"}]}, headers=h)
    assert r.status_code == 200, r.text
    return h, site_id


def snapshot(p: Platform, h: dict[str, str]) -> dict[str, Any]:
    return {k: p.client.get(f"/api/v1/factory/{k}", headers=h).json()
            for k in ("machines", "materials", "rates", "calendar", "capacity")}


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("machines", "unknown model", {"machines": [{"model": "prusa_mk9000"}]}, "storefront.machine_model"),
    ("machines", "build volume 0", {"machines": [{"model": {"custom": {
        "process": "fdm", "build_volume_mm": [200, 0, 200], "power_w": 300}}}]}, "storefront.build_volume"),
    ("machines", "negative power", {"machines": [{"model": {"custom": {
        "process": "fdm", "build_volume_mm": [200, 200, 200], "power_w": -5}}}]}, "storefront.power"),
    ("machines", "unknown process", {"machines": [{"model": {"custom": {
        "process": "welding", "build_volume_mm": [200, 200, 200], "power_w": 300}}}]}, "storefront.process"),
    ("machines", "another site's machine id", {"machines": [{"id": "cs-jingkai-01-f01", "model": "prusa_mk4"}]},
     "storefront.machine_id"),
    ("materials", "not runnable", {"materials": [{"material": "sls_pa12", "stock_kg": 10}]}, "storefront.material"),
    ("materials", "unknown material", {"materials": [{"material": "unobtainium", "stock_kg": 1}]},
     "storefront.material"),
    ("rates", "negative rate", {"machine_hour_cny": {"prusa_mk4": -3}}, "storefront.rate"),
    ("rates", "absurd rate", {"machine_hour_cny": {"prusa_mk4": 5e6}}, "storefront.rate"),
    ("rates", "rate of a model it lacks", {"machine_hour_cny": {"eos_p396": 50}}, "storefront.machine_model"),
    ("rates", "absurd markup", {"machine_hour_cny": {}, "material_markup": 80}, "storefront.rate"),
    ("rates", "finish of another process", {"machine_hour_cny": {}, "finishes": {"anodising": 5}},
     "storefront.finish"),
    ("calendar", "overlapping entries", {"shifts": [{"name": "day", "start": "08:00", "end": "17:00"}], "entries": [
        {"kind": "holiday", "start": "2027-01-04", "end": "2027-01-08"},
        {"kind": "maintenance", "start": "2027-01-08", "end": "2027-01-09"}]}, "storefront.calendar_overlap"),
    ("calendar", "overlapping shifts", {"shifts": [{"name": "early", "start": "06:00", "end": "14:00"},
                                                   {"name": "late", "start": "13:00", "end": "22:00"}]},
     "storefront.calendar_overlap"),
    ("calendar", "another site's machine", {"shifts": [{"name": "day", "start": "08:00", "end": "17:00"}],
                                            "entries": [{"kind": "maintenance", "start": "2027-02-01",
                                                         "end": "2027-02-02", "machine_id": "cs-jingkai-01-f01"}]},
     "storefront.machine_id"),
    ("capacity", "absurd queue", {"at_capacity": False, "max_queue_h": 1e9}, "storefront.capacity"),
]


@pytest.mark.parametrize(("kind", "what", "body", "code"), BAD, ids=[f"{k}: {w}" for k, w, _, _ in BAD])
def test_bad_input_is_refused_and_changes_nothing(own: Platform, factory: tuple[dict[str, str], str], kind: str,
                                                  what: str, body: dict[str, Any], code: str) -> None:
    h, _ = factory
    before = snapshot(own, h)
    body_ = problem(own.client.put(f"/api/v1/factory/{kind}", json=body, headers=h))
    assert body_["title"] == code, body_
    assert snapshot(own, h) == before


def test_request_shape_errors_are_problems(own: Platform, factory: tuple[dict[str, str], str]) -> None:
    h, _ = factory
    problem(own.client.put("/api/v1/factory/materials", json={"materials": [{"material": "fdm_pla", "stock_kg": -1}]},
                           headers=h))
    problem(own.client.put("/api/v1/factory/calendar", json={"shifts": [{"name": "d", "start": "08:00",
                                                                         "end": "17:00"}],
                                                             "entries": [{"kind": "holiday", "start": "2027-03-05",
                                                                          "end": "2027-03-01"}]}, headers=h))


def test_a_custom_machine_and_a_calendar(own: Platform, factory: tuple[dict[str, str], str]) -> None:
    h, site_id = factory
    r = own.client.put("/api/v1/factory/machines", json={"machines": [
        {"model": "prusa_mk4", "name": "MK4 #1"},
        {"model": {"custom": {"process": "fdm", "build_volume_mm": [500, 500, 500], "power_w": 900,
                              "vendor": "Furong", "model": "FR-500"}}, "name": "big one"}]}, headers=h)
    assert r.status_code == 200, r.text
    machines = r.json()["machines"]
    assert [m["custom"] for m in machines] == [False, True]
    assert machines[1]["build_volume_mm"] == [500, 500, 500] and machines[1]["process"] == "fdm"
    custom_id = machines[1]["model"]
    r = own.client.put("/api/v1/factory/rates", json={"machine_hour_cny": {custom_id: 35}}, headers=h)
    assert r.status_code == 200, r.text
    r = own.client.put("/api/v1/factory/calendar", json={
        "shifts": [{"name": "early", "start": "08:00", "end": "16:00"},
                   {"name": "late", "start": "16:00", "end": "00:00"}],
        "workdays": [0, 1, 2, 3, 4, 5],
        "entries": [{"kind": "holiday", "start": "2027-01-04", "end": "2027-01-05"},
                    {"kind": "maintenance", "start": "2027-01-06", "end": "2027-01-07", "machine_id": machines[0]["id"],
                     "note": "nozzle and belts"}]}, headers=h)
    assert r.status_code == 200, r.text
    cal = r.json()
    assert "2027-01-04" in cal["holidays"] and "2026-10-01" in cal["holidays"]  # its own and the national ones
    assert len(cal["entries"]) == 2 and cal["workdays"] == [0, 1, 2, 3, 4, 5]
    site = own.client.get(f"/api/v1/sites/{site_id}").json()
    assert len(site["calendar"]["shifts"]) == 2 and site["processes"] == ["fdm"]
    # a custom model of another site cannot be declared here
    other_h, _ = joined(own, "Meixi Makers")
    problem(own.client.put("/api/v1/factory/machines", json={"machines": [{"model": custom_id}]}, headers=other_h))


def test_site_filters(own: Platform, factory: tuple[dict[str, str], str]) -> None:
    _, site_id = factory
    every = own.client.get("/api/v1/sites").json()
    assert every["count"] >= 79 and all("verified" in s for s in every["sites"])
    pla = own.client.get("/api/v1/sites", params={"material": "fdm_pla", "city": "Changsha"}).json()["sites"]
    assert pla and all("fdm_pla" in s["materials"] and s["city"] == "Changsha" for s in pla)
    iatf = own.client.get("/api/v1/sites", params={"certificate": "IATF 16949", "process": "cnc"}).json()["sites"]
    assert iatf and all("IATF 16949" in s["certifications"] and "cnc" in s["processes"] for s in iatf)
    spaced = own.client.get("/api/v1/sites", params={"certificate": "iatf16949", "process": "cnc"}).json()["sites"]
    assert spaced == iatf
    verified = {s["id"] for s in own.client.get("/api/v1/sites", params={"verified": True}).json()["sites"]}
    assert site_id not in verified and "cs-jingkai-01" in verified
    r = own.client.get("/api/v1/sites/cs-jingkai-01").json()
    assert r["verified"] is True and set(r["scorecard"]) >= {"orders", "on_time_rate", "quality_issue_rate", "days"}
    problem(own.client.get("/api/v1/sites", params={"material": "unobtainium"}), 404)


def test_an_expired_certificate_stops_matching_work_that_needs_it(own: Platform,
                                                                 factory: tuple[dict[str, str], str]) -> None:
    """The factory declared ISO 9001 valid until 2028-06-30: a request needing ISO 9001 gets its offer before that
    day and a `certification_expired` rejection after it; the showroom filter drops it then too."""
    from datetime import UTC, datetime

    from web_kit import box_stl

    from fabgrid.costing.quote import QuoteRequest
    from fabgrid.services import factories, network, quotes
    from fabgrid.store.uow import UnitOfWork

    h, site_id = factory
    r = own.client.put("/api/v1/factory/materials", json={"materials": [{"material": "fdm_pla", "stock_kg": 9}]},
                       headers=h)
    assert r.status_code == 200, r.text
    with UnitOfWork(own.settings.database_url) as uow:
        data = network.current(uow)
    assert data.network.sites[site_id].certificate_expiry == {"ISO 9001": datetime(2028, 6, 30).date()}
    prepared = quotes.prepare_part(box_stl(40, 30, 20), "bracket.stl")
    req = QuoteRequest(material="fdm_pla", quantity=2, certifications=("ISO 9001",))

    def outcome(now: datetime) -> str:
        q = quotes.quote_request(prepared, req, now=now, network=data.network, rates=data.rates,
                                 logistics=data.logistics)
        if any(o.site == site_id for o in q.offers):
            return "offer"
        return next(x.code for x in q.rejected if x.site == site_id)

    assert outcome(datetime(2027, 3, 1, tzinfo=UTC)) == "offer"
    assert outcome(datetime(2028, 7, 2, tzinfo=UTC)) == "certification_expired"
    later = factories.search(own.settings, certificate="ISO 9001", now=datetime(2028, 7, 2, tzinfo=UTC))
    assert site_id not in {p.site.id for p in later}
    assert site_id in {p.site.id for p in factories.search(own.settings, certificate="ISO 9001")}
