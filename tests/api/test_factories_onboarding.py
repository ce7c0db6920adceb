"""A new factory joins the network through the API: it signs up, applies (a wrong check character of its unified
social credit code is refused naming the position and the expected character), is approved by the park's operator,
declares a Prusa MK4 with PLA in stock and a machine-hour rate, and the next PLA quote includes its offer; a doubled
rate raises its offer; at capacity it gets none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_kit import PASSWORD, Platform, box_stl, make_settings

from fabgrid.app import create_app

VALID_CODE = "91430100MA4L0XXXXD"  # fictional; the check character D follows from GB 32100-2015


def with_check(first17: str) -> str:
    """An independent GB 32100-2015 check character (weights 3^(i-1) mod 31; value 31 written as 0)."""
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + chars[(31 - total % 31) % 31]


def test_known_codes_check() -> None:
    assert with_check(VALID_CODE[:17]) == VALID_CODE
    for real in ("91350100M000100Y43", "91310110666007217T"):  # published examples of valid codes
        assert with_check(real[:17]) == real


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: this module adds a site to the network."""
    settings = make_settings(tmp_path_factory.mktemp("factories"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def application(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legal_name": "长沙麓谷增材科技有限公司", "credit_code": VALID_CODE, "address": "岳麓区麓谷大道 627 号",
        "city": "Changsha", "province": "Hunan",
        "contact": {"name": "Li Wei", "phone": "+86 731 8888 0000", "email": "li.wei@lugu-am.example.com"},
        "certificates": [{"name": "ISO 9001", "number": "CN-QMS-2025-0815", "expires_on": "2028-06-30"}]}
    body.update(change)
    return body


def factory_signup(p: Platform, org: str) -> dict[str, str]:
    email = f"owner@{org.lower().replace(' ', '-')}.example.com"
    r = p.client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "Li Wei",
                                                   "organisation": org, "role": "factory"})
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "factory" and r.json()["organisation"]["site_id"] is None
    return p.login(email)


