"""The operator's page (issue 22): a disruption's preview lists the affected lines with old and new site, price,
date, distance and CO2 and changes nothing; committing applies it (the map and the table show the site closed);
cancelling it puts the lines back; the KPI window selector shows a report; both languages."""

from __future__ import annotations

from datetime import timedelta

from pages_kit import Site, csrf_of

from fabgrid.services._util import now

LOCAL = "%Y-%m-%dT%H:%M"


def _local(dt_utc: object) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    assert isinstance(dt_utc, datetime)
    return dt_utc.astimezone(ZoneInfo("Asia/Shanghai")).strftime(LOCAL)


def test_preview_commit_cancel_and_kpi_window(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    before = buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]
    op = site.browser("zh")
    site.login(op, site.account("operator"))
    page = op.get("/operator")
    assert page.status_code == 200 and 'id="disruption-preview-form"' in page.text and "申报中断" in page.text
    start = now() + timedelta(minutes=10)  # scheduled: it has not started yet
    form = {"csrf_token": csrf_of(page.text), "kind": "site", "target": site_id, "start": _local(start),
            "end": _local(start + timedelta(days=3))}
    r = op.post("/operator/disruptions/preview", data=form)
    assert r.status_code == 200, r.text
    assert 'id="dis-moves"' in r.text and f'data-line="{before["id"]}"' in r.text and "买家价格（不变）" in r.text
    assert 'id="disruption-commit-form"' in r.text
    assert buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]["site_id"] == site_id  # nothing changed

    r = op.post("/operator/disruptions", data=form | {"csrf_token": csrf_of(r.text), "note": "maintenance"})
    assert r.status_code == 303 and r.headers["location"].startswith("/operator?declared=ndr_")
    moved = buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]
    assert moved["site_id"] != site_id and moved["total_price_cny"] == before["total_price_cny"]
    page = op.get("/operator")
    assert 'data-state="scheduled"' in page.text and "已计划" in page.text
    dis_id = r.headers["location"].split("=", 1)[1]
    later = _local(start + timedelta(days=6))
    r = op.post(f"/operator/disruptions/{dis_id}/edit", data={"csrf_token": csrf_of(page.text), "start": form["start"],
                                                              "end": later})
    assert r.status_code == 303
    page = op.get("/operator")
    assert f'value="{later}"' in page.text  # the new end
    r = op.post(f"/operator/disruptions/{dis_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    back = buyer.get(f"/api/v1/orders/{order_id}").json()["lines"][0]
    assert (back["site_id"], back["status"], back["delivery_date"]) == \
        (before["site_id"], before["status"], before["delivery_date"])

    en = site.browser("en")
    site.login(en, site.account("operator"))
    page = en.get("/operator?window=day")
    assert page.status_code == 200 and 'id="kpi-cards"' in page.text and 'data-window="day"' in page.text
    assert "Open work by status" in page.text
    bad = en.post("/operator/disruptions/preview", data=form | {"csrf_token": csrf_of(page.text), "kind": "flood"})
    assert bad.status_code == 422 and "flood" in bad.text


def test_the_map_zooms_from_china_to_the_park(site: Site) -> None:
    import re

    op = site.browser("zh")
    site.login(op, site.account("operator"))
    china = op.get("/operator").text
    assert 'data-zoom="0"' in china and 'class="site cluster' in china and "长沙园区" in china
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', china)]
    assert counts and max(counts) >= 5  # the park's sites overlap at the scale of China: one mark
    park_link = re.search(r'<a href="(/operator\?z=2&amp;c=[0-9.,]+)#load-map" id="zoom-park"', china)
    province_link = re.search(r'<a href="(/operator\?z=1&amp;c=[0-9.,]+)#load-map" id="zoom-province"', china)
    assert park_link and province_link
    province = op.get(province_link.group(1).replace("&amp;", "&")).text
    assert 'data-zoom="1"' in province and 'class="label"' in province  # clusters named by their city
    park = op.get(park_link.group(1).replace("&amp;", "&")).text
    assert 'data-zoom="2"' in park and 'class="site cluster' not in park
    labels = re.findall(r'<text class="label"[^>]*>([^<]+)</text>', park)
    assert len(labels) >= 5  # every site of the park labelled with its name
    assert 'class="pan"' in park and op.get("/operator?z=2&c=nonsense").status_code == 200


def test_the_buyer_sees_the_notice_and_accepts_the_new_date(site: Site) -> None:
    buyer = site.browser("zh")
    site.signup_buyer(buyer)
    order_id, _site_id = site.ordered(buyer)
    op = site.browser()
    site.login(op, site.account("operator"))
    page = op.get("/operator")
    start = now()
    form = {"csrf_token": csrf_of(page.text), "kind": "material", "target": "fdm_pla", "start": _local(start),
            "end": _local(start + timedelta(days=5))}  # PLA short everywhere: every offer is later
    assert op.post("/operator/disruptions", data=form).status_code == 303
    order = buyer.get(f"/orders/{order_id}")
    assert 'id="disruption-notice"' in order.text and "交期已变更或需要您答复" in order.text
    notice = buyer.get(f"/orders/{order_id}/disruption")
    assert notice.status_code == 200 and 'id="notice-pending"' in notice.text and "接受新交期" in notice.text
    assert "keep-date" not in notice.text  # a disruption's date is the network's earliest: accept it or cancel
    import re

    m = re.search(r'data-proposal="(dpr_[0-9a-f]+)"', notice.text)
    assert m
    r = buyer.post(f"/orders/{order_id}/disruption/{m.group(1)}/accept", data={"csrf_token": csrf_of(notice.text)})
    assert r.status_code == 303
    after = buyer.get(f"/orders/{order_id}/disruption")
    assert 'id="notice-none"' in after.text
    assert op.get(f"/orders/{order_id}/disruption").status_code == 403  # the buyer's page
