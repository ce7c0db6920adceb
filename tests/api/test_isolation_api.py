"""Trust: another organisation (or a factory, or a buyer on staff routes) never reaches a part, quote, order,
design, job or webhook it does not own: 404 (or 403 for a role's routes), and never the data."""

from __future__ import annotations

from typing import Any

import pytest
from web_kit import Platform, allow_private_webhooks

from fabgrid.services import parts
from fabgrid.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def victim(platform: Platform) -> dict[str, Any]:
    """Organisation A with a part (analysed by a job), a quote, an order, a webhook."""
    h = platform.buyer("Victim Org")
    mp = pytest.MonkeyPatch()
    mp.setattr(parts, "INLINE_ANALYSIS_MAX_BYTES", 10)
    job = platform.upload(h)
    mp.undo()
    platform.wait_job(h, job["id"])
    part_id = job["part"]["id"]
    q = platform.client.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": 2},
                             headers=h).json()
    o = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": q["offers"][0]["site"],
                                                     "consent_design_sharing": True}, headers=h).json()
    return {"h": h, "part": part_id, "job": job["id"], "quote": q["id"], "order": o["id"], "site": o["site_id"],
            "secret_marker": job["part"]["sha256"]}


def test_other_organisation_gets_404_everywhere(platform: Platform, victim: dict[str, Any]) -> None:
    other = platform.buyer("Intruder Org")
    paths = [f"/api/v1/parts/{victim['part']}", f"/api/v1/parts/{victim['part']}/mesh",
             f"/api/v1/parts/{victim['part']}/design", f"/api/v1/parts/{victim['part']}/audit",
             f"/api/v1/jobs/{victim['job']}", f"/api/v1/quotes/{victim['quote']}",
             f"/api/v1/orders/{victim['order']}", f"/api/v1/orders/{victim['order']}/invoice"]
    for path in paths:
        r = platform.client.get(path, headers=other)
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert victim["secret_marker"] not in r.text and "Victim Org" not in r.text
    for path in ("/api/v1/parts", "/api/v1/quotes", "/api/v1/orders"):
        body = platform.client.get(path, headers=other).json()
        assert body == [], path
    r = platform.client.post("/api/v1/quotes", json={"part_id": victim["part"], "material": "fdm_pla",
                                                     "quantity": 1}, headers=other)
    assert r.status_code == 404
    r = platform.client.post("/api/v1/orders", json={"quote_id": victim["quote"]}, headers=other)
    assert r.status_code == 404
    # and the owner still sees everything, with the intruder's attempts absent from the data it got
    assert platform.client.get(f"/api/v1/parts/{victim['part']}", headers=victim["h"]).status_code == 200


def test_factories_see_only_their_site(platform: Platform, victim: dict[str, Any]) -> None:
    own = platform.account("factory", victim["site"])
    assert platform.client.get(f"/api/v1/orders/{victim['order']}", headers=own).status_code == 200
    with UnitOfWork(platform.settings.database_url) as uow:
        other_site = next(s.id for s in uow.catalog.sites() if s.id != victim["site"])
    stranger = platform.account("factory", other_site)
    assert platform.client.get(f"/api/v1/orders/{victim['order']}", headers=stranger).status_code == 404
    assert victim["order"] not in str(platform.client.get("/api/v1/factory/work", headers=stranger).json())
    assert platform.client.get("/api/v1/orders", headers=stranger).json() == []
    r = platform.client.post(f"/api/v1/factory/orders/{victim['order']}/status", json={"status": "in_production"},
                             headers=stranger)
    assert r.status_code == 404
    r = platform.client.get(f"/api/v1/factory/designs/{victim['part']}", headers=stranger)
    assert r.status_code == 404 and victim["secret_marker"] not in r.text
    # factories are not buyers: the owner routes stay closed to them
    assert platform.client.get(f"/api/v1/parts/{victim['part']}", headers=own).status_code == 404
    assert platform.client.get(f"/api/v1/parts/{victim['part']}/design", headers=own).status_code == 404


def test_role_routes(platform: Platform, victim: dict[str, Any]) -> None:
    h = victim["h"]
    assert platform.client.get("/api/v1/factory/work", headers=h).status_code == 403
    r = platform.client.post(f"/api/v1/factory/orders/{victim['order']}/status", json={"status": "in_production"},
                             headers=h)
    assert r.status_code == 403
    assert platform.client.get(f"/api/v1/factory/designs/{victim['part']}", headers=h).status_code == 404
    assert platform.client.get("/api/v1/operator/orders", headers=h).status_code == 403
    assert platform.client.post("/api/v1/operator/disruptions", json={"site_id": victim["site"], "days": 1},
                                headers=h).status_code == 403
    for path in ("/api/v1/parts", "/api/v1/orders", "/api/v1/factory/work", "/api/v1/operator/orders",
                 f"/api/v1/jobs/{victim['job']}", "/api/v1/webhooks"):
        assert platform.client.get(path).status_code == 401, path


def test_webhooks_are_per_organisation(platform: Platform, victim: dict[str, Any],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    allow_private_webhooks(platform, monkeypatch)
    hook = platform.client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/none",
                                                          "secret": "0123456789abcdef0123"},
                                headers=victim["h"]).json()
    other = platform.buyer("Webhook Intruder")
    assert platform.client.get("/api/v1/webhooks", headers=other).json() == []
    assert platform.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=other).status_code == 404
    assert platform.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=other).status_code == 404
    listed = platform.client.get("/api/v1/webhooks", headers=victim["h"]).json()
    assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]
    assert platform.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=victim["h"]).status_code == 204


def test_cookie_sessions_need_the_csrf_token_for_changes(platform: Platform, victim: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    token = victim["h"]["Authorization"].removeprefix("Bearer ")
    c = TestClient(platform.client.app)
    c.cookies.set("fabgrid_session", token)
    assert c.get(f"/api/v1/parts/{victim['part']}").status_code == 200  # reads need no token
    body = {"part_id": victim["part"], "material": "fdm_pla", "quantity": 3}
    r = c.post("/api/v1/quotes", json=body)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    c.cookies.set("fabgrid_csrf", "a-random-value")
    assert c.post("/api/v1/quotes", json=body, headers={"X-CSRF-Token": "another-value"}).status_code == 403
    assert c.post("/api/v1/quotes", json=body, headers={"X-CSRF-Token": "a-random-value"}).status_code == 201
