"""A multi-body 3MF split into one part per body (issue 17, item 5): POST /api/v1/parts/{id}/split makes a part of
each object (analysed, in mm, with the body's size), the parts are quoted and ordered as lines of one order; the
part page offers the split; an STL or a one-body 3MF is a 4xx problem; another organisation's part is 404."""

from __future__ import annotations

import re

import trimesh
from web_kit import Platform, box_stl


def _two_bodies() -> bytes:
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box((10.0, 10.0, 10.0)), geom_name="cube")
    pin = trimesh.creation.cylinder(5.0, 20.0)
    pin.apply_translation((30.0, 0.0, 0.0))
    scene.add_geometry(pin, geom_name="pin")
    data: bytes = scene.export(file_type="3mf")
    return data


def test_split_into_lines(platform: Platform) -> None:
    c = platform.client
    h = platform.buyer()
    part = platform.upload(h, _two_bodies(), "assembly.3mf")
    r = c.post(f"/api/v1/parts/{part['id']}/split", headers=h)
    assert r.status_code == 201, r.text
    made = r.json()["parts"]
    assert [p["filename"] for p in made] == ["assembly-1-cube.stl", "assembly-2-pin.stl"]
    full = [c.get(f"/api/v1/parts/{p['id']}", headers=h).json() for p in made]
    assert [p["status"] for p in full] == ["ready", "ready"]
    extents = [sorted(round(v) for v in p["facts"]["bbox_mm"]) for p in full]
    assert extents == [[10, 10, 10], [10, 10, 20]]
    q = c.post("/api/v1/quotes/list", json={"material": "fdm_pla", "process": "fdm", "items": [
        {"part_id": p["id"], "quantity": n} for p, n in zip(made, (5, 8), strict=True)]}, headers=h).json()["quotes"]
    r = c.post("/api/v1/orders", json={"lines": [{"quote_id": x["id"], "site": x["offers"][0]["site"]} for x in q],
                                       "consent_design_sharing": True}, headers=h)
    assert r.status_code == 201 and len(r.json()["lines"]) == 2, r.text
    audit = c.get(f"/api/v1/parts/{part['id']}/audit", headers=h).json()
    assert any(a["action"] == "owner_split" for a in audit)
    other = platform.buyer()
    assert c.post(f"/api/v1/parts/{part['id']}/split", headers=other).status_code == 404


def test_split_refusals(platform: Platform) -> None:
    c = platform.client
    h = platform.buyer()
    stl = platform.upload(h, box_stl(), "box.stl")
    r = c.post(f"/api/v1/parts/{stl['id']}/split", headers=h)
    assert r.status_code == 422 and r.json()["title"] == "part.split_format"
    assert r.headers["content-type"].startswith("application/problem+json")
    one = trimesh.Scene()
    one.add_geometry(trimesh.creation.box((10.0, 12.0, 14.0)), geom_name="only")
    single = platform.upload(h, one.export(file_type="3mf"), "single.3mf")
    r = c.post(f"/api/v1/parts/{single['id']}/split", headers=h)
    assert r.status_code == 409 and r.json()["title"] == "part.single_body"


def test_part_page_offers_the_split(platform: Platform) -> None:
    from fastapi.testclient import TestClient

    c = platform.client
    n = platform._next()
    email = f"split{n}@pages.example.com"
    c.post("/api/v1/auth/signup", json={"email": email, "password": "correct horse battery", "name": "S",
                                        "organisation": f"Split Org {n}"})
    h = platform.login(email)
    part = platform.upload(h, _two_bodies(), "pair.3mf")
    b = TestClient(c.app, headers={"Accept-Language": "zh"}, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', b.get("/login").text)
    assert token
    b.post("/login", data={"csrf_token": token.group(1), "email": email, "password": "correct horse battery"})
    page = b.get(f"/parts/{part['id']}").text
    assert 'id="split-form"' in page and "此文件包含 2 个独立实体" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    r = b.post(f"/parts/{part['id']}/split", data={"csrf_token": csrf.group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/parts"
    listing = b.get("/parts").text
    assert "pair-1-" in listing and "pair-2-" in listing
