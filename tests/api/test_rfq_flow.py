"""Work that no instant quote covers (issue 19) through the API, with two factories that joined the network: an RFQ
with a PDF drawing and an NDA -> both factories see the teaser only (403 on the files) -> one accepts the NDA and
downloads, the owner's audit log shows it -> bids from both -> award -> order at the bid price and a contract ->
both accept -> the PDF has its Chinese text (read back with pypdf) -> messages both ways (e-mail through a real
local SMTP server, the webhook event), a third organisation and the losing factory get 404 on the thread ->
delivery -> claim -> the operator's decision -> the scorecard changes; the exhibition counts it. Bad input: a bid
after the deadline, an award of a withdrawn bid, a second acceptance, a booking of a taken slot, a file over the
size limit, a PDF that is not a PDF: each a clear 4xx, nothing changed."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from test_factories_onboarding import joined
from test_webhooks_api import Receiver
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.services import attachments, webhooks
from fabgrid.services import claims as claims_service


class Inbox:
    """aiosmtpd handler: keeps every message it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mails: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body()
        text = f"{msg['Subject']}\n\n{body.get_content() if body is not None else ''}"
        self.mails.append((list(envelope.rcpt_tos), text))
        return "250 OK"

    def wait_for(self, to: str, needle: str, timeout_s: float = 20.0) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            for rcpts, content in self.mails:
                if to in rcpts and needle in content:
                    return content
            assert time.monotonic() < deadline, f"no mail to {to} with {needle!r}: {[r for r, _ in self.mails]}"
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    box = Inbox(_free_port())
    ctl = Controller(box, hostname="127.0.0.1", port=box.port)
    ctl.start()
    yield box
    ctl.stop()


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[Platform]:
    """A platform of its own (two factories join it), mailing through the local SMTP server."""
    settings = make_settings(tmp_path_factory.mktemp("rfq"))
    settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{inbox.port}")
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["title"] == code, body
    return body


def drawing_pdf() -> bytes:
    """A real one-page PDF drawing (made with WeasyPrint, as a CAD export would be a PDF)."""
    import weasyprint

    pdf: bytes = weasyprint.HTML(string="<h1>Bracket B-12</h1><p>M6 threads, ±0.05 mm, Ra 1.6</p>").write_pdf()
    return pdf


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, format="PNG")
    return buf.getvalue()


def upload_file(p: Platform, h: dict[str, str], name: str, data: bytes) -> Any:
    return p.client.post("/api/v1/files", files={"file": (name, data)}, headers=h)


@pytest.fixture(scope="module")
def factories(own: Platform) -> dict[str, Any]:
    """Two factories that joined, verified, each with a Prusa MK4 and PLA in stock."""
    op = own.account("operator")
    out: dict[str, Any] = {"op": op}
    for key, org in (("a", "Xiangjiang Precision"), ("b", "Yuelu Machining")):
        h, site = joined(own, org)
        assert own.client.post(f"/api/v1/operator/factories/{site}/verify", json={}, headers=op).status_code == 200
        r = own.client.put("/api/v1/factory/machines", json={"machines": [{"model": "prusa_mk4"}]}, headers=h)
        assert r.status_code == 200, r.text
        r = own.client.put("/api/v1/factory/materials", json={"materials": [{"material": "fdm_pla", "stock_kg": 20}]},
                           headers=h)
        assert r.status_code == 200, r.text
        out[key] = {"h": h, "site": site, "org": org, "email": f"owner@{org.lower().replace(' ', '-')}.example.com"}
    return out


def _rfq_body(part_id: str, file_id: str | None, sites: list[str], **change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "parts": [{"part_id": part_id, "material": "fdm_pla", "process": "fdm", "quantities": [50, 500],
                   "drawing_file_id": file_id, "tolerances": True, "threads": True}],
        "need_by": (date.today() + timedelta(days=40)).isoformat(),
        "bid_deadline": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "nda_required": True, "invite": sites, "destination": "Changsha"}
    body.update(change)
    return body


def buyer_email(p: Platform, h: dict[str, str]) -> str:
    email: str = p.client.get("/api/v1/auth/me", headers=h).json()["email"]
    return email


def _files_on_disk(p: Platform) -> int:
    return sum(1 for _ in (p.settings.data_dir / "attachments").rglob("*.fga"))


