"""The park operator's disruptions (issue 22) through the API: a preview shows per affected line the old and new
site, price, date, distance and CO2 and changes nothing; the committed disruption makes the same moves; the buyer
keeps the price, is told on the timeline, by webhook and by e-mail (a real SMTP server, aiosmtpd), and where the
date slips accepts it or cancels the line; cancelling a disruption before it starts leaves every order as it was;
bad input is a 4xx problem."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.services._util import now

MOVE_KEYS = {"line_id", "order_id", "from_site", "to_site", "old_price_cny", "new_price_cny", "old_date", "new_date",
             "distance_km", "co2_kg"}


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=default)
        body = msg.get_body()
        text = f"{msg['subject']}\n{body.get_content() if body is not None else ''}"
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Hooks(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length", "0"))
        _Hooks.bodies.append(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def mailbox() -> Iterator[_Mailbox]:
    box = _Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    box.url = f"smtp://127.0.0.1:{ctl.port}"  # type: ignore[attr-defined]
    yield box
    ctl.stop()


@pytest.fixture(scope="module")
def hooks() -> Iterator[str]:
    srv = HTTPServer(("127.0.0.1", 0), _Hooks)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook"
    srv.shutdown()


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, mailbox: _Mailbox) -> Iterator[Platform]:
    """A platform of its own (disruptions move every queued line of the network), e-mail to the test's server."""
    settings = replace(make_settings(tmp_path_factory.mktemp("disruptions")), smtp_url=mailbox.url,  # type: ignore[attr-defined]
                       webhook_allow_private=True)
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def _order(p: Platform, h: dict[str, str], site: str | None = None, dims: tuple[float, float, float] = (20, 30, 10),
           destination: str = "Changsha") -> dict[str, Any]:
    part = p.upload(h, box_stl(*dims))
    r = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                              "destination": destination}, headers=h)
    assert r.status_code in (200, 201), r.text
    quote = r.json()
    assert len(quote["offers"]) >= 2
    chosen = site or quote["offers"][0]["site"]
    r = p.client.post("/api/v1/orders", json={"lines": [{"quote_id": quote["id"], "site": chosen}]}, headers=h)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    return order


def _lines(p: Platform, oh: dict[str, str]) -> dict[str, tuple[Any, ...]]:
    """Every line of the network: (site, status, delivery date, price)."""
    out = {}
    for o in p.client.get("/api/v1/operator/orders", headers=oh).json():
        for ln in o["lines"]:
            out[ln["id"]] = (ln["site_id"], ln["status"], ln["delivery_date"], ln["total_price_cny"])
    return out


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert code in r.text, r.text


def _essence(moves: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(m[k] for k in sorted(MOVE_KEYS)) for m in moves]