def problem(r: Any, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


def quote(p: Platform, h: dict[str, str], part_id: str) -> dict[str, Any]:
    r = p.client.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": 4,
                                              "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def joined(p: Platform, org: str) -> tuple[dict[str, str], str]:
    """A factory organisation that applied and was approved: its headers and site id."""
    h = factory_signup(p, org)
    code = with_check("91430100MA4L" + f"{sum(map(ord, org)) * 7919 % 100_000:05d}")
    r = p.client.post("/api/v1/factories/applications", json=application(legal_name=org, credit_code=code), headers=h)
    assert r.status_code == 201, r.text
    op = p.account("operator")
    r = p.client.post(f"/api/v1/operator/factories/applications/{r.json()['id']}/approve", json={}, headers=op)
    assert r.status_code == 200, r.text
    return h, r.json()["site_id"]


def test_a_new_factory_joins_declares_and_is_quoted(own: Platform) -> None:
    h = factory_signup(own, "Lugu Additive")
    # a mistyped check character: refused, naming the position and the character the first 17 give
    r = own.client.post("/api/v1/factories/applications", json=application(credit_code=VALID_CODE[:-1] + "7"),
                        headers=h)
    body = problem(r)
    assert body["title"] == "factory.credit_code"
    assert "position 18" in body["detail"] and "'D'" in body["detail"], body
    body = problem(own.client.post("/api/v1/factories/applications",
                                   json=application(credit_code="91430100MA4L0XOXXD"), headers=h))
    assert "character 15" in body["detail"] and "I, O, Z, S and V" in body["detail"], body
    problem(own.client.post("/api/v1/factories/applications", json=application(city="Gotham"), headers=h))
    assert own.client.get("/api/v1/factories/applications", headers=h).json() == []  # nothing was stored

    r = own.client.post("/api/v1/factories/applications", json=application(), headers=h)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "pending" and app["id"].startswith("fap_") and app["credit_code"] == VALID_CODE
    assert (app["lat"], app["lon"]) == (28.20, 112.97)  # the city's centre from the shipped geo data
    problem(own.client.post("/api/v1/factories/applications", json=application(), headers=h), 409)  # one pending

    # the operator's queue; only the operator sees it
    assert own.client.get("/api/v1/operator/factories/applications", headers=h).status_code == 403
    op = own.account("operator")
    queue = own.client.get("/api/v1/operator/factories/applications", headers=op).json()
    assert [a["id"] for a in queue] == [app["id"]]
    r = own.client.post(f"/api/v1/operator/factories/applications/{app['id']}/approve",
                        json={"reason": "licence checked on gsxt.gov.cn"}, headers=op)
    assert r.status_code == 200, r.text
    decided = r.json()
    site_id = decided["site_id"]
    assert decided["status"] == "approved" and site_id
    problem(own.client.post(f"/api/v1/operator/factories/applications/{app['id']}/reject",
                            json={"reason": "late"}, headers=op), 409)
    trail = own.client.get(f"/api/v1/operator/factories/applications/{app['id']}/events", headers=op).json()
    assert [(e["kind"], e["reason"]) for e in trail] == [("applied", ""),
                                                         ("approved", "licence checked on gsxt.gov.cn")]
    assert own.client.get("/api/v1/operator/factories/applications", headers=op).json() == []

    site = own.client.get(f"/api/v1/sites/{site_id}").json()
    assert site["verified"] is False and site["status"] == "probation" and site["machines"] == []
    assert site["certifications"] == ["ISO 9001"] and site["scorecard"]["orders"] == 0
    assert site["electricity_cny_per_kwh"] == 0.68  # Hunan's tariff from provinces.yaml

    # the storefront: one Prusa MK4, PLA in stock, a rate
    r = own.client.put("/api/v1/factory/machines", json={"machines": [{"model": "prusa_mk4", "name": "MK4 #1"}]},
                       headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and [m["model"] for m in r.json()["machines"]] == ["prusa_mk4"]
    r = own.client.put("/api/v1/factory/materials",
                       json={"materials": [{"material": "fdm_pla", "stock_kg": 25, "lot": "PLA-2026-11-A"}]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["offered"] == ["fdm_pla"] and r.json()["version"] == 2
    r = own.client.put("/api/v1/factory/rates", json={"machine_hour_cny": {"prusa_mk4": 12.0}}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["rate_version"] == 1 and r.json()["machine_hour_cny"] == {"prusa_mk4": 12.0}

    buyer = own.buyer()
    part = own.upload(buyer, box_stl(80, 60, 40), name="block.stl")
    first = quote(own, buyer, part["id"])
    mine = next(o for o in first["offers"] if o["site"] == site_id)
    assert mine["machine"] == "prusa_mk4" and mine["rate_version"] == 1
    assert mine["breakdown"]["machine_rate_cny_h"] == pytest.approx(12.0, rel=1e-3)

    # doubling the rate raises the offer by the doubled machine cost
    r = own.client.put("/api/v1/factory/rates", json={"machine_hour_cny": {"prusa_mk4": 24.0}}, headers=h)
    assert r.json()["rate_version"] == 2
    second = quote(own, buyer, part["id"])
    again = next(o for o in second["offers"] if o["site"] == site_id)
    assert again["rate_version"] == 2
    assert again["breakdown"]["machine_rate_cny_h"] == pytest.approx(24.0, rel=1e-3)
    assert again["breakdown"]["machine_cny"] == pytest.approx(2 * mine["breakdown"]["machine_cny"], rel=1e-3)
    assert again["unit_price_cny"] > mine["unit_price_cny"]
    others = {o["site"]: o["unit_price_cny"] for o in first["offers"] if o["site"] != site_id}
    assert {o["site"]: o["unit_price_cny"] for o in second["offers"] if o["site"] in others} == others

    # at capacity: no offer from it, and the rejection says why
    r = own.client.put("/api/v1/factory/capacity", json={"at_capacity": True, "max_queue_h": 80}, headers=h)
    assert r.status_code == 200 and r.json()["at_capacity"] is True, r.text
    third = quote(own, buyer, part["id"])
    assert site_id not in {o["site"] for o in third["offers"]} and third["offers"]
    assert next(x for x in third["rejected"] if x["site"] == site_id)["code"] == "at_capacity"
    own.client.put("/api/v1/factory/capacity", json={"at_capacity": False}, headers=h)
    assert site_id in {o["site"] for o in quote(own, buyer, part["id"])["offers"]}


def test_rejection_needs_a_reason_and_is_audited(own: Platform) -> None:
    h = factory_signup(own, "Xiangjiang Prints")
    code = with_check("91430100MA4L0XXXY")
    app = own.client.post("/api/v1/factories/applications",
                          json=application(legal_name="Xiangjiang Prints", credit_code=code), headers=h)
    assert app.status_code == 201, app.text
    op = own.account("operator")
    url = f"/api/v1/operator/factories/applications/{app.json()['id']}"
    problem(own.client.post(f"{url}/reject", json={"reason": "  "}, headers=op))
    r = own.client.post(f"{url}/reject", json={"reason": "the licence's address is not in Changsha"}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    mine = own.client.get("/api/v1/factories/applications", headers=h).json()
    assert [(a["status"], a["reason"]) for a in mine] == [("rejected", "the licence's address is not in Changsha")]
    # a rejected organisation may apply again
    again = own.client.post("/api/v1/factories/applications", json=application(
        legal_name="Xiangjiang Prints", credit_code=app.json()["credit_code"]), headers=h)
    assert again.status_code == 201, again.text


def test_only_a_factory_organisation_applies(own: Platform) -> None:
    buyer = own.buyer()
    problem(own.client.post("/api/v1/factories/applications", json=application(), headers=buyer), 403)
    h = factory_signup(own, "Lugu Copy")
    # the credit code of an organisation that applied already belongs to that organisation
    problem(own.client.post("/api/v1/factories/applications", json=application(), headers=h), 409)
    problem(own.client.put("/api/v1/factory/rates", json={"machine_hour_cny": {}}, headers=h), 403)  # no site yet


def test_probation_caps_the_order_value_until_verified(own: Platform) -> None:
    h, site_id = joined(own, "Yuhua Print Farm")
    own.client.put("/api/v1/factory/machines", json={"machines": [{"model": "prusa_mk4"}]}, headers=h)
    own.client.put("/api/v1/factory/materials", json={"materials": [{"material": "fdm_pla", "stock_kg": 50}]},
                   headers=h)
    buyer = own.buyer()
    part = own.upload(buyer, box_stl(80, 60, 40), name="block.stl")

    def offer(qty: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        r = own.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": qty,
                                                    "destination": "Changsha"}, headers=buyer)
        q = r.json()
        return (next((o for o in q["offers"] if o["site"] == site_id), None),
                next((x for x in q["rejected"] if x["site"] == site_id), None))

    small, _ = offer(4)
    assert small is not None and small["total_price_cny"] < 20_000
    qty = int(40_000 / small["unit_price_cny"]) + 1
    big, why = offer(qty)
    assert big is None and why is not None and why["code"] == "probation_cap", why
    assert own.client.get(f"/api/v1/sites/{site_id}").json()["max_order_cny"] == 20_000
    op = own.account("operator")
    r = own.client.post(f"/api/v1/operator/factories/{site_id}/verify", json={"reason": "trial jobs on time"},
                        headers=op)
    assert r.status_code == 200 and r.json()["verified"] is True and r.json()["max_order_cny"] is None, r.text
    big, why = offer(qty)
    assert big is not None and big["total_price_cny"] > 20_000
