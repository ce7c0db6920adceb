"""Issue 17, item 3 through the API and the part page: `PATCH /api/v1/parts/{id}` {units} reads a part in
another unit and analyses it again, and the part page has the unit switch and shows what the automatic repair
did (in zh-CN), with no command-line flag in sight."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import trimesh
from fastapi.testclient import TestClient
from web_kit import PASSWORD, Platform, box_stl

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _inch_block() -> bytes:
    """A 1.35 x 1.0 x 0.625 (inch) block as a unit-less STL."""
    return bytes(trimesh.creation.box([1.35, 1.0, 0.625]).export(file_type="stl"))


def _holed_box() -> bytes:
    box = trimesh.creation.box([40, 30, 20])
    return bytes(trimesh.Trimesh(vertices=box.vertices, faces=np.asarray(box.faces)[1:], process=False)
                 .export(file_type="stl"))


def _quote(platform: Platform, h: dict[str, str], part_id: str) -> dict[str, Any]:
    r = platform.client.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": 1,
                                                     "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
def owner(platform: Platform) -> dict[str, Any]:
    n = platform._next()
    email = f"units{n}@parts.example.com"
    r = platform.client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "U",
                                                          "organisation": f"Units Org {n}"})
    assert r.status_code == 201
    return {"email": email, "h": platform.login(email)}


def test_inch_model_is_read_in_inch_and_can_be_switched(platform: Platform, owner: dict[str, Any]) -> None:
    h = owner["h"]
    part = platform.upload(h, _inch_block(), "block.stl")
    assert part["status"] == "ready" and part["facts"]["units"] == "inch"
    assert part["report"]["units_source"] == "guessed"
    assert part["facts"]["bbox_mm"] == pytest.approx([34.29, 25.4, 15.875], rel=1e-6)
    finding = next(f for f in part["findings"] if f["code"] == "units.guessed_inch")
    assert "1.35 x 1 x 0.625 mm" in finding["message"] and "mm" in finding["fix"]
    assert not any("--" in f["fix"] for f in part["findings"])
    inch_offers = _quote(platform, h, part["id"])["offers"]
    assert inch_offers
    r = platform.client.patch(f"/api/v1/parts/{part['id']}", json={"units": "mm"}, headers=h)
    assert r.status_code == 200, r.text
    mm = r.json()
    assert mm["units"] == "mm" and mm["facts"]["units"] == "mm" and mm["report"]["units_source"] == "user"
    assert mm["facts"]["bbox_mm"] == pytest.approx([1.35, 1.0, 0.625], rel=1e-6)
    assert any(f["code"] == "wall.too_thin" for f in mm["findings"])  # read as mm it is too thin to print
    # the quote cache keeps one loaded part per unit: another server process holding the inch reading
    # cannot hand it to a quote of the part in mm
    from fabgrid.services import quotes_store

    as_mm = quotes_store.cached_part(part["id"], part["sha256"], "mm")
    as_guessed = quotes_store.cached_part(part["id"], part["sha256"], None)
    assert as_mm is not None and max(as_mm.extents_mm) == pytest.approx(1.35, rel=1e-6)
    assert as_guessed is None or max(as_guessed.extents_mm) == pytest.approx(34.29)
    back = platform.client.patch(f"/api/v1/parts/{part['id']}", json={"units": "inch"}, headers=h).json()
    assert back["facts"]["volume_mm3"] == pytest.approx(1.35 * 1.0 * 0.625 * 25.4 ** 3, rel=1e-6)
    bad = platform.client.patch(f"/api/v1/parts/{part['id']}", json={"units": "furlong"}, headers=h)
    assert bad.status_code == 422 and bad.json()["title"] == "upload.units"
    assert platform.client.patch(f"/api/v1/parts/{part['id']}", json={"units": "mm"},
                                 headers=platform.buyer()).status_code == 404


def _browser(platform: Platform, email: str, lang: str) -> TestClient:
    b = TestClient(platform.client.app, follow_redirects=False, headers={"Accept-Language": lang})
    m = _CSRF.search(b.get("/login").text)
    assert m is not None
    assert b.post("/login", data={"csrf_token": m.group(1), "email": email, "password": PASSWORD}).status_code == 303
    return b


def test_part_page_unit_switch_and_repaired_facts(platform: Platform, owner: dict[str, Any]) -> None:
    h = owner["h"]
    holed = platform.upload(h, _holed_box(), "holed.stl")
    rep = holed["report"]["auto_repair"]
    assert rep["applied"] and rep["before"]["boundary_edges"] == 3 and rep["changes"]["holes_filled"] == 1
    assert holed["facts"]["watertight"] and holed["facts"]["volume_mm3"] == pytest.approx(24000.0)
    assert not any(f["code"] == "mesh.open" for f in holed["findings"])
    assert _quote(platform, h, holed["id"])["offers"]  # the open box is quoted as the repaired solid
    b = _browser(platform, owner["email"], "zh-CN")
    page = b.get(f"/parts/{holed['id']}")
    assert page.status_code == 200 and 'id="repaired"' in page.text and "封闭了 1 个孔" in page.text
    assert "--repair" not in page.text and "--units" not in page.text
    plain = platform.upload(h, box_stl(1, 1.5, 0.5), "tiny.stl")  # as mm 0.5 mm thin: read in inch
    assert plain["facts"]["units"] == "inch" and plain["facts"]["bbox_mm"] == pytest.approx([25.4, 38.1, 12.7])
    page = b.get(f"/parts/{plain['id']}")
    assert 'id="units-form"' in page.text and "按尺寸推断" in page.text and '<option value="inch" selected' in page.text
    token = _CSRF.search(page.text)
    assert token is not None
    r = b.post(f"/parts/{plain['id']}/units", data={"csrf_token": token.group(1), "units": "mm"})
    assert r.status_code == 303
    now = platform.client.get(f"/api/v1/parts/{plain['id']}", headers=h).json()
    assert now["facts"]["units"] == "mm" and now["facts"]["bbox_mm"] == pytest.approx([1, 1.5, 0.5])
    kept = platform.upload(h, box_stl(5, 6, 7), "small.stl")  # a small part in mm (mean thickness 2 mm) stays mm
    assert kept["facts"]["units"] == "mm" and kept["report"]["units_source"] == "assumed"