def _wait(cond: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_site_disruption_preview_equals_commit_and_the_buyer_is_told(own: Platform, mailbox: _Mailbox,
                                                                      hooks: str) -> None:
    buyer = own.buyer()
    assert own.client.post("/api/v1/webhooks", json={"url": hooks}, headers=buyer).status_code == 201
    order = _order(own, buyer)
    site, line = order["site_id"], order["lines"][0]
    oh = own.account("operator")
    start = now()
    body = {"kind": "site", "target": site, "start": start.isoformat(), "end": (start + timedelta(days=5)).isoformat()}
    before = _lines(own, oh)

    r = own.client.post("/api/v1/operator/disruptions", json=body | {"preview": True}, headers=oh)
    assert r.status_code == 200, r.text
    preview = r.json()["moves"]
    assert r.json()["check"] == []  # the independent checker finds nothing wrong with the engine's re-plan
    mine = [m for m in preview if m["line_id"] == line["id"]]
    assert len(mine) == 1 and set(mine[0]) >= MOVE_KEYS
    m = mine[0]
    assert m["from_site"] == site and m["to_site"] not in (None, site)
    assert m["old_price_cny"] == line["total_price_cny"] and m["new_price_cny"] > 0
    assert m["distance_km"] is not None and m["co2_kg"] is not None and m["added_machine_h"] > 0
    assert _lines(own, oh) == before  # the preview changed nothing
    assert own.client.get("/api/v1/operator/disruptions", headers=oh).json() == []

    r = own.client.post("/api/v1/operator/disruptions", json=body, headers=oh)
    assert r.status_code == 202, r.text
    done = r.json()
    assert r.headers["location"] == done["links"]["self"] and done["state"] == "active"
    assert _essence(done["moves"]) == _essence(preview)  # the committed moves are the preview's

    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    assert after["lines"][0]["site_id"] == m["to_site"]
    assert after["total_price_cny"] == order["total_price_cny"]  # the buyer keeps the price
    note = after["timeline"][-1]["note"]
    assert done["id"] in note and f"moved from {site} to {m['to_site']}" in note and "kept" in note
    # a message in the order's thread, in Chinese and in English, from the operator
    said = own.client.get(after["links"]["thread"], headers=buyer).json()
    texts = [m["body"] for m in (said["messages"] if isinstance(said, dict) else said)]
    notice = next(t for t in texts if done["id"] in t)
    assert "网络中断" in notice and "由工厂" in notice and f"moved from {site} to {m['to_site']}" in notice
    assert after["timeline"][-1]["note_key"] == "disruption_moved"
    # the order's thread follows the line: the new site reads it, the old one no longer does
    new_site, old_site = own.account("factory", m["to_site"]), own.account("factory", site)
    assert own.client.get(after["links"]["thread"], headers=new_site).status_code == 200
    assert own.client.get(after["links"]["thread"], headers=old_site).status_code == 404
    _wait(lambda: any(b["data"].get("disruption", {}).get("id") == done["id"] for b in _Hooks.bodies))
    hook = next(b for b in _Hooks.bodies if b["data"].get("disruption", {}).get("id") == done["id"])
    assert hook["event"] == "order.status" and hook["data"]["disruption"]["to_site"] == m["to_site"]
    _wait(lambda: any(order["id"] in text for _, text in mailbox.messages))
    to, text = next((to, text) for to, text in mailbox.messages if order["id"] in text)
    assert any(addr.startswith("buyer") for addr in to) and m["to_site"] in text

    listed = own.client.get("/api/v1/operator/disruptions", headers=oh).json()
    assert listed[0]["id"] == done["id"] and listed[0]["kind"] == "site"


def test_cancelling_before_the_start_leaves_every_order_as_it_was(own: Platform) -> None:
    buyer = own.buyer()
    order = _order(own, buyer, dims=(25, 25, 12))
    site = order["site_id"]
    oh = own.account("operator")
    before = _lines(own, oh)
    start = now() + timedelta(minutes=10)  # soon, so that the line's work falls inside whatever the time of day
    body = {"kind": "site", "target": site, "start": start.isoformat(), "end": (start + timedelta(days=4)).isoformat()}
    r = own.client.post("/api/v1/operator/disruptions", json=body, headers=oh)
    assert r.status_code == 202, r.text
    d = r.json()
    assert d["state"] == "scheduled" and any(m["line_id"] == order["lines"][0]["id"] for m in d["moves"])
    assert _lines(own, oh) != before  # applied ahead of the start
    r = own.client.delete(f"/api/v1/operator/disruptions/{d['id']}", headers=oh)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    assert _lines(own, oh) == before
    _problem(own.client.delete(f"/api/v1/operator/disruptions/{d['id']}", headers=oh), 409, "disruption.over")


def test_a_line_due_on_the_first_day_of_a_closure_is_in_its_preview(own: Platform) -> None:
    """A line promised for the day a closure starts is still being made (a same-city order can be due today): the
    preview must move or slip it. The start is that day at 09:00 at the sites (or later today), where the sites' date
    and the UTC date agree; a check on the UTC date or a strict 'due after the start' left such lines out."""
    buyer = own.buyer()
    order = _order(own, buyer, dims=(22, 18, 9))
    line = order["lines"][0]
    due = date.fromisoformat(line["delivery_date"])
    start = max(datetime.combine(due, dt_time(9, 0), tzinfo=ZoneInfo("Asia/Shanghai")), now() + timedelta(minutes=10))
    assert start.astimezone(ZoneInfo("Asia/Shanghai")).date() == due
    oh = own.account("operator")
    body = {"kind": "site", "target": order["site_id"], "start": start.isoformat(),
            "end": (start + timedelta(days=3)).isoformat(), "preview": True}
    r = own.client.post("/api/v1/operator/disruptions", json=body, headers=oh)
    assert r.status_code == 200, r.text
    assert [m for m in r.json()["moves"] if m["line_id"] == line["id"]], r.json()["moves"]


def test_a_province_disruption_slips_dates_the_buyer_accepts_or_cancels(own: Platform) -> None:
    b1, b2 = own.buyer(), own.buyer()
    o1, o2 = _order(own, b1, dims=(18, 22, 9)), _order(own, b2, dims=(15, 15, 15))
    oh = own.account("operator")
    start = now()
    body = {"kind": "province", "target": "hunan", "start": start.isoformat(),
            "end": (start + timedelta(days=6)).isoformat()}
    preview = own.client.post("/api/v1/operator/disruptions", json=body | {"preview": True}, headers=oh).json()
    r = own.client.post("/api/v1/operator/disruptions", json=body, headers=oh)
    assert r.status_code == 202, r.text
    done = r.json()
    assert done["target"] == "Hunan" and _essence(done["moves"]) == _essence(preview["moves"])
    assert preview["check"] == [] and done["check"] == []
    by_line = {m["line_id"]: m for m in done["moves"]}
    m1, m2 = by_line[o1["lines"][0]["id"]], by_line[o2["lines"][0]["id"]]
    assert m1["slips"] and m1["new_date"] > m1["old_date"] and m1["proposal_id"]

    acc = own.client.get(f"/api/v1/orders/{o1['id']}/acceptance", headers=b1).json()
    assert any(p["id"] == m1["proposal_id"] and p["status"] == "pending" for p in acc["proposals"])
    r = own.client.post(f"/api/v1/orders/{o1['id']}/date-proposals/{m1['proposal_id']}/accept", headers=b1)
    assert r.status_code == 200, r.text
    assert own.client.get(f"/api/v1/orders/{o1['id']}", headers=b1).json()["lines"][0]["delivery_date"] == \
        m1["new_date"]

    _problem(own.client.post(f"/api/v1/orders/{o2['id']}/lines/{m2['line_id']}/cancel", headers=b1), 404,
             "order.line_not_found")
    r = own.client.post(f"/api/v1/orders/{o2['id']}/lines/{m2['line_id']}/cancel", headers=b2)
    assert r.status_code == 200, r.text
    after = own.client.get(f"/api/v1/orders/{o2['id']}", headers=b2).json()
    assert after["lines"][0]["status"] == "cancelled" and after["timeline"][-1]["status"] == "cancelled"
    _problem(own.client.post(f"/api/v1/orders/{o2['id']}/lines/{m2['line_id']}/cancel", headers=b2), 409,
             "disruption.no_slip")
    # started: cancelling ends it now, the moved lines stay
    r = own.client.delete(f"/api/v1/operator/disruptions/{done['id']}", headers=oh)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert own.client.get(f"/api/v1/orders/{o1['id']}", headers=b1).json()["lines"][0]["delivery_date"] == \
        m1["new_date"]


def test_machine_and_route_disruptions_and_edit(own: Platform) -> None:
    buyer = own.buyer()
    order = _order(own, buyer, dims=(30, 20, 8))
    site = order["site_id"]
    oh = own.account("operator")
    machines = [m["id"] for m in own.client.get(f"/api/v1/sites/{site}").json()["machines"]]
    start = now() + timedelta(hours=1)
    r = own.client.post("/api/v1/operator/disruptions", json={
        "kind": "machine", "target": machines[0], "start": start.isoformat(), "preview": True}, headers=oh)
    assert r.status_code == 200, r.text
    assert all(set(m) >= MOVE_KEYS for m in r.json()["moves"])
    r = own.client.post("/api/v1/operator/disruptions", json={
        "kind": "route", "target": "Changsha:Jishou", "start": start.isoformat(),
        "end": (start + timedelta(days=2)).isoformat()}, headers=oh)
    assert r.status_code == 202, r.text
    d = r.json()
    r = own.client.patch(f"/api/v1/operator/disruptions/{d['id']}", json={"open_ended": True}, headers=oh)
    assert r.status_code == 200, r.text
    assert r.json()["end"] is None and r.json()["state"] == "scheduled"


def test_bad_input_is_a_4xx_problem(own: Platform) -> None:
    oh, buyer = own.account("operator"), own.buyer()
    start = now().isoformat()
    post = own.client.post
    _problem(post("/api/v1/operator/disruptions", json={"kind": "site", "target": "x", "start": start}, headers=buyer),
             403, "")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "flood", "target": "x", "start": start}, headers=oh),
             422, "")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "site", "target": "atlantis", "start": start},
                  headers=oh), 404, "disruption.target")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "machine", "target": "no-such-machine",
                                                       "start": start}, headers=oh), 404, "disruption.target")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "route", "target": "Changsha", "start": start},
                  headers=oh), 422, "disruption.target")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "material", "target": "unobtainium",
                                                       "start": start}, headers=oh), 404, "disruption.target")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "site", "target": "cs-jingkai-01"}, headers=oh),
             422, "disruption.body")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "site", "target": "cs-jingkai-01", "start": start,
                                                       "end": (now() - timedelta(days=1)).isoformat()}, headers=oh),
             422, "disruption.end")
    _problem(post("/api/v1/operator/disruptions", json={"kind": "site", "target": "cs-jingkai-01",
                                                       "start": (now() + timedelta(days=400)).isoformat()},
                  headers=oh), 422, "disruption.start")
    _problem(own.client.delete("/api/v1/operator/disruptions/ndr_nope", headers=oh), 404, "disruption.not_found")
    assert own.client.get("/api/v1/operator/disruptions", headers=oh).status_code == 200


