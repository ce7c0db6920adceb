"""The factory's answer to its allocated lines on its page (issue 18, item 5): accept, decline with a reason (the line
goes to the next best capable site, or back to the buyer), propose a date (the buyer answers it); in zh-CN and en;
a bad date is a 422 page and changes nothing."""

from __future__ import annotations

import html
from datetime import date, timedelta

from pages_kit import Site, csrf_of


def test_the_factory_accepts_declines_and_proposes_on_its_page(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    fac = site.browser()
    site.login(fac, site.account("factory", site_id))
    page = fac.get("/factory")
    assert page.status_code == 200
    assert f'action="/factory/orders/{order_id}/accept"' in page.text
    assert f'action="/factory/orders/{order_id}/decline"' in page.text and "Cannot meet the date" in page.text
    zh = site.browser("zh-CN")
    site.login(zh, site.account("factory", site_id))
    zpage = zh.get("/factory").text
    assert "接单" in zpage and "拒单" in zpage and "无法按期交付" in zpage and "提议新交期" in zpage

    # a bad date: a 422 page, no proposal stored
    r = fac.post(f"/factory/orders/{order_id}/propose-date", data={"csrf_token": csrf_of(page.text),
                                                                    "date": "soon"})
    assert r.status_code == 422 and "is not a date" in html.unescape(r.text)
    assert buyer.get(f"/api/v1/orders/{order_id}/acceptance").json()["proposals"] == []
    # accept: the line is accepted, the form gone
    r = fac.post(f"/factory/orders/{order_id}/accept", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    page = fac.get("/factory")
    assert f'action="/factory/orders/{order_id}/accept"' not in page.text and "accepted" in page.text
    # propose a date: the buyer sees it waiting for an answer
    r = fac.post(f"/factory/orders/{order_id}/propose-date", data={
        "csrf_token": csrf_of(page.text), "date": "2099-01-04", "note": "resin delivery late"})
    assert r.status_code == 422  # too far ahead: the service's limit, told on the page
    doc = buyer.get(f"/api/v1/orders/{order_id}").json()
    later = doc["lines"][0]["delivery_date"]
    new = (date.fromisoformat(later) + timedelta(days=5)).isoformat()
    r = fac.post(f"/factory/orders/{order_id}/propose-date", data={
        "csrf_token": csrf_of(page.text), "date": new, "note": "resin delivery late"})
    assert r.status_code == 303, r.text
    props = buyer.get(f"/api/v1/orders/{order_id}/acceptance").json()["proposals"]
    assert [(p["proposed_date"], p["status"]) for p in props] == [(new, "pending")]
    # the buyer's order page links the notice, which offers to accept the date, keep theirs or cancel the line
    order_page = buyer.get(f"/orders/{order_id}").text
    assert 'id="disruption-notice"' in order_page
    notice = buyer.get(f"/orders/{order_id}/disruption")
    assert "Delivery date changes" in notice.text and f'data-proposal="{props[0]["id"]}"' in notice.text
    keep = f'/orders/{order_id}/disruption/{props[0]["id"]}/keep'
    assert f'action="{keep}"' in notice.text and "Keep my date" in notice.text
    r = buyer.post(keep, data={"csrf_token": csrf_of(notice.text)})
    assert r.status_code == 303, r.text
    props = buyer.get(f"/api/v1/orders/{order_id}/acceptance").json()["proposals"]
    assert [p["status"] for p in props] == ["rejected"]
    assert buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]["delivery_date"] == later  # kept
    assert buyer.post(keep, data={"csrf_token": csrf_of(notice.text)}).status_code == 409  # decided already
    assert 'id="notice-none"' in buyer.get(f"/orders/{order_id}/disruption").text


def test_a_declined_line_leaves_the_site(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    fac = site.browser()
    site.login(fac, site.account("factory", site_id))
    page = fac.get("/factory")
    # "other" needs a note: refused on the page, nothing changes
    r = fac.post(f"/factory/orders/{order_id}/decline", data={"csrf_token": csrf_of(page.text), "reason": "other"})
    assert 400 <= r.status_code < 500
    assert buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]["site_id"] == site_id
    r = fac.post(f"/factory/orders/{order_id}/decline", data={"csrf_token": csrf_of(page.text),
                                                               "reason": "no_capacity"})
    assert r.status_code == 303, r.text
    line = buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]
    assert line["site_id"] != site_id
    assert f'data-order="{order_id}"' not in fac.get("/factory").text
