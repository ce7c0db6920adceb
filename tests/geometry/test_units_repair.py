"""Issue 17, item 3: the weld merges the float noise of CAD exporters (so inch models trimesh finds
watertight are watertight), the unit guess picks the plausible reading and says why, the automatic
repair is applied only when it is safe, and no finding tells a user to use a command-line flag."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import trimesh

from fabgrid.geometry.dfm import mesh_rules
from fabgrid.geometry.load import load_bytes, merge_close, weld
from fabgrid.geometry.repair import auto_repair, auto_repair_part, defects
from fabgrid.geometry.units import guess_unit
from fabgrid.services.analysis import analyze_file
from fabgrid.services.quotes import prepare_part


def _noisy_inch_box_stl() -> bytes:
    """A 1.35 x 1.0 x 0.625 inch box as a binary STL whose zero coordinates are written as 0 on some
    faces and as 1e-17 or -3.8e-33 on others (what a CAD exporter's cos(90 deg) leaves)."""
    box = trimesh.creation.box([1.35, 1.0, 0.625])
    box.apply_translation(-box.bounds[0])  # corners at 0
    tris = np.asarray(box.vertices)[np.asarray(box.faces)].copy()
    noise = np.array([3.06e-17, -3.79e-33, 2.4e-18])
    for k in range(0, len(tris), 2):
        zero = tris[k] == 0.0
        tris[k][zero] = noise[k % 3]
    out = trimesh.Trimesh(vertices=tris.reshape(-1, 3), faces=np.arange(len(tris) * 3).reshape(-1, 3),
                          process=False)
    return bytes(out.export(file_type="stl"))


def test_weld_merges_exporter_noise_but_keeps_real_gaps() -> None:
    data = _noisy_inch_box_stl()
    exact_v, exact_inv = weld(np.frombuffer(data, dtype=np.dtype([("n", "<f4", 3), ("t", "<f4", (3, 3)),
                                                                   ("a", "<u2")]), offset=84)["t"]
                              .reshape(-1, 3).astype(np.float64))
    assert defects(exact_v, exact_inv.reshape(-1, 3))["boundary_edges"] > 0  # the exact weld leaves it open
    part = load_bytes(data, "block.stl")
    d = defects(part.vertices, part.faces)
    assert len(part.vertices) == 8 and d["boundary_edges"] == 0 and d["nonmanifold_edges"] == 0
    ref = trimesh.load(io.BytesIO(data), file_type="stl")  # trimesh's own verdict after merging
    assert ref.is_watertight
    # points one float32 step apart (a real, if tiny, gap) are not merged
    v = np.array([[0.0, 0, 0], [1, 0, 0], [1.0 + 2.0 ** -23, 0, 0]])
    merged, inv = merge_close(v, np.arange(3))
    assert len(merged) == 3 and inv.tolist() == [0, 1, 2]
    close = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1e-17, 0]])
    merged, inv = merge_close(close, np.arange(3))
    assert len(merged) == 2 and inv[1] == inv[2] and merged[inv[2]].tolist() == [1.0, 0.0, 0.0]


def test_an_open_mesh_stays_open_after_the_weld() -> None:
    box = trimesh.creation.box([20, 20, 20])
    open_box = trimesh.Trimesh(vertices=box.vertices, faces=box.faces[2:], process=False)
    part = load_bytes(bytes(open_box.export(file_type="stl")), "open.stl")
    assert defects(part.vertices, part.faces)["boundary_edges"] == 4


def test_unit_guess_picks_the_plausible_reading_and_says_why() -> None:
    g = guess_unit(1.352)  # angle_block read as mm
    assert g is not None and g.unit == "inch" and g.max_extent_mm == pytest.approx(34.34, rel=1e-3)
    assert "1,352 mm (not plausible)" in g.reason and "inch" in g.reason
    small = guess_unit(0.12)  # 0.12 m = 120 mm; 0.12 inch = 3 mm is no part
    assert small is not None and small.unit == "m" and small.max_extent_mm == pytest.approx(120.0)
    assert guess_unit(25.0) is None  # mm is plausible
    assert guess_unit(0.0001) is None  # no reading is plausible: nothing is guessed
    r = analyze_file(_noisy_inch_box_stl(), "block.stl", process="fdm")
    finding = next(f for f in r.findings if f.code.startswith("units.maybe_"))
    assert finding.code == "units.maybe_inch" and "34.29 x 25.4 x 15.88 mm" in finding.message
    assert r.watertight and not any(f.code == "mesh.open" for f in r.findings)


