"""The pages of issue 19's later items: the operator creates and edits an exhibition (dates, theme, a booth of a
verified factory from the showroom, its featured parts and meeting slots; a free slot removed, a booked one kept), in
English and Chinese; the buyer splits an RFQ's quantity tiers over two factories through the comparison per part
(one order each), and a bad choice is an error page that changes nothing."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pages_kit import Site, csrf_of

from fabgrid.services import acceptance, accounts, claims, exhibitions, factories, orders, rfq

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_operator_creates_and_edits_an_exhibition(site: Site) -> None:
    op = site.browser()
    site.login(op, site.account("operator"))
    page = op.get("/operator/exhibitions")
    assert page.status_code == 200 and 'id="exhibition-form"' in page.text
    day = datetime.now(SHANGHAI).date() + timedelta(days=1)
    r = op.post("/operator/exhibitions", data={"csrf_token": csrf_of(page.text), "name": "Hunan spring fair",
                                               "theme": "precision parts", "starts_on": day.isoformat(),
                                               "ends_on": day.isoformat()})
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    exh = url.rsplit("/", 1)[1]
    page = op.get(url)
    token = csrf_of(page.text)
    verified = re.findall(r'<option value="([^"]+)"', page.text.split('id="booth-new"')[1])
    assert verified and set(verified) <= {p.site.id for p in factories.search(site.settings, verified_only=True)}
    r = op.post(f"{url}/booths", data={"csrf_token": token, "site_id": verified[0], "featured": "PLA clips，brackets",
                                       "start": f"{day}T10:00", "minutes": "30"})
    assert r.status_code == 303, r.text
    # bad input: the last day before the first -> an error page, nothing changed
    r = op.post(url, data={"csrf_token": token, "name": "x", "theme": "", "starts_on": day.isoformat(),
                           "ends_on": (day - timedelta(days=1)).isoformat()})
    assert r.status_code == 422 and "ends_on" in html.unescape(r.text)
    r = op.post(url, data={"csrf_token": token, "name": "湖南春季线上展", "theme": "精密零件",
                           "starts_on": day.isoformat(), "ends_on": (day + timedelta(days=1)).isoformat()})
    assert r.status_code == 303, r.text
    v = exhibitions.get_exhibition(site.settings, exh)
    booth = v.exhibition.booths[0]
    assert v.exhibition.name == "湖南春季线上展" and booth.featured == ("PLA clips", "brackets")
    assert [s.starts_at for s in booth.slots] == [datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI)]
    r = op.post(f"{url}/booths/{booth.id}", data={"csrf_token": token, "featured": "PLA clips",
                                                  "start": f"{day + timedelta(days=1)}T14:00", "minutes": "45"})
    assert r.status_code == 303, r.text
    slots = exhibitions.get_exhibition(site.settings, exh).exhibition.booths[0].slots
    assert len(slots) == 2 and (slots[1].ends_at - slots[1].starts_at) == timedelta(minutes=45)
    buyer = accounts.signup(site.settings.database_url, email="exh-page-buyer@example.com",
                            password="correct horse battery", name="B", organisation="Exh page buyer")
    exhibitions.book(site.settings, buyer, exh, slots[0].id)
    page = op.get(url)
    assert page.text.count('class="inline-form remove-slot"') == 1 and "remove-booth" not in page.text
    r = op.post(f"/operator/exhibitions/{exh}/slots/{slots[0].id}/remove", data={"csrf_token": token})
    assert r.status_code == 409  # booked: kept
    r = op.post(f"/operator/exhibitions/{exh}/slots/{slots[1].id}/remove", data={"csrf_token": token})
    assert r.status_code == 303
    assert [s.id for s in exhibitions.get_exhibition(site.settings, exh).exhibition.booths[0].slots] == [slots[0].id]
    zh = site.browser("zh-CN")
    site.login(zh, site.account("operator"))
    page = zh.get(url)
    assert "管理展会" in page.text and "添加展位" in page.text and "湖南春季线上展" in page.text
    assert "管理展会" in zh.get("/exhibitions").text
    buyer_b = site.browser()
    site.signup_buyer(buyer_b)
    assert buyer_b.get(url).status_code in (403, 404)


def test_the_buyer_splits_tiers_on_the_rfq_page(site: Site) -> None:
    s = site.settings
    b = site.browser()
    email = site.signup_buyer(b)
    part = site.upload(b)
    who = accounts.find_user(s.database_url, email)
    assert who is not None
    shown = rfq.create_rfq(s, who, [rfq.PartWish(part_id=part["id"], quantities=(10, 100), material="fdm_pla",
                                                  process="fdm")], need_by=date.today() + timedelta(days=40),
                           bid_deadline=datetime.now(UTC) + timedelta(hours=2), nda_required=False)
    rid = shown.rfq.id
    sites = [i.site_id for i in shown.invitations][:2]
    bids = []
    facs = []
    for k, sid in enumerate(sites):
        fac = accounts.signup(s.database_url, email=f"split-page-{k}@factory.example.com",
                              password="correct horse battery", name="F", organisation=f"Split page {k}",
                              role="factory", site_id=sid)
        facs.append(fac)
        bids.append(rfq.place_bid(s, fac, rid, [{"part_id": part["id"], "quantity": q, "unit_price_cny": 5.0 + k,
                                                 "lead_time_days": 7} for q in (10, 100)],
                                  valid_until=date.today() + timedelta(days=10)))
    page = b.get(f"/rfqs/{rid}")
    assert page.status_code == 200 and 'id="split-form"' in page.text and 'name="pick_0_100"' in page.text
    token = csrf_of(page.text)
    r = b.post(f"/rfqs/{rid}/award", data={"csrf_token": token, "split": "1"})
    assert r.status_code == 422  # nothing chosen
    assert rfq.get_rfq(s, who, rid).rfq.status == "open"
    r = b.post(f"/rfqs/{rid}/award", data={"csrf_token": token, "split": "1", "pick_0_10": bids[1].id,
                                           "pick_0_100": bids[0].id})
    assert r.status_code == 303 and r.headers["location"].endswith("#awarded"), r.text
    got = rfq.get_rfq(s, who, rid).rfq
    assert got.status == "awarded" and {(t.quantity, t.bid_id) for t in got.awarded_tiers} == {
        (10, bids[1].id), (100, bids[0].id)}
    page = b.get(f"/rfqs/{rid}")
    assert page.text.count("data-order=") == 2 and 'id="split-form"' not in page.text

    # a claim on the delivered line of the 100 decided remake: the order page shows the line at no charge
    oid = next(t.order_id for t in got.awarded_tiers if t.quantity == 100)
    fac = facs[0]
    acceptance.accept(s, fac, oid)
    for st in ("in_production", "built"):
        orders.factory_status(s, fac, oid, st)
    orders.factory_inspection(s, fac, oid, True, 5, [], {})
    for st in ("shipped", "delivered"):
        orders.factory_status(s, fac, oid, st)
    line = orders.get_order(s, who, oid).lines[0]
    c = claims.open_claim(s, who, oid, line.id, "cracked")
    op = accounts.signup(s.database_url, email="split-page-op@park.example.com", password="correct horse battery",
                         name="Op", organisation="Split page park", role="operator")
    claims.decide(s, op, c.id, "remake", remake_quantity=7)
    page = b.get(f"/orders/{oid}")
    assert page.status_code == 200 and page.text.count('class="badge remake-line"') == 1, page.text
    assert "7 parts remade" in b.get(f"/orders/{oid}/claims").text
