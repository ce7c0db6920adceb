"""Factories answer the work allocated to them (issue 18, item 4) through the API: accept, decline with a reason
(the line goes to the next best capable site, the buyer keeps price and date, the platform bears the
difference), no answer in time (the same, reason timeout), a proposed date the buyer accepts or rejects; the
scorecard's acceptance rate and median response time follow the answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.config import load_settings
from fabgrid.domain.acceptance import Answer, FactoryResponse
from fabgrid.errors import InputError
from fabgrid.services import acceptance, jobs
from fabgrid.services._util import now


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: this module moves lines between sites and reads scorecards."""
    settings = make_settings(tmp_path_factory.mktemp("acceptance"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def _order(p: Platform, h: dict[str, str], dims: tuple[float, float, float] = (20, 30, 10),
           site: str | None = None) -> dict[str, Any]:
    """An order of one PLA part at `site` (default: the quote's first offer), with its quote."""
    part = p.upload(h, box_stl(*dims))
    r = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                              "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    quote = r.json()
    assert len(quote["offers"]) >= 2, quote["offers"]
    chosen = site or quote["offers"][0]["site"]
    r = p.client.post("/api/v1/orders", json={"lines": [{"quote_id": quote["id"], "site": chosen}]}, headers=h)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    order["quote"] = quote
    return order


def _scorecard(p: Platform, site: str) -> dict[str, Any]:
    r = p.client.get(f"/api/v1/sites/{site}")
    assert r.status_code == 200, r.text
    sc: dict[str, Any] = r.json()["scorecard"]
    return sc


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert code in r.text, r.text


def test_accept_then_decline_moves_the_line_and_lowers_the_acceptance_rate(own: Platform) -> None:
    buyer = own.buyer()
    first = _order(own, buyer)
    site = first["site_id"]
    fh = own.account("factory", site=site)
    assert _scorecard(own, site)["acceptance_rate"] is None

    view = own.client.get(f"/api/v1/orders/{first['id']}/acceptance", headers=buyer).json()
    assert view["lines"][0]["state"] == "pending" and view["lines"][0]["respond_by"]
    r = own.client.post(f"/api/v1/factory/orders/{first['id']}/accept", headers=fh)
    assert r.status_code == 200, r.text
    assert any(e["note"] == f"accepted by {site}" for e in r.json()["timeline"])
    _problem(own.client.post(f"/api/v1/factory/orders/{first['id']}/accept", headers=fh), 409,
             "acceptance.not_pending")
    view = own.client.get(f"/api/v1/orders/{first['id']}/acceptance", headers=buyer).json()
    assert view["lines"][0]["state"] == "accepted"
    assert view["responses"][0]["answer"] == "accepted" and view["responses"][0]["response_s"] >= 0
    sc = _scorecard(own, site)
    assert sc["acceptance_rate"] == 1.0 and sc["median_response_h"] is not None and sc["median_response_h"] < 0.1

    second = _order(own, buyer, (25, 25, 12), site=site)
    line = second["lines"][0]
    # bad input: a 4xx problem and nothing changed
    url = f"/api/v1/factory/orders/{second['id']}/decline"
    _problem(own.client.post(url, json={"reason": "busy"}, headers=fh), 422, "acceptance.bad_reason")
    _problem(own.client.post(url, json={"reason": "timeout"}, headers=fh), 422, "acceptance.bad_reason")
    _problem(own.client.post(url, json={"reason": "other"}, headers=fh), 422, "acceptance.note_required")
    _problem(own.client.post(url, json={}, headers=fh), 422, "reason")
    _problem(own.client.post(url, json={"reason": "no_capacity", "line_id": "oln_nope"}, headers=fh), 404,
             "order.line_not_found")
    stranger = own.account("factory", site=next(o["site"] for o in second["quote"]["offers"] if o["site"] != site))
    _problem(own.client.post(url, json={"reason": "no_capacity"}, headers=stranger), 404, "order.not_found")
    _problem(own.client.post(f"/api/v1/factory/orders/{second['id']}/accept", headers=stranger), 404,
             "order.not_found")
    unchanged = own.client.get(f"/api/v1/orders/{second['id']}", headers=buyer).json()
    assert unchanged["lines"][0]["site_id"] == site and unchanged["timeline"] == second["timeline"]

    r = own.client.post(url, json={"reason": "no_capacity", "note": "two machines down"}, headers=fh)
    assert r.status_code == 200, r.text
    resp = r.json()["responses"][0]
    new = resp["reallocated_to"]
    assert resp["answer"] == "declined" and resp["reason"] == "no_capacity" and new not in (None, site)
    assert new in {o["site"] for o in second["quote"]["offers"]}
    offer = next(o for o in second["quote"]["offers"] if o["site"] == new)
    tier = next(t for t in offer["tiers"] if t["tier"] == line["tier"])
    assert resp["platform_cost_cny"] == pytest.approx(tier["total_price_cny"] - line["total_price_cny"], abs=0.011)

    after = own.client.get(f"/api/v1/orders/{second['id']}", headers=buyer).json()
    moved = after["lines"][0]
    assert moved["site_id"] == new and moved["status"] == "allocated"
    assert moved["total_price_cny"] == line["total_price_cny"] and moved["delivery_date"] == line["delivery_date"]
    notes = [e["note"] for e in after["timeline"] if e["line_id"] == line["id"]]
    assert any(n.startswith(f"declined by {site} (no_capacity: two machines down)") for n in notes), notes
    assert any(n.startswith(f"re-allocated from {site} to {new}") for n in notes), notes
    # the decliner no longer sees the order; the new site has it waiting for its answer
    _problem(own.client.post(f"/api/v1/factory/orders/{second['id']}/accept", headers=fh), 404, "order.not_found")
    view = own.client.get(f"/api/v1/orders/{second['id']}/acceptance", headers=buyer).json()
    assert view["lines"][0] == {**view["lines"][0], "site_id": new, "state": "pending"}
    assert _scorecard(own, site)["acceptance_rate"] == 0.5


def test_no_answer_in_time_reallocates_like_a_decline(own: Platform) -> None:
    buyer = own.buyer()
    order = _order(own, buyer, (30, 20, 15))
    site, line = order["site_id"], order["lines"][0]
    short = replace(own.settings, factory_response_h=0.01)  # 36 s
    assert [e for e in acceptance.expire_unanswered(short, now()) if e.order_id == order["id"]] == []
    expired = [e for e in acceptance.expire_unanswered(short, now() + timedelta(seconds=40))
               if e.order_id == order["id"]]
    assert len(expired) == 1 and expired[0].site_id == site and expired[0].reallocated_to not in (None, site)
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    assert after["lines"][0]["site_id"] == expired[0].reallocated_to
    assert after["lines"][0]["total_price_cny"] == line["total_price_cny"]
    notes = [e["note"] for e in after["timeline"] if e["line_id"] == line["id"]]
    assert any(n.startswith(f"not answered by {site} in time (timeout") for n in notes), notes
    assert any(n.startswith(f"re-allocated from {site} to {expired[0].reallocated_to} (timeout)") for n in notes)
    view = own.client.get(f"/api/v1/orders/{order['id']}/acceptance", headers=buyer).json()
    assert [r["answer"] for r in view["responses"]] == ["timeout"]
    sc = _scorecard(own, site)
    assert sc["acceptance_rate"] is not None and sc["acceptance_rate"] < 1.0
    # the default response time (24 h) has not passed for the new site
    assert [e for e in acceptance.expire_unanswered(own.settings, now() + timedelta(seconds=40))
            if e.order_id == order["id"]] == []


def test_proposed_date_accepted_or_rejected_by_the_buyer(own: Platform) -> None:
    buyer = own.buyer()
    order = _order(own, buyer, (18, 18, 18))
    site, line = order["site_id"], order["lines"][0]
    fh = own.account("factory", site=site)
    url = f"/api/v1/factory/orders/{order['id']}/propose-date"
    _problem(own.client.post(url, json={"date": date.today().isoformat()}, headers=fh), 422, "acceptance.bad_date")
    _problem(own.client.post(url, json={"date": "2026-13-01"}, headers=fh), 422, "date")
    later = date.fromisoformat(line["delivery_date"]) + timedelta(days=5)
    r = own.client.post(url, json={"date": later.isoformat(), "note": "material lot late"}, headers=fh)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["status"] == "pending" and p["previous_date"] == line["delivery_date"]
    _problem(own.client.post(url, json={"date": later.isoformat()}, headers=fh), 409, "acceptance.proposal_pending")
    other = own.buyer()
    _problem(own.client.post(p["links"]["accept"], headers=other), 404, "acceptance.proposal_not_found")
    _problem(own.client.post(p["links"]["accept"], headers=fh), 404, "acceptance.proposal_not_found")

    r = own.client.post(p["links"]["accept"], headers=buyer)
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    _problem(own.client.post(p["links"]["reject"], headers=buyer), 409, "acceptance.decided")
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    assert after["lines"][0]["delivery_date"] == later.isoformat()
    assert any("proposes delivery on" in e["note"] for e in after["timeline"])

    even_later = later + timedelta(days=3)
    p2 = own.client.post(url, json={"date": even_later.isoformat()}, headers=fh).json()
    r = own.client.post(p2["links"]["reject"], headers=buyer)
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    assert after["lines"][0]["delivery_date"] == later.isoformat()
    view = own.client.get(f"/api/v1/orders/{order['id']}/acceptance", headers=buyer).json()
    assert [x["status"] for x in view["proposals"]] == ["accepted", "rejected"]


def test_response_time_setting_is_bounded() -> None:
    assert load_settings("sqlite://", env={}).factory_response_h == 24.0
    assert load_settings("sqlite://", env={"FABGRID_FACTORY_RESPONSE_H": "2.5"}).factory_response_h == 2.5
    for bad in ("0", "-1", "1000", "soon"):
        with pytest.raises(InputError, match="FABGRID_FACTORY_RESPONSE_H"):
            load_settings("sqlite://", env={"FABGRID_FACTORY_RESPONSE_H": bad})


def test_no_site_left_asks_the_buyer(own: Platform) -> None:
    """Every site declines in turn (none gets the line back): the line waits for the buyer without a site."""
    buyer = own.buyer()
    order = _order(own, buyer, (22, 14, 9))
    capable = {o["site"] for o in order["quote"]["offers"]}
    seen: list[str] = []
    site: str | None = order["site_id"]
    while site is not None:
        assert site not in seen and len(seen) <= len(capable)
        seen.append(site)
        r = own.client.post(f"/api/v1/factory/orders/{order['id']}/decline", json={"reason": "cannot_meet_date"},
                            headers=own.account("factory", site=site))
        assert r.status_code == 200, r.text
        site = r.json()["responses"][0]["reallocated_to"]
    assert set(seen) <= capable
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    ln = after["lines"][0]
    assert ln["status"] == "placed" and ln["site_id"] is None and after["status"] == "placed"
    assert ln["total_price_cny"] == order["lines"][0]["total_price_cny"]
    assert "the buyer is asked" in after["timeline"][-1]["note"]
    view = own.client.get(f"/api/v1/orders/{order['id']}/acceptance", headers=buyer).json()
    assert view["lines"][0]["state"] == "awaiting_buyer"
    assert [r["site_id"] for r in view["responses"]] == seen
    # nothing left to expire, and the last decliner cannot answer it any more
    assert [e for e in acceptance.expire_unanswered(own.settings, now() + timedelta(days=2))
            if e.order_id == order["id"]] == []
    _problem(own.client.post(f"/api/v1/factory/orders/{order['id']}/accept", headers=own.account("factory",
                                                                                                  site=seen[-1])),
             404, "order.not_found")


def test_response_figures_by_hand() -> None:
    """Three answers after 1 h (accepted), 3 h (declined) and a timeout after 24 h: accepted 1 of 3, median of
    the answers given (1 h, 3 h) 2 h; nothing to measure: None."""
    t0 = now()

    def resp(answer: Answer, hours: float) -> FactoryResponse:
        return FactoryResponse(order_id="o", line_id="l", site_id="s", answer=answer, allocated_at=t0,
                               answered_at=t0 + timedelta(hours=hours))

    figures = acceptance.response_figures([resp(Answer.ACCEPTED, 1), resp(Answer.DECLINED, 3),
                                           resp(Answer.TIMEOUT, 24)])
    assert figures == (pytest.approx(1 / 3), pytest.approx(2.0))
    assert acceptance.response_figures([resp(Answer.TIMEOUT, 24)]) == (0.0, None)
    assert acceptance.response_figures([]) == (None, None)


def test_the_work_list_and_the_sweeper_expire_unanswered_lines(own: Platform,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With a response time of about a second, a factory's work list no longer shows the line it did not answer,
    and the background sweeper moves an unanswered line on its own."""
    short = replace(own.settings, factory_response_h=0.0003)  # 1.08 s
    monkeypatch.setitem(own.client.app.state._state, "settings", short)
    buyer = own.buyer()
    order = _order(own, buyer, (16, 26, 11))
    site = order["site_id"]
    fh = own.account("factory", site=site)
    time.sleep(1.2)
    work = own.client.get("/api/v1/factory/work", headers=fh).json()
    assert order["id"] not in {o["id"] for o in work}
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    assert after["lines"][0]["site_id"] != site

    second = _order(own, buyer, (17, 27, 12))
    stop = jobs.start_sweeper(short, every_s=0.2)
    try:
        deadline = time.monotonic() + 20
        while True:
            line = own.client.get(f"/api/v1/orders/{second['id']}", headers=buyer).json()["lines"][0]
            if line["site_id"] != second["site_id"]:
                break
            assert time.monotonic() < deadline, "the sweeper did not expire the line"
            time.sleep(0.2)
    finally:
        stop.set()


def test_decline_and_accept_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """The same answers on PostgreSQL: a decline moves the line, the new site accepts, the scorecards follow."""
    settings = replace(make_settings(tmp_path), database_url=pg_url)
    with TestClient(create_app(settings)) as client:
        p = Platform(client, settings)
        buyer = p.buyer()
        order = _order(p, buyer)
        site = order["site_id"]
        r = client.post(f"/api/v1/factory/orders/{order['id']}/decline", json={"reason": "not_manufacturable"},
                        headers=p.account("factory", site=site))
        assert r.status_code == 200, r.text
        new = r.json()["responses"][0]["reallocated_to"]
        assert new not in (None, site)
        r = client.post(f"/api/v1/factory/orders/{order['id']}/accept", json={"line_id": order["lines"][0]["id"]},
                        headers=p.account("factory", site=new))
        assert r.status_code == 200, r.text
        view = client.get(f"/api/v1/orders/{order['id']}/acceptance", headers=buyer).json()
        assert [(x["site_id"], x["answer"]) for x in view["responses"]] == [(site, "declined"), (new, "accepted")]
        assert view["lines"][0]["state"] == "accepted"
        assert _scorecard(p, site)["acceptance_rate"] == 0.0 and _scorecard(p, new)["acceptance_rate"] == 1.0