def test_preview_commit_and_cancel_on_postgresql(pg_url: str, tmp_path: Any) -> None:
    """The same on PostgreSQL: the committed moves are the preview's; cancelling before the start puts every line
    back."""
    settings = replace(make_settings(tmp_path), database_url=pg_url)
    with TestClient(create_app(settings)) as client:
        p = Platform(client, settings)
        buyer = p.buyer()
        order = _order(p, buyer)
        oh = p.account("operator")
        before = _lines(p, oh)
        start = now() + timedelta(minutes=30)
        body = {"kind": "site", "target": order["site_id"], "start": start.isoformat(),
                "end": (start + timedelta(days=3)).isoformat()}
        preview = client.post("/api/v1/operator/disruptions", json=body | {"preview": True}, headers=oh).json()
        assert preview["moves"] and _lines(p, oh) == before
        r = client.post("/api/v1/operator/disruptions", json=body, headers=oh)
        assert r.status_code == 202, r.text
        assert _essence(r.json()["moves"]) == _essence(preview["moves"])
        assert _lines(p, oh) != before
        assert client.delete(f"/api/v1/operator/disruptions/{r.json()['id']}", headers=oh).status_code == 200
        assert _lines(p, oh) == before


def test_a_line_no_site_can_take_says_why(own: Platform) -> None:
    """Every other site of the line's quote closed: a closure of its own site leaves it with no site, and the
    preview says why (the other sites that could make it are closed too), in the API and on the operator's page."""
    buyer = own.buyer()
    order = _order(own, buyer, dims=(24, 18, 6))
    site = order["site_id"]
    oh = own.account("operator")
    quote = own.client.get(f"/api/v1/quotes/{order['lines'][0]['quote_id']}", headers=buyer).json()
    others = sorted({o["site"] for o in quote["offers"]} - {site})
    start = now() + timedelta(minutes=5)
    for s in others:
        r = own.client.post("/api/v1/operator/disruptions", json={
            "kind": "site", "target": s, "start": start.isoformat()}, headers=oh)
        assert r.status_code == 202, r.text
    r = own.client.post("/api/v1/operator/disruptions", json={
        "kind": "site", "target": site, "start": start.isoformat(), "preview": True}, headers=oh)
    assert r.status_code == 200, r.text
    mine = [m for m in r.json()["moves"] if m["order_id"] == order["id"]]
    assert mine and mine[0]["to_site"] is None, mine
    assert mine[0]["unplaced_reason"] == "others_full" and mine[0]["alternatives"] == len(others), mine
