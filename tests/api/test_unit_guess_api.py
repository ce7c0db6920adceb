"""Issue 17, item 3 on upload and quote: a unit-less model that no process could make in mm (tiny and thinner
than any wall) is read in the unit its size makes plausible and says why, a small part in mm stays in mm, an
open box is closed by the automatic repair and quoted, and the benchmark's inch models get offers without
any option."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from web_kit import Platform, box_stl


def quote(platform: Platform, h: dict[str, str], part_id: str) -> dict[str, Any]:
    r = platform.client.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": 1,
                                                     "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
def h(platform: Platform) -> dict[str, str]:
    return platform.buyer()


def test_an_inch_block_is_read_in_inch_and_says_why(platform: Platform, h: dict[str, str]) -> None:
    part = platform.upload(h, bytes(trimesh.creation.box([1.35, 1.0, 0.625]).export(file_type="stl")), "block.stl")
    assert part["status"] == "ready" and part["facts"]["units"] == "inch"
    assert part["report"]["units_source"] == "guessed"
    assert part["facts"]["bbox_mm"] == pytest.approx([34.29, 25.4, 15.875], rel=1e-6)
    finding = next(f for f in part["findings"] if f["code"] == "units.guessed_inch")
    assert "1.35 x 1 x 0.625 mm" in finding["message"] and "switch its unit to mm" in finding["fix"]
    assert not any("--" in (f["fix"] or "") for f in part["findings"])
    assert quote(platform, h, part["id"])["offers"]
    kept = platform.upload(h, box_stl(5, 6, 7), "small.stl")  # a small part in mm (mean thickness 2 mm)
    assert kept["facts"]["units"] == "mm" and kept["report"]["units_source"] == "assumed"


def test_an_open_box_is_repaired_and_quoted(platform: Platform, h: dict[str, str]) -> None:
    box = trimesh.creation.box([40, 30, 20])
    holed = trimesh.Trimesh(vertices=box.vertices, faces=np.asarray(box.faces)[1:], process=False)
    part = platform.upload(h, bytes(holed.export(file_type="stl")), "holed.stl")
    rep = part["report"]["auto_repair"]
    assert rep["applied"] and rep["before"]["boundary_edges"] == 3 and rep["changes"]["holes_filled"] == 1
    assert part["facts"]["watertight"] and part["facts"]["volume_mm3"] == pytest.approx(24000.0)
    assert not any(f["code"] == "mesh.open" for f in part["findings"])
    assert quote(platform, h, part["id"])["offers"]  # quoted as the repaired solid
    mesh = platform.client.get(part["links"]["mesh"] + "?format=stl", headers=h)
    assert trimesh.load(io.BytesIO(mesh.content), file_type="stl").is_watertight  # the viewer shows it repaired


def test_benchmark_inch_models_get_offers_without_flags(platform: Platform, h: dict[str, str],
                                                        shared_benchmarks: Path) -> None:
    for name in ("featuretype.STL", "angle_block.STL", "idler_riser.STL"):
        part = platform.upload(h, (shared_benchmarks / "meshes" / name).read_bytes(), name)
        assert part["status"] == "ready" and part["facts"]["watertight"], name
        assert part["facts"]["units"] == "inch", name
        assert quote(platform, h, part["id"])["offers"], name
