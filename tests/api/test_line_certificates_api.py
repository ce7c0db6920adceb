"""The required certificate flows to the order line (issue 17, item 5): a quote asked with a certificate has
offers from certified sites only, the order line keeps the certificate (API, order page, the factory's work list),
and the allocation engine places a line without a chosen site at a certified site only."""

from __future__ import annotations

import re

from web_kit import Platform, box_stl

from fabgrid.data import load_network


def test_required_certificate_on_the_line(platform: Platform) -> None:
    c = platform.client
    h = platform.buyer()
    sites = load_network().sites
    cert = "ISO 9001"
    holders = {sid for sid, s in sites.items() if cert in s.certifications}
    part = platform.upload(h, box_stl(20, 30, 10))
    r = c.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                       "certifications": [cert]}, headers=h)
    assert r.status_code in (200, 201), r.text
    q = r.json()
    assert q["request"]["certifications"] == [cert]
    assert q["offers"] and {o["site"] for o in q["offers"]} <= holders
    r = c.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"]}], "consent_design_sharing": True}, headers=h)
    assert r.status_code == 201, r.text
    line = r.json()["lines"][0]
    assert line["certifications"] == [cert] and line["site_id"] in holders  # the engine's choice is certified too
    order = c.get(f"/api/v1/orders/{r.json()['id']}", headers=h).json()
    assert order["lines"][0]["certifications"] == [cert]

    plain = platform.upload(h, box_stl(22, 30, 10))
    q2 = c.post("/api/v1/quotes", json={"part_id": plain["id"], "material": "fdm_pla", "quantity": 2},
                headers=h).json()
    assert len({o["site"] for o in q2["offers"]}) > len({o["site"] for o in q["offers"]})
    r = c.post("/api/v1/orders", json={"lines": [{"quote_id": q2["id"], "site": q2["offers"][0]["site"]}],
                                       "consent_design_sharing": True}, headers=h)
    assert r.json()["lines"][0]["certifications"] == []


def test_order_page_shows_the_certificate(platform: Platform) -> None:
    from fastapi.testclient import TestClient

    c = platform.client
    n = platform._next()
    email = f"cert{n}@pages.example.com"
    c.post("/api/v1/auth/signup", json={"email": email, "password": "correct horse battery", "name": "C",
                                        "organisation": f"Cert Org {n}"})
    h = platform.login(email)
    part = platform.upload(h, box_stl(25, 20, 10))
    q = c.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 1,
                                       "certifications": ["IATF 16949"]}, headers=h).json()
    o = c.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": q["offers"][0]["site"]}],
                                       "consent_design_sharing": True}, headers=h).json()
    b = TestClient(c.app, headers={"Accept-Language": "zh"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', b.get("/login").text)
    assert token
    b.post("/login", data={"csrf_token": token.group(1), "email": email, "password": "correct horse battery"})
    page = b.get(f"/orders/{o['id']}").text
    assert 'class="line-certificate">所需证书: IATF 16949' in page
    n2 = platform._next()
    fab_email = f"certfab{n2}@park.example.com"
    from fabgrid.services import accounts

    accounts.signup(platform.settings.database_url, email=fab_email, password="correct horse battery", name="F",
                    organisation=f"cert factory {n2}", role="factory", site_id=q["offers"][0]["site"])
    fab = TestClient(c.app, headers={"Accept-Language": "en"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', fab.get("/login").text)
    assert token
    fab.post("/login", data={"csrf_token": token.group(1), "email": fab_email, "password": "correct horse battery"})
    assert 'class="line-certificate">Required certificate: IATF 16949' in fab.get("/factory").text  # the work list
    part_page = b.get(f"/parts/{part['id']}").text
    assert 'id="required-certificate"' in part_page and '<option value="ISO 9001">' in part_page
