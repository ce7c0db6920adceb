"""The buyer's pages: upload (the page's XHR path), the part with its 3D view and findings, offers side by
side, ordering with consent, the timeline in Asia/Shanghai, invoice and inspection report."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import trimesh
from pages_kit import Site, csrf_of


def test_upload_view_quote_order_and_follow(site: Site) -> None:
    b = site.browser()
    site.signup_buyer(b)
    order_id, site_id = site.ordered(b, consent=True)
    page = b.get(f"/orders/{order_id}")
    assert page.status_code == 200
    assert 'id="timeline"' in page.text and "Asia/Shanghai" in page.text
    order = b.get(f"/api/v1/orders/{order_id}").json()
    assert order["consent_design_sharing"] is True and order["site_id"] == site_id
    placed_utc = datetime.fromisoformat(order["timeline"][0]["at"])
    shown = placed_utc.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert shown in page.text  # the timeline shows Shanghai time, not UTC
    assert f"/api/v1/orders/{order_id}/invoice" in page.text
    invoice = b.get(f"/api/v1/orders/{order_id}/invoice")
    assert invoice.status_code == 200 and order_id in invoice.text
    listing = b.get("/orders")
    assert order_id in listing.text
    # no inspection yet: no report to download
    assert b.get(f"/orders/{order_id}/inspection-report").status_code == 404


def test_part_page_carries_the_mesh_and_findings_for_the_viewer(site: Site) -> None:
    b = site.browser()
    site.signup_buyer(b)
    # a plate 0.2 mm thick: thinner than every process's minimum wall, so findings name faces
    plate: bytes = trimesh.creation.box((30.0, 30.0, 0.2)).export(file_type="stl")
    part = site.upload(b, plate, name="thin.stl")
    page = b.get(f"/parts/{part['id']}")
    assert page.status_code == 200
    assert f'data-mesh-url="/api/v1/parts/{part["id"]}/mesh?format=stl"' in page.text
    assert '<script src="/static/vendor/viewer.js"></script>' in page.text
    m = re.search(r'data-findings="([^"]*)"', page.text)
    assert m
    import html

    findings = json.loads(html.unescape(m.group(1)))
    assert any(f["severity"] == "error" for f in findings)
    assert "error" in page.text and 'id="quote-form"' in page.text
    mesh = b.get(f"/api/v1/parts/{part['id']}/mesh?format=stl")
    assert mesh.status_code == 200 and len(mesh.content) == 84 + 50 * 12


def test_another_buyer_cannot_see_the_part_quote_or_order(site: Site) -> None:
    owner, other = site.browser(), site.browser()
    site.signup_buyer(owner)
    site.signup_buyer(other)
    order_id, _ = site.ordered(owner)
    order = owner.get(f"/api/v1/orders/{order_id}").json()
    for path in (f"/parts/{order['part_id']}", f"/quotes/{order['quote_id']}", f"/orders/{order_id}",
                 f"/orders/{order_id}/inspection-report"):
        r = other.get(path)
        assert r.status_code == 404, path
        assert "not found" in r.text
        # none of the owner's data: no facts, offers, timeline, prices or file name
        for marker in ('id="facts"', 'id="offers"', 'id="timeline"', "box.stl", f"{order['total_price_cny']:.2f}"):
            assert marker not in r.text, (path, marker)


def test_quote_form_errors_are_pages_not_tracebacks(site: Site) -> None:
    b = site.browser()
    site.signup_buyer(b)
    part = site.upload(b)
    token = csrf_of(b.get(f"/parts/{part['id']}").text)
    r = b.post(f"/parts/{part['id']}/quote", data={"csrf_token": token, "material": "fdm_pla", "quantity": "lots"})
    assert r.status_code == 422 and "quantity must be a whole number" in r.text and "<html" in r.text
    r = b.post(f"/parts/{part['id']}/quote", data={"material": "fdm_pla", "quantity": "1"})
    assert r.status_code == 403


def test_upload_without_the_csrf_header_is_refused(site: Site) -> None:
    b = site.browser()
    site.signup_buyer(b)
    r = b.post("/api/v1/parts", files={"file": ("box.stl", b"solid x\nendsolid x\n")})
    assert r.status_code == 403


def test_the_upload_hint_lists_the_registered_formats_in_each_language(site: Site) -> None:
    from fabgrid.geometry.formats import FORMATS
    from fabgrid.services.parts import MAX_FILE_BYTES

    b = site.browser()
    site.signup_buyer(b)
    mb = str(MAX_FILE_BYTES // (1024 * 1024))
    for lang, joiner in (("en", " or "), ("zh", " 或 ")):
        b.cookies.set("lang", lang)
        page = b.get("/parts")
        hint = re.search(r'<p class="muted">([^<]*)</p>', page.text)
        assert hint is not None, page.text[:500]
        assert all(f.label in hint.group(1) for f in FORMATS) and joiner in hint.group(1) and mb in hint.group(1)
        accept = re.search(r'accept="([^"]*)"', page.text)
        assert accept is not None and set(accept.group(1).split(",")) == {e for f in FORMATS for e in f.extensions}
