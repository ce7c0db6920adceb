"""POST /api/v1/parts (inline and as a job), limits while streaming, GET part / list / mesh / design / audit."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh
from web_kit import Platform, box_stl

from fabgrid.geometry import limits
from fabgrid.services import parts


def test_small_upload_is_analysed_inline(platform: Platform) -> None:
    h = platform.buyer()
    body = platform.upload(h)
    assert body["status"] == "ready" and body["filename"] == "box.stl"
    assert body["facts"]["triangles"] == 12 and body["facts"]["watertight"] is True
    assert body["facts"]["volume_mm3"] == pytest.approx(6000.0)
    assert isinstance(body["findings"], list) and body["report"]["bbox_mm"] == [20.0, 30.0, 10.0]
    got = platform.client.get(body["links"]["self"], headers=h).json()
    assert got["id"] == body["id"] and got["status"] == "ready"
    listed = platform.client.get("/api/v1/parts", headers=h).json()
    assert [p["id"] for p in listed] == [body["id"]] and "report" not in listed[0]


def test_large_upload_answers_202_and_a_job(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "INLINE_ANALYSIS_MAX_BYTES", 100)
    h = platform.buyer()
    r = platform.client.post("/api/v1/parts", files={"file": ("cube.stl", box_stl(10, 10, 10))}, headers=h)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "succeeded") and r.headers["location"] == job["links"]["self"]
    done = platform.wait_job(h, job["id"])
    assert done["status"] == "succeeded" and done["result"]["part_id"] == job["part"]["id"]
    part = platform.client.get(f"/api/v1/parts/{job['part']['id']}", headers=h).json()
    assert part["status"] == "ready" and part["facts"]["volume_mm3"] == pytest.approx(1000.0)


def test_bad_file_fails_with_a_problem(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    h = platform.buyer()
    r = platform.client.post("/api/v1/parts", files={"file": ("junk.stl", b"solid x\nendsolid x\n")}, headers=h)
    # refused inline: the problem's own status (422), problem+json, with the stored failed part in `part`
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"].startswith("mesh.") and r.json()["part"]["status"] == "failed"
    stored = platform.client.get(r.json()["instance"], headers=h).json()
    assert stored["status"] == "failed" and stored["problem"]["title"] == r.json()["title"]
    monkeypatch.setattr(parts, "INLINE_ANALYSIS_MAX_BYTES", 5)
    r = platform.client.post("/api/v1/parts", files={"file": ("junk.stl", b"solid x\nendsolid x\n")}, headers=h)
    job = platform.wait_job(h, r.json()["id"])
    assert job["status"] == "failed" and job["problem"]["status"] == 422 and job["result"] is None


def test_limits_while_streaming(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    h = platform.buyer()
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 4096)
    big = trimesh.creation.icosphere(subdivisions=3).export(file_type="stl")  # 1280 triangles, 64 kB
    r = platform.client.post("/api/v1/parts", files={"file": ("big.stl", big)}, headers=h)
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "limit.file_size"
    stored = list((platform.settings.data_dir / "designs").rglob("*.fgd"))
    assert platform.client.get("/api/v1/parts", headers=h).json() == []
    assert all(p.stat().st_size > 0 for p in stored)  # the refused upload left no file behind
    r = platform.client.post("/api/v1/parts", files={"file": ("part.exe", b"MZ...")}, headers=h)
    assert r.status_code == 415 and r.json()["title"] == "upload.file_type"
    r = platform.client.post("/api/v1/parts", content=b"{}", headers=h | {"Content-Type": "application/json"})
    assert r.status_code == 415
    r = platform.client.post("/api/v1/parts", files={"other": ("a.stl", box_stl())}, headers=h)
    assert r.status_code == 422 and r.json()["title"] == "upload.no_file"
    r = platform.client.post("/api/v1/parts", files={"file": ("a.stl", box_stl())}, data={"units": "furlong"},
                             headers=h)
    assert r.status_code == 422 and r.json()["title"] == "upload.units"
    assert platform.client.post("/api/v1/parts", files={"file": ("a.stl", box_stl())}).status_code == 401


def test_units_override(platform: Platform) -> None:
    h = platform.buyer()
    r = platform.client.post("/api/v1/parts", files={"file": ("inch.stl", box_stl(1, 1, 1))}, data={"units": "inch"},
                             headers=h)
    assert r.status_code == 201
    assert r.json()["facts"]["volume_mm3"] == pytest.approx(25.4 ** 3, rel=1e-6)


def test_mesh_design_and_audit(platform: Platform) -> None:
    h = platform.buyer()
    stl = box_stl(5, 6, 7)
    part = platform.upload(h, stl)
    glb = platform.client.get(part["links"]["mesh"], headers=h)
    assert glb.status_code == 200 and glb.headers["content-type"] == "model/gltf-binary"
    scene = trimesh.load(io.BytesIO(glb.content), file_type="glb")
    mesh = next(iter(scene.geometry.values()))
    assert len(mesh.faces) == 12 and np.allclose(mesh.extents, (5, 6, 7))
    as_stl = platform.client.get(part["links"]["mesh"] + "?format=stl", headers=h)
    assert as_stl.headers["content-type"] == "model/stl"
    assert trimesh.load(io.BytesIO(as_stl.content), file_type="stl").volume == pytest.approx(210.0)
    design = platform.client.get(part["links"]["design"], headers=h)
    assert design.status_code == 200 and design.content == stl
    assert 'filename="box.stl"' in design.headers["content-disposition"]
    log = platform.client.get(part["links"]["audit"], headers=h).json()
    assert [e["action"] for e in log] == ["owner_mesh", "owner_mesh", "owner_download"]
    assert all(e["allowed"] and e["at"].endswith("+00:00") for e in log)


def test_openapi_documents_the_platform(platform: Platform) -> None:
    spec = platform.client.get("/openapi.json").json()
    for path in ("/api/v1/parts", "/api/v1/parts/{part_id}", "/api/v1/jobs/{job_id}", "/api/v1/quotes",
                 "/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/orders/{order_id}/invoice",
                 "/api/v1/factory/work", "/api/v1/factory/designs/{part_id}", "/api/v1/operator/disruptions",
                 "/api/v1/webhooks", "/api/v1/parts/{part_id}/audit"):
        assert path in spec["paths"], path
    upload = spec["paths"]["/api/v1/parts"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"202", "413", "429"} <= set(upload["responses"])