def test_no_finding_names_a_command_line_flag() -> None:
    source = Path(mesh_rules.__file__).read_text(encoding="utf-8")
    assert "--" not in source.replace("# --", "")
    # the hints of the geometry engine's errors reach the web (upload problems) too
    for f in Path(mesh_rules.__file__).parents[1].rglob("*.py"):
        for line in f.read_text(encoding="utf-8").splitlines():
            assert not ("hint=" in line and " --" in line), f"{f.name}: {line.strip()}"
    box = trimesh.creation.box([1, 2, 3])
    two = trimesh.util.concatenate([box, box.copy().apply_translation([5, 0, 0])])
    broken = trimesh.Trimesh(vertices=two.vertices, faces=np.r_[two.faces[1:], two.faces[:1]][:-1],
                             process=False)
    r = analyze_file(bytes(broken.export(file_type="stl")), "b.stl")
    assert {"mesh.open", "units.maybe_inch", "mesh.multiple_bodies"} <= {f.code for f in r.findings}
    for f in r.findings:
        assert "--" not in f.message and "--" not in (f.fix or ""), f


def test_auto_repair_applies_only_safe_repairs() -> None:
    box = trimesh.creation.box([30, 20, 10])
    v, f = np.asarray(box.vertices), np.asarray(box.faces, dtype=np.int64)
    # one missing triangle and one flipped face: closed and re-wound
    g = f[1:].copy()
    g[3] = g[3, ::-1]
    rv, rf, out = auto_repair(v, g)
    assert out.needed and out.applied and out.reason is None
    assert out.before["boundary_edges"] == 3 and out.after == {k: 0 for k in out.after}
    assert trimesh.Trimesh(rv, rf).volume == pytest.approx(6000.0)
    # a large hole (a quarter of a sphere gone) is not closed: the part is returned as it was
    s = trimesh.creation.icosphere(3, radius=10)
    sv, sf = np.asarray(s.vertices), np.asarray(s.faces, dtype=np.int64)
    keep = sv[sf].mean(axis=1)[:, 2] < 7.0
    _, f2, out2 = auto_repair(sv, sf[keep])
    assert out2.needed and not out2.applied and "large" in str(out2.reason) and f2 is not None
    assert len(f2) == int(keep.sum())
    # a clean part is not touched
    _, _, clean = auto_repair(v, f)
    assert not clean.needed and not clean.applied


def test_analysis_and_quote_read_the_same_repaired_mesh() -> None:
    box = trimesh.creation.box([30, 20, 10])
    holed = trimesh.Trimesh(vertices=box.vertices, faces=box.faces[1:], process=False)
    data = bytes(holed.export(file_type="stl"))
    plain = analyze_file(data, "h.stl", process="fdm")
    assert not plain.watertight and plain.auto_repair is None
    assert any(f.code == "mesh.open" for f in plain.findings)
    r = analyze_file(data, "h.stl", process="fdm", auto_repair=True)
    assert r.watertight and r.auto_repair is not None and r.auto_repair.applied
    assert r.auto_repair.before["boundary_edges"] == 3 and r.auto_repair.changes["holes_filled"] == 1
    assert r.repairs and "filled 1 holes" in r.repairs[0]
    assert not any(f.code == "mesh.open" for f in r.findings) and r.volume_mm3 == pytest.approx(6000.0)
    prepared = prepare_part(data, "h.stl")
    assert prepared.part.volume_mm3 == pytest.approx(r.volume_mm3)
    again, outcome = auto_repair_part(prepared.part)
    assert again is prepared.part and not outcome.needed


def test_benchmark_inch_models_are_watertight(shared_benchmarks: Path) -> None:
    for name in ("featuretype.STL", "angle_block.STL", "idler_riser.STL"):
        path = shared_benchmarks / "meshes" / name
        r = analyze_file(path, process="fdm")
        ref = trimesh.load(str(path))
        assert ref.is_watertight and r.watertight and r.boundary_edges == 0, name
        assert r.volume_mm3 == pytest.approx(ref.volume, rel=1e-6), name
        assert any(f.code == "units.maybe_inch" for f in r.findings), name
        inch = analyze_file(path, process="fdm", units="inch")
        assert inch.volume_mm3 == pytest.approx(ref.volume * 25.4 ** 3, rel=1e-6)
        assert not any(f.code.startswith(("units.", "mesh.open")) for f in inch.findings)
