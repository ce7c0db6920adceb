"""`fabgrid analyze` (JSON contract, table, errors with exit 2) and the service function on bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

from fabgrid.errors import InputError
from fabgrid.services.analysis import analyze_file

from ._helpers import hollow_box


def _fabgrid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fabgrid.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def part(tmp_path: Path) -> Path:
    path = tmp_path / "bracket.stl"
    path.write_bytes(hollow_box(30, 3).export(file_type="stl"))
    return path


def test_analyze_json_contract(part: Path) -> None:
    res = _fabgrid("analyze", str(part), "--json", "--process", "sla")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    for key in ("triangles", "bodies", "bbox_mm", "volume_mm3", "area_mm2", "watertight", "units", "findings",
                "convex_hull_volume_mm3", "center_mass_mm", "orientations", "recommended_orientation",
                "min_wall_mm"):
        assert key in doc, key
    assert doc["triangles"] == 24 and doc["bodies"] == 2 and doc["units"] == "mm"
    assert doc["volume_mm3"] == pytest.approx(30**3 - 24**3)
    assert doc["bbox_mm"] == pytest.approx([30, 30, 30])
    trapped = [f for f in doc["findings"] if f["code"] == "trapped.volume"]
    assert trapped and trapped[0]["severity"] == "error" and trapped[0]["fix"] and trapped[0]["face_indices"]
    assert set(doc["recommended_orientation"]) == {"sla"} and doc["orderable"] == {"sla": False}


def test_analyze_table_and_units_override(part: Path) -> None:
    res = _fabgrid("analyze", str(part), "--process", "fdm", "--units", "inch")
    assert res.returncode == 0, res.stderr
    assert "762 x 762 x 762" in res.stdout and "inch" in res.stdout


def test_analyze_errors_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.stl"
    empty.write_bytes(b"")
    res = _fabgrid("analyze", str(empty), "--json")
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "hint: " in res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr
    res = _fabgrid("analyze", str(tmp_path / "missing.3mf"))
    assert res.returncode == 2 and "no such file" in res.stderr
    box = tmp_path / "box.stl"
    box.write_bytes(trimesh.creation.box([1, 1, 1]).export(file_type="stl"))
    res = _fabgrid("analyze", str(box), "--process", "laser")
    assert res.returncode == 2 and "fdm" in res.stderr


def test_service_on_bytes_repair_and_per_body() -> None:
    two = trimesh.util.concatenate([trimesh.creation.box([10, 10, 10]),
                                    trimesh.creation.box([10, 10, 10]).apply_translation([30, 0, 0])])
    r = analyze_file(two.export(file_type="stl"), "two.stl", process="fdm", repair=True, per_body=True)
    assert r.bodies == 2 and len(r.parts) == 2 and r.repairs == ["nothing to repair"]
    assert r.volume_mm3 == pytest.approx(2000)
    with pytest.raises(InputError):
        analyze_file(b"solid x\nendsolid x\n", None)


def test_time_budget_is_a_limit_error() -> None:
    from fabgrid.errors import LimitError

    data = trimesh.creation.icosphere(3).export(file_type="stl")
    with pytest.raises(LimitError) as err:
        analyze_file(data, "ball.stl", process="fdm", time_budget_s=0.0)
    assert err.value.code == "limit.time" and "0 s" in err.value.message