def test_the_whole_path_with_two_factories(own: Platform, factories: dict[str, Any], inbox: Inbox,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    c, op = own.client, factories["op"]
    a, b = factories["a"], factories["b"]
    buyer = own.buyer("Changsha Robotics Startup")
    stranger = own.buyer("Another Startup")

    # the park's exhibition, with a booth of each factory
    start = datetime.now(UTC) + timedelta(hours=3)
    r = c.post("/api/v1/operator/exhibitions", json={"name": "湖南智能制造线上展 2026", "theme": "precision parts",
                                                     "starts_on": date.today().isoformat(),
                                                     "ends_on": (date.today() + timedelta(days=2)).isoformat()},
               headers=op)
    assert r.status_code == 201, r.text
    exh = r.json()["id"]
    for k, f in ((0, a), (1, b)):
        r = c.post(f"/api/v1/operator/exhibitions/{exh}/booths", json={
            "site_id": f["site"], "featured": ["PLA brackets"],
            "slots": [{"starts_at": (start + timedelta(minutes=30 * (2 * k + i))).isoformat(), "minutes": 30}
                      for i in range(2)]}, headers=op)
        assert r.status_code == 201, r.text

    # the buyer's part and drawing (encrypted at rest)
    part = own.upload(buyer, box_stl(40, 30, 20), name="bracket.stl")
    pdf = drawing_pdf()
    r = upload_file(own, buyer, "bracket-B12.pdf", pdf)
    assert r.status_code == 201, r.text
    drawing = r.json()
    assert drawing["media_type"] == "application/pdf" and drawing["sha256"] == hashlib.sha256(pdf).hexdigest()
    stored = next((own.settings.data_dir / "attachments").rglob(f"{drawing['id']}.fga")).read_bytes()
    assert b"Bracket" not in stored and pdf[:200] not in stored
    assert c.get(drawing["links"]["self"], headers=buyer).content == pdf
    problem(c.get(drawing["links"]["self"], headers=stranger), 404, "file.not_found")

    r = c.post("/api/v1/rfqs", json=_rfq_body(part["id"], drawing["id"], [a["site"], b["site"]],
                                              exhibition_id=exh), headers=buyer)
    assert r.status_code == 201, r.text
    rfq = r.json()
    assert rfq["status"] == "open" and {a["site"], b["site"]} <= set(rfq["invited_sites"])
    # the matched sites are verified, run FDM with PLA, ranked in order
    capable = {s["id"] for s in c.get("/api/v1/sites", params={"verified": True, "process": "fdm",
                                                                 "material": "fdm_pla"}).json()["sites"]}
    assert set(rfq["invited_sites"]) <= capable
    assert [i["rank"] for i in rfq["invitations"]] == list(range(1, len(rfq["invitations"]) + 1))
    assert {i["site_id"]: i["source"] for i in rfq["invitations"]}[a["site"]] == "invited"
    url = f"/api/v1/factory/rfqs/{rfq['id']}"

    # before the NDA: the teaser only, and 403 on the files
    for f in (a, b):
        mine = [x for x in c.get("/api/v1/factory/rfqs", headers=f["h"]).json() if x["id"] == rfq["id"]]
        assert len(mine) == 1 and mine[0]["access"] == "teaser"
        p0 = mine[0]["parts"][0]
        assert p0["process"] == "fdm" and p0["material"] == "fdm_pla" and p0["quantities"] == [50, 500]
        assert sorted(p0["bbox_mm"]) == pytest.approx([20, 30, 40]) and p0["drawing"] is True
        assert "drawing_file" not in p0 and "filename" not in p0 and "links" not in p0
        assert drawing["id"] not in str(mine[0]) and "bracket" not in str(mine[0])
        problem(c.get(f"{url}/files/{drawing['id']}", headers=f["h"]), 403, "rfq.nda_required")
        problem(c.get(f"{url}/parts/{part['id']}/design", headers=f["h"]), 403, "rfq.nda_required")
    outsider_site = next(s for s in sorted(capable) if s not in rfq["invited_sites"])
    outsider = own.account("factory", site=outsider_site)
    problem(c.get(url, headers=outsider), 404, "rfq.not_found")
    problem(c.get(f"{url}/files/{drawing['id']}", headers=outsider), 404, "rfq.not_found")

    # factory A accepts the NDA (its text's SHA-256) and downloads; the audit log shows it
    nda = c.get(f"{url}/nda", headers=a["h"]).json()
    assert "保密" in nda["text"]["zh-CN"] and "confidential" in nda["text"]["en"].lower()
    assert nda["sha256"] == hashlib.sha256((nda["text"]["zh-CN"] + "\n\n" + nda["text"]["en"]).encode()).hexdigest()
    problem(c.post(f"{url}/nda", json={"nda_sha256": "0" * 64}, headers=a["h"]), 422, "rfq.nda_hash")
    r = c.post(f"{url}/nda", json={"nda_sha256": nda["sha256"]}, headers=a["h"])
    assert r.status_code == 200 and r.json()["nda_sha256"] == nda["sha256"] and r.json()["nda_accepted_at"], r.text
    problem(c.post(f"{url}/nda", json={"nda_sha256": nda["sha256"]}, headers=a["h"]), 409, "rfq.nda_accepted")
    full = c.get(url, headers=a["h"]).json()
    assert full["access"] == "full" and full["parts"][0]["drawing_file"]["sha256"] == drawing["sha256"]
    got = c.get(f"{url}/files/{drawing['id']}", headers=a["h"])
    assert got.status_code == 200 and got.content == pdf and got.headers["content-type"] == "application/pdf"
    got = c.get(f"{url}/parts/{part['id']}/design", headers=a["h"])
    assert got.status_code == 200 and got.content == box_stl(40, 30, 20)
    audit = c.get(f"/api/v1/parts/{part['id']}/audit", headers=buyer).json()
    by_a = [(e["action"], e["allowed"]) for e in audit if e["actor"]["site_id"] == a["site"]]
    assert ("rfq_nda", True) in by_a and ("rfq_drawing_download", True) in by_a and \
        ("rfq_design_download", True) in by_a and ("rfq_drawing_download", False) in by_a
    assert ("rfq_drawing_download", False) in [(e["action"], e["allowed"]) for e in audit
                                                 if e["actor"]["site_id"] == b["site"]]
    assert c.get(f"/api/v1/parts/{part['id']}/audit", headers=a["h"]).status_code == 404  # the owner's log only

    # a question in A's RFQ thread reaches the buyer by e-mail
    thread_a = full["thread_id"]
    assert rfq["threads"][a["site"]] == thread_a
    r = c.post(f"/api/v1/threads/{thread_a}/messages", json={"body": "螺纹是 M6 还是 M5？ M6 or M5?"}, headers=a["h"])
    assert r.status_code == 201, r.text
    inbox.wait_for(buyer_email(own, buyer), "M6 or M5")
    problem(c.get(f"/api/v1/threads/{thread_a}/messages", headers=b["h"]), 404, "thread.not_found")

    # an instant quote of the part tells each site's CO2 per part (where its machines are known)
    r = c.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 50,
                                       "destination": "Changsha"}, headers=buyer)
    assert r.status_code in (200, 201), r.text
    offer_a = next(o for o in r.json()["offers"] if o["site"] == a["site"])
    co2_a = offer_a["co2_kg"] / offer_a["quantity"]

    # bids from both; B withdraws its first one and bids again
    valid = (date.today() + timedelta(days=20)).isoformat()
    pid = part["id"]
    r = c.post(f"{url}/bids", json={"tiers": [
        {"part_id": pid, "quantity": 50, "unit_price_cny": 12.5, "lead_time_days": 10},
        {"part_id": pid, "quantity": 500, "unit_price_cny": 9.8, "lead_time_days": 12}],
        "valid_until": valid, "notes": "PLA+, 0.1 mm layers", "deviations": "Ra 3.2 instead of 1.6"}, headers=a["h"])
    assert r.status_code == 201, r.text
    bid_a = r.json()
    first_b = c.post(f"{url}/bids", json={"tiers": [
        {"part_id": pid, "quantity": 50, "unit_price_cny": 13.0, "lead_time_days": 14}], "valid_until": valid},
        headers=b["h"]).json()
    problem(c.post(f"{url}/bids", json={"tiers": [
        {"part_id": pid, "quantity": 50, "unit_price_cny": 11.0, "lead_time_days": 14}], "valid_until": valid},
        headers=b["h"]), 409, "rfq.bid_exists")
    assert c.post(f"{url}/bids/{first_b['id']}/withdraw", headers=b["h"]).json()["status"] == "withdrawn"
    r = c.post(f"{url}/bids", json={"tiers": [
        {"part_id": pid, "quantity": 50, "unit_price_cny": 11.0, "lead_time_days": 14},
        {"part_id": pid, "quantity": 500, "unit_price_cny": 10.5, "lead_time_days": 16}], "valid_until": valid},
        headers=b["h"])
    assert r.status_code == 201, r.text
    bid_b = r.json()
    problem(c.post(f"{url}/bids", json={"tiers": [
        {"part_id": pid, "quantity": 70, "unit_price_cny": 11.0, "lead_time_days": 14}], "valid_until": valid},
        headers=outsider), 404, "rfq.not_found")

    # the buyer compares; the award of the withdrawn bid is refused and changes nothing
    compared = c.get(f"/api/v1/rfqs/{rfq['id']}/bids", headers=buyer).json()
    assert {x["id"]: x["status"] for x in compared} == {bid_a["id"]: "active", bid_b["id"]: "active",
                                                        first_b["id"]: "withdrawn"}
    row_a = next(x for x in compared if x["id"] == bid_a["id"])
    assert row_a["total_cny_by_quantity"] == {"50": 625.0, "500": 4900.0} and row_a["scorecard"]["orders"] == 0
    assert row_a["meets_need_by"] is True and row_a["site_name"] == a["org"]
    assert row_a["co2_kg_by_quantity"]["50"] == pytest.approx(50 * co2_a, abs=1e-3)
    assert row_a["co2_kg_by_quantity"]["500"] == pytest.approx(500 * co2_a, abs=1e-2) and co2_a > 0
    problem(c.post(f"/api/v1/rfqs/{rfq['id']}/award", json={"bid_id": first_b["id"]}, headers=buyer), 409,
            "rfq.bid_not_active")
    problem(c.post(f"/api/v1/rfqs/{rfq['id']}/award", json={"bid_id": bid_a["id"]}, headers=b["h"]), 404,
            "rfq.not_found")
    assert c.get(f"/api/v1/rfqs/{rfq['id']}", headers=buyer).json()["status"] == "open"
    assert c.get("/api/v1/orders", headers=buyer).json() == []

    # a webhook of A's organisation hears of the award and of messages
    allow_private = replace(own.settings, webhook_allow_private=True)
    monkeypatch.setitem(c.app.state._state, "settings", allow_private)
    monkeypatch.setattr(own, "settings", allow_private)
    monkeypatch.setattr(webhooks, "BACKOFF_S", (0.2, 0.2, 0.2))
    hook_rx = Receiver()
    try:
        r = c.post("/api/v1/webhooks", json={"url": hook_rx.url, "events": ["message.created", "rfq.awarded"]},
                   headers=a["h"])
        assert r.status_code == 201, r.text

        r = c.post(f"/api/v1/rfqs/{rfq['id']}/award", json={"bid_id": bid_a["id"], "quantities": {pid: 500}},
                   headers=buyer)
        assert r.status_code == 201, r.text
        won = r.json()
        problem(c.post(f"/api/v1/rfqs/{rfq['id']}/award", json={"bid_id": bid_b["id"]}, headers=buyer), 409,
                "rfq.closed")
        order = c.get(f"/api/v1/orders/{won['order_id']}", headers=buyer).json()
        assert len(order["lines"]) == 1
        line = order["lines"][0]
        assert (line["site_id"], line["quantity"], line["unit_price_cny"], line["total_price_cny"]) == \
            (a["site"], 500, 9.8, 4900.0)
        assert line["status"] == "allocated" and line["part_id"] == pid
        # the loser is told, without the price
        lost = c.get(url, headers=b["h"]).json()
        assert lost["outcome"] == "lost" and {x["status"] for x in lost["bids"]} >= {"lost"}
        def values(doc: object) -> list[object]:  # every leaf value (a timestamp's digits are not a price)
            if isinstance(doc, dict):
                return [v for x in doc.values() for v in values(x)]
            return [v for x in doc for v in values(x)] if isinstance(doc, list) else [doc]

        assert not {9.8, 4900, "9.8", "4900"} & {v for v in values(lost) if isinstance(v, (int, float, str))}
        mail = inbox.wait_for(b["email"], f"RFQ {rfq['id']} was awarded to another")
        assert not re.search(r"(?<![\d.:])(9\.8|4900)(?![\d])", mail)
        assert c.get(url, headers=a["h"]).json()["outcome"] == "awarded"

        # the contract: parties with legal names and credit codes, documents with their SHA-256
        ctr = c.get(f"/api/v1/contracts/{won['contract_id']}", headers=buyer).json()
        t = ctr["terms"]
        assert ctr["status"] == "draft" and ctr["version"] == 1 and ctr["total_cny"] == 4900.0
        assert t["parties"]["factory"]["legal_name"] == a["org"] and len(t["parties"]["factory"]["credit_code"]) == 18
        assert t["parties"]["buyer"]["legal_name"] == "Changsha Robotics Startup"
        assert t["payment_terms"] == {"advance_pct": 30.0, "on_acceptance_pct": 70.0}
        docs = {d["kind"]: d["sha256"] for d in t["documents"]}
        assert docs["drawing"] == drawing["sha256"] and docs["nda"] == nda["sha256"]
        assert docs["design"] == hashlib.sha256(box_stl(40, 30, 20)).hexdigest()
        assert [m["key"] for m in t["milestones"]] == ["advance", "delivery", "acceptance"]
        problem(c.get(f"/api/v1/contracts/{won['contract_id']}", headers=b["h"]), 404, "contract.not_found")
        problem(c.post(f"/api/v1/contracts/{won['contract_id']}/accept", headers=stranger), 404, "contract.not_found")

        r = c.post(f"/api/v1/contracts/{won['contract_id']}/accept", headers=buyer)
        assert r.status_code == 200 and r.json()["buyer_at"] and r.json()["status"] == "draft", r.text
        problem(c.post(f"/api/v1/contracts/{won['contract_id']}/accept", headers=buyer), 409, "contract.accepted")
        r = c.post(f"/api/v1/contracts/{won['contract_id']}/accept", headers=a["h"])
        assert r.status_code == 200 and r.json()["status"] == "signed" and r.json()["signed_at"], r.text
        signed = r.json()
        problem(c.post(f"/api/v1/contracts/{won['contract_id']}/accept", headers=a["h"]), 409, "contract.immutable")
        assert c.get(f"/api/v1/contracts/{won['contract_id']}", headers=buyer).json() == signed

        # the PDF, in zh-CN and en, with the CJK font embedded
        r = c.get(f"/api/v1/contracts/{won['contract_id']}/pdf", headers=a["h"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
        reader = PdfReader(io.BytesIO(r.content))
        text = "".join(pg.extract_text() for pg in reader.pages)
        for needle in ("制造合同", "统一社会信用代码", "预付款", a["org"], t["parties"]["factory"]["credit_code"],
                       "4900.00", drawing["sha256"][:32]):
            assert needle in text.replace("\n", ""), needle
        fonts = [f.get_object() for pg in reader.pages for f in pg["/Resources"]["/Font"].values()]
        cjk = [f for f in fonts if "CJK" in str(f["/BaseFont"])]
        assert cjk, [f["/BaseFont"] for f in fonts]
        desc = cjk[0]["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")), desc.keys()
        en = PdfReader(io.BytesIO(c.get(f"/api/v1/contracts/{won['contract_id']}/pdf", params={"lang": "en"},
                                        headers=buyer).content))
        assert "Manufacturing contract" in "".join(pg.extract_text() for pg in en.pages)
        problem(c.get(f"/api/v1/contracts/{won['contract_id']}/pdf", headers=b["h"]), 404, "contract.not_found")

        # a change is a new version both accept; the signed one stays until then
        r = c.post(f"/api/v1/contracts/{won['contract_id']}/versions",
                   json={"payment_terms": {"advance_pct": 50, "on_acceptance_pct": 50}, "note": "50/50"},
                   headers=a["h"])
        assert r.status_code == 201, r.text
        v2 = r.json()
        assert v2["version"] == 2 and v2["status"] == "draft" and v2["previous_id"] == won["contract_id"]
        problem(c.post(f"/api/v1/contracts/{won['contract_id']}/versions",
                       json={"payment_terms": {"advance_pct": 60, "on_acceptance_pct": 30}}, headers=a["h"]), 409,
                "contract.not_latest")
        assert c.get(f"/api/v1/contracts/{won['contract_id']}", headers=buyer).json()["status"] == "signed"
        for h in (buyer, a["h"]):
            assert c.post(f"/api/v1/contracts/{v2['id']}/accept", headers=h).status_code == 200
        assert [x["status"] for x in c.get(f"/api/v1/contracts/{v2['id']}/versions", headers=buyer).json()] == \
            ["superseded", "signed"]

        # messages both ways on the order's thread; others get 404; operators' notes are theirs only
        thread = won["thread_id"]
        assert c.get(f"/api/v1/orders/{won['order_id']}/thread", headers=a["h"]).json()["thread_id"] == thread
        tu = f"/api/v1/threads/{thread}/messages"
        r = c.post(tu, json={"body": "请按图纸 B-12 加工 / please follow drawing B-12"}, headers=buyer)
        assert r.status_code == 201, r.text
        mail = inbox.wait_for(a["email"], "please follow drawing B-12")
        assert f"order {won['order_id']}" in mail
        hook_rx.wait(2)  # rfq.awarded, then message.created
        events = [json.loads(body)["event"] for _, body, code in hook_rx.calls if code == 200]
        assert "rfq.awarded" in events and "message.created" in events
        r = c.post(tu, json={"body": "收到，按 M6 加工 / noted, M6"}, headers=a["h"])
        assert r.status_code == 201, r.text
        assert c.post(tu, json={"body": "watch this factory's lead time", "internal": True}, headers=op).status_code \
            == 201
        problem(c.post(tu, json={"body": "sneaky", "internal": True}, headers=buyer), 403, "message.internal")
        seen = c.get(tu, headers=buyer).json()
        assert [m["body"] for m in seen["messages"]] == ["请按图纸 B-12 加工 / please follow drawing B-12",
                                                         "收到，按 M6 加工 / noted, M6"]
        assert seen["unread"] == 1
        assert c.get(tu, headers=buyer).json()["unread"] == 0  # the read marker moved
        assert [m["internal"] for m in c.get(tu, headers=op).json()["messages"]] == [False, False, True]
        for h in (stranger, b["h"], outsider):
            problem(c.get(tu, headers=h), 404, "thread.not_found")
            problem(c.post(tu, json={"body": "hello"}, headers=h), 404, "thread.not_found")
        problem(c.get(f"/api/v1/orders/{won['order_id']}/thread", headers=b["h"]), 404, "order.not_found")
        photo = upload_file(own, buyer, "defect.png", png()).json()
        m = c.post(tu, json={"body": "photo attached", "file_id": photo["id"]}, headers=buyer).json()
        assert c.get(m["links"]["file"], headers=a["h"]).content == png()
        problem(c.get(m["links"]["file"], headers=b["h"]), 404, "thread.not_found")
    finally:
        hook_rx.server.shutdown()

    # a claim waits for delivery
    oid, lid = won["order_id"], line["id"]
    problem(c.post(f"/api/v1/orders/{oid}/claims", json={"line_id": lid, "description": "warped"}, headers=buyer), 409,
            "claim.not_delivered")
    assert c.post(f"/api/v1/factory/orders/{oid}/accept", headers=a["h"]).status_code == 200
    for s in ("in_production", "built"):
        assert c.post(f"/api/v1/factory/orders/{oid}/status", json={"status": s}, headers=a["h"]).status_code == 200
    r = c.post(f"/api/v1/factory/orders/{oid}/inspection", json={"passed": True, "inspected_qty": 20}, headers=a["h"])
    assert r.status_code == 200, r.text
    for s in ("shipped", "delivered"):
        assert c.post(f"/api/v1/factory/orders/{oid}/status", json={"status": s}, headers=a["h"]).status_code == 200
    before = c.get(f"/api/v1/sites/{a['site']}").json()["scorecard"]
    assert before["delivered"] == 1 and before["claims_upheld"] == 0 and before["claim_rate"] == 0.0

    r = c.post(f"/api/v1/orders/{oid}/claims", json={"line_id": lid, "description": "12 of 500 warped (photo)",
                                                     "photo_file_ids": [photo["id"]]}, headers=buyer)
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim["status"] == "open" and claim["site_id"] == a["site"]
    problem(c.post(f"/api/v1/orders/{oid}/claims", json={"line_id": lid, "description": "again"}, headers=buyer),
            409, "claim.open")
    problem(c.post(f"/api/v1/orders/{oid}/claims", json={"line_id": lid, "description": "x"}, headers=stranger),
            404, "order.not_found")
    problem(c.post(f"/api/v1/factory/claims/{claim['id']}/answer", json={"text": "no"}, headers=b["h"]), 404,
            "claim.not_found")
    r = c.post(f"/api/v1/factory/claims/{claim['id']}/answer", json={"text": "we remake 12 parts"}, headers=a["h"])
    assert r.status_code == 200 and r.json()["status"] == "answered", r.text
    problem(c.post(f"/api/v1/operator/claims/{claim['id']}/decision", json={"outcome": "remake"}, headers=buyer),
            403, "claim.not_operator")
    problem(c.post(f"/api/v1/operator/claims/{claim['id']}/decision",
                   json={"outcome": "partial_refund", "refund_cny": 99999}, headers=op), 422, "claim.refund")
    r = c.post(f"/api/v1/operator/claims/{claim['id']}/decision",
               json={"outcome": "partial_refund", "refund_cny": 117.6, "note": "12 parts at 9.80"}, headers=op)
    assert r.status_code == 200 and r.json()["outcome"] == "partial_refund", r.text
    problem(c.post(f"/api/v1/operator/claims/{claim['id']}/decision", json={"outcome": "rejected"}, headers=op),
            409, "claim.decided")
    # the claim window closes FABGRID_CLAIM_WINDOW_DAYS (7) after delivery
    delivered_at = next(e["at"] for e in c.get(f"/api/v1/orders/{oid}", headers=buyer).json()["timeline"]
                        if e["status"] == "delivered")
    later = datetime.fromisoformat(delivered_at) + timedelta(days=7, minutes=1)
    monkeypatch.setattr(claims_service, "now", lambda: later)
    problem(c.post(f"/api/v1/orders/{oid}/claims", json={"line_id": lid, "description": "late"}, headers=buyer),
            409, "claim.window_closed")
    monkeypatch.undo()
    after = c.get(f"/api/v1/sites/{a['site']}").json()["scorecard"]
    assert after["claims"] == 1 and after["claims_upheld"] == 1 and after["claim_rate"] == 1.0
    assert before["claims_cost_cny"] == 0.0 and after["claims_cost_cny"] == 117.6  # the refund, borne by the factory
    assert c.get(f"/api/v1/sites/{b['site']}").json()["scorecard"]["claims"] == 0

    # the exhibition: booked meetings, RFQs, projects signed and their value
    ex = c.get(f"/api/v1/exhibitions/{exh}", headers=buyer).json()
    slot = ex["booths"][0]["slots"][0]
    r = c.post(f"/api/v1/exhibitions/{exh}/slots/{slot['id']}/book", headers=buyer)
    assert r.status_code == 200, r.text
    problem(c.post(f"/api/v1/exhibitions/{exh}/slots/{slot['id']}/book", headers=stranger), 409,
            "exhibition.slot_taken")
    ex = c.get(f"/api/v1/exhibitions/{exh}", headers=stranger).json()
    booked = next(s for bt in ex["booths"] for s in bt["slots"] if s["id"] == slot["id"])
    assert booked["booked"] is True and booked["yours"] is False
    assert ex["counts"] == {"exhibitors": 2, "rfqs": 1, "meetings": 1, "projects_signed": 1,
                            "signed_value_cny": 4900.0}
    assert [e["id"] for e in c.get("/api/v1/exhibitions", headers=buyer).json()] == [exh]


def test_bad_input_is_refused_and_changes_nothing(own: Platform, factories: dict[str, Any]) -> None:
    c, a = own.client, factories["a"]
    buyer = own.buyer()
    on_disk = _files_on_disk(own)
    # a PDF that is not a PDF; a file over the size limit; an unknown kind
    problem(upload_file(own, buyer, "drawing.pdf", png()), 415, "file.type_mismatch")
    problem(upload_file(own, buyer, "drawing.pdf", b"just text, no drawing"), 415, "file.type_mismatch")
    problem(upload_file(own, buyer, "notes.txt", b"hello"), 415, "file.type")
    big = b"%PDF-1.7\n" + bytes(attachments.MAX_FILE_BYTES)
    problem(upload_file(own, buyer, "huge.pdf", big), 413, "file.size")
    assert _files_on_disk(own) == on_disk

    part = own.upload(buyer, box_stl(25, 25, 25))
    problem(c.post("/api/v1/rfqs", json=_rfq_body(part["id"], None, [], bid_deadline=(
        datetime.now(UTC) - timedelta(minutes=1)).isoformat()), headers=buyer), 422, "rfq.deadline")
    problem(c.post("/api/v1/rfqs", json=_rfq_body(part["id"], None, ["cs-nowhere"]), headers=buyer), 422,
            "rfq.invite")
    problem(c.post("/api/v1/rfqs", json=_rfq_body(part["id"], "fil_0000000000000000", [a["site"]]), headers=buyer),
            404, "file.not_found")
    other = own.buyer()
    problem(c.post("/api/v1/rfqs", json=_rfq_body(part["id"], None, [a["site"]]), headers=other), 404,
            "part.not_found")
    problem(c.post("/api/v1/rfqs", json=_rfq_body(part["id"], None, [a["site"]]), headers=a["h"]), 403,
            "rfq.not_buyer")
    assert c.get("/api/v1/rfqs", headers=buyer).json() == []

    # a bid after the deadline
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    r = c.post("/api/v1/rfqs", json=_rfq_body(part["id"], None, [a["site"]], bid_deadline=soon.isoformat(),
                                              nda_required=False), headers=buyer)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert c.get(f"/api/v1/factory/rfqs/{rid}", headers=a["h"]).json()["access"] == "full"  # no NDA asked
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    problem(c.post(f"/api/v1/factory/rfqs/{rid}/bids", json={"tiers": [
        {"part_id": part["id"], "quantity": 50, "unit_price_cny": 3.0, "lead_time_days": 5}],
        "valid_until": (date.today() + timedelta(days=5)).isoformat()}, headers=a["h"]), 409, "rfq.deadline_passed")
    assert c.get(f"/api/v1/rfqs/{rid}/bids", headers=buyer).json() == []

    # a bid for a quantity the RFQ does not ask, and a bid whose validity passed
    r = c.post("/api/v1/rfqs", json=_rfq_body(part["id"], None, [a["site"]]), headers=buyer)
    rid = r.json()["id"]
    problem(c.post(f"/api/v1/factory/rfqs/{rid}/bids", json={"tiers": [
        {"part_id": part["id"], "quantity": 51, "unit_price_cny": 3.0, "lead_time_days": 5}],
        "valid_until": (date.today() + timedelta(days=5)).isoformat()}, headers=a["h"]), 422, "rfq.bid_tier")
    problem(c.post(f"/api/v1/factory/rfqs/{rid}/bids", json={"tiers": [
        {"part_id": part["id"], "quantity": 50, "unit_price_cny": -3.0, "lead_time_days": 5}],
        "valid_until": (date.today() + timedelta(days=5)).isoformat()}, headers=a["h"]), 422, "rfq.bid_tier")
    assert c.get(f"/api/v1/rfqs/{rid}/bids", headers=buyer).json() == []

    # the owner revokes a site: its files are refused again
    nda = c.get(f"/api/v1/factory/rfqs/{rid}/nda", headers=a["h"]).json()
    assert c.post(f"/api/v1/factory/rfqs/{rid}/nda", json={"nda_sha256": nda["sha256"]},
                  headers=a["h"]).status_code == 200
    assert c.get(f"/api/v1/factory/rfqs/{rid}/parts/{part['id']}/design", headers=a["h"]).status_code == 200
    r = c.post(f"/api/v1/rfqs/{rid}/invitations/{a['site']}/revoke", headers=buyer)
    assert r.status_code == 200 and r.json()["revoked_at"], r.text
    problem(c.get(f"/api/v1/factory/rfqs/{rid}/parts/{part['id']}/design", headers=a["h"]), 403,
            "rfq.access_revoked")
    assert c.get(f"/api/v1/factory/rfqs/{rid}", headers=a["h"]).json()["access"] == "teaser"
    audit = c.get(f"/api/v1/parts/{part['id']}/audit", headers=buyer).json()
    assert [e["action"] for e in audit][-2:] == ["rfq_revoke", "rfq_design_download"] and audit[-1]["allowed"] is False


def test_one_slot_is_booked_once_by_concurrent_buyers(own: Platform, factories: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fabgrid.errors import InputError
    from fabgrid.services import accounts, exhibitions

    s = own.settings
    op = accounts.signup(s.database_url, email="op.slots@park.example.com", password="correct horse battery",
                         name="Op", organisation="Park slots", role="operator")
    e = exhibitions.create(s, op, "Slots", "matchmaking", date.today(), date.today() + timedelta(days=1))
    at = datetime.now(UTC) + timedelta(hours=1)
    # bad booths: outside the dates, overlapping slots, a site that is not a verified factory
    for slots, code in (([(at + timedelta(days=5), 30)], "exhibition.slots"),
                        ([(at, 30), (at + timedelta(minutes=15), 30)], "exhibition.slots")):
        with pytest.raises(InputError) as err:
            exhibitions.add_booth(s, op, e.id, factories["a"]["site"], [], slots)
        assert err.value.code == code
    with pytest.raises(InputError, match="not a verified factory"):
        exhibitions.add_booth(s, op, e.id, "fac-nowhere", [], [(at, 30)])
    booth = exhibitions.add_booth(s, op, e.id, factories["a"]["site"], ["brackets"], [(at, 30)])
    assert exhibitions.get_exhibition(s, e.id).exhibition.booths[0].id == booth.id  # nothing half-added before
    buyers = [accounts.signup(s.database_url, email=f"slot{i}@buyers.example.com", password="correct horse battery",
                              name=f"B{i}", organisation=f"Slot buyer {i}") for i in range(8)]
    slot = booth.slots[0].id

    def book(who: accounts.Principal) -> str:
        try:
            exhibitions.book(s, who, e.id, slot)
            return "booked"
        except InputError as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(book, buyers))
    assert sorted(outcomes) == ["booked"] + ["exhibition.slot_taken"] * 7
    winner = buyers[outcomes.index("booked")]
    got = exhibitions.get_exhibition(s, e.id, op).exhibition.booths[0].slots[0]
    assert got.organisation_id == winner.organisation_id
    assert exhibitions.get_exhibition(s, e.id).counts.meetings == 1
