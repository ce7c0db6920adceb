"""Factory pages (only the site's own work; status, inspection entry, schedule) and the operator's map,
disruptions and KPIs."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pages_kit import Site, csrf_of


def test_factory_sees_only_its_work_and_records_production(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    fac, other = site.browser(), site.browser()
    site.login(fac, site.account("factory", site_id))
    other_site = next(s for s in ("hn-cs-01", "hn-zz-01", "gd-sz-01", "hn-xt-01") if s != site_id)
    from fabgrid.data import load_network

    if other_site not in load_network().sites:
        other_site = next(s for s in load_network().sites if s != site_id)
    site.login(other, site.account("factory", other_site))

    page = fac.get("/factory")
    assert page.status_code == 200 and f'data-order="{order_id}"' in page.text
    assert 'id="machines"' in page.text
    assert order_id not in other.get("/factory").text
    # the other factory cannot move it either
    token = csrf_of(other.get("/factory").text)
    r = other.post(f"/factory/orders/{order_id}/status", data={"csrf_token": token, "status": "in_production"})
    assert r.status_code == 404
    # a factory is not a buyer
    assert fac.get("/parts").status_code == 403

    for status in ("in_production", "built"):
        token = csrf_of(fac.get("/factory").text)
        r = fac.post(f"/factory/orders/{order_id}/status", data={"csrf_token": token, "status": status})
        assert r.status_code == 303, r.text
    token = csrf_of(fac.get("/factory").text)
    r = fac.post(f"/factory/orders/{order_id}/inspection", data={
        "csrf_token": token, "passed": "yes", "inspected_qty": "2", "measurements": "length_mm = 20.03\nwidth_mm=29.98",
        "defects": "", "note": "CMM"})
    assert r.status_code == 303, r.text
    order = buyer.get(f"/api/v1/orders/{order_id}").json()
    assert order["status"] == "inspected"
    assert order["inspection"]["measurements"] == {"length_mm": 20.03, "width_mm": 29.98}
    page = buyer.get(f"/orders/{order_id}")
    assert 'id="inspection"' in page.text and "20.030" in page.text
    report = buyer.get(f"/orders/{order_id}/inspection-report")
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert "length_mm" in report.text and "passed" in report.text
    bad = fac.post(f"/factory/orders/{order_id}/inspection", data={
        "csrf_token": csrf_of(fac.get("/factory").text), "passed": "yes", "inspected_qty": "1",
        "measurements": "length twenty"})
    assert bad.status_code == 422 and "is not 'name = number'" in html.unescape(bad.text)


def test_factory_schedule_draws_a_gantt_of_open_work(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    fac = site.browser()
    site.login(fac, site.account("factory", site_id))
    page = fac.get("/factory/schedule")
    assert page.status_code == 200 and order_id in page.text and 'id="gantt"' in page.text
    png = fac.get("/factory/schedule.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_operator_map_load_disruption_and_reroute(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    op = site.browser()
    site.login(op, site.account("operator"))
    page = op.get("/operator")
    assert page.status_code == 200 and 'id="load-map"' in page.text and 'id="kpis"' in page.text
    assert f'<tr data-site="{site_id}">' in page.text
    # the site with the new order shows queued work
    import re

    load = re.search(rf'data-site="{site_id}" data-load-days="([0-9.]+)"', page.text)
    assert load and float(load.group(1)) > 0
    token = csrf_of(page.text)
    start = datetime.now(ZoneInfo("Asia/Shanghai"))
    r = op.post("/operator/disruptions", data={"csrf_token": token, "kind": "site", "target": site_id,
                                               "start": start.strftime("%Y-%m-%dT%H:%M"),
                                               "end": (start + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")})
    assert r.status_code == 303 and r.headers["location"].startswith("/operator?declared=ndr_")
    page = op.get("/operator")
    assert 'data-state="active"' in page.text and "closed" in page.text.lower()
    order = buyer.get(f"/api/v1/orders/{order_id}").json()
    moves = [m for d in op.get("/api/v1/operator/disruptions").json() for m in d["moves"] if m["order_id"] == order_id]
    assert moves and (order["site_id"] != site_id) == moves[0]["moved"]  # applied at once, as the preview shows
    # buyers and factories do not see the operator's page
    assert buyer.get("/operator").status_code == 403


def _png(w: int = 64, h: int = 48) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def test_production_photos_reach_the_buyer_only(site: Site) -> None:
    buyer, stranger = site.browser(), site.browser()
    site.signup_buyer(buyer)
    site.signup_buyer(stranger)
    order_id, site_id = site.ordered(buyer)
    fac = site.browser()
    site.login(fac, site.account("factory", site_id))
    token = csrf_of(fac.get("/factory").text)
    fac.post(f"/factory/orders/{order_id}/status", data={"csrf_token": token, "status": "in_production"})
    token = csrf_of(fac.get("/factory").text)
    r = fac.post(f"/factory/orders/{order_id}/photos", data={"csrf_token": token},
                 files={"photo": ("plate.png", _png(), "image/png")})
    assert r.status_code == 303, r.text
    r = fac.post(f"/factory/orders/{order_id}/photos", data={"csrf_token": token},
                 files={"photo": ("evil.png", b"<script>alert(1)</script>", "image/png")})
    assert r.status_code == 422 and "not a readable image" in r.text
    r = fac.post(f"/factory/orders/{order_id}/photos", files={"photo": ("plate.png", _png(), "image/png")})
    assert r.status_code == 403  # no CSRF token
    page = buyer.get(f"/orders/{order_id}")
    assert f'/orders/{order_id}/photos/001.jpg' in page.text and "002.jpg" not in page.text
    img = buyer.get(f"/orders/{order_id}/photos/001.jpg")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content[:2] == b"\xff\xd8"
    assert fac.get(f"/orders/{order_id}/photos/001.jpg").status_code == 200
    assert stranger.get(f"/orders/{order_id}/photos/001.jpg").status_code == 404
    assert buyer.get(f"/orders/{order_id}/photos/..%2F..%2Ffabgrid.db").status_code == 404
    # at rest the photo is encrypted like designs (issue 16, item 11): no JPEG in the data directory
    stored = list((site.settings.data_dir / "order_photos" / order_id).iterdir())
    assert [p.name for p in stored] == ["001.jpg.enc"]
    blob = stored[0].read_bytes()
    assert blob[:4] == b"FGP1" and b"\xff\xd8\xff" not in blob and img.content[100:140] not in blob
    from fabgrid.errors import InputError
    from fabgrid.services import web_photos

    assert web_photos.decrypt_photo(site.settings, order_id, "001.jpg", blob) == img.content
    with pytest.raises(InputError, match="altered or belongs elsewhere"):  # bound to its order and name
        web_photos.decrypt_photo(site.settings, order_id, "002.jpg", blob)
