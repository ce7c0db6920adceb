"""DFM rules per process and machine model, the rule registry, the report pipeline and repair."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from fabgrid.domain.catalog import ProcessFamily
from fabgrid.domain.part import DfmFinding, Severity
from fabgrid.geometry import dfm
from fabgrid.geometry.analyze import mesh_facts
from fabgrid.geometry.repair import repair, winding_number
from fabgrid.geometry.report import Options, analyze_loaded

from ._helpers import hollow_box, loaded


def _codes(report, process=None, severity=None):  # type: ignore[no-untyped-def]
    return {f.code for f in report.findings
            if (process is None or f.process == process) and (severity is None or f.severity == severity)}


def test_clean_box_has_no_errors_and_contract_fields(processes, machines) -> None:  # type: ignore[no-untyped-def]
    r = analyze_loaded(loaded(trimesh.creation.box([30, 20, 10])), processes, machines)
    assert r.triangles == 12 and r.bodies == 1 and r.watertight
    assert r.volume_mm3 == pytest.approx(6000) and r.area_mm2 == pytest.approx(2200)
    assert r.bbox_mm == pytest.approx((30, 20, 10))
    assert not r.errors() and all(r.orderable.values())
    assert set(r.machines_ok["fdm"]) == {"small_fdm", "big_fdm"}
    assert r.min_wall_mm == pytest.approx(10, rel=1e-3)
    assert len(r.orientations) == 26 and set(r.recommended_orientation) == {"fdm", "sla", "sls"}
    assert r.self_intersections_checked and r.self_intersecting_faces == 0
    assert r.part.volume_mm3 == pytest.approx(6000)


def test_build_volume_per_machine(processes, machines) -> None:  # type: ignore[no-untyped-def]
    r = analyze_loaded(loaded(trimesh.creation.box([200, 50, 20])), processes, machines)
    misfit = [f for f in r.findings if f.code == "size.exceeds_build_volume"]
    assert {f.machine_model for f in misfit} == {"small_fdm", "sla1"}
    assert r.orderable["fdm"] and r.machines_ok["fdm"] == ["big_fdm"]
    assert not r.orderable["sla"] and "size.fits_no_machine" in _codes(r, ProcessFamily.SLA)
    # a 400 mm rod fits the 300 mm cube only tilted along a face diagonal (424 mm)
    rod = analyze_loaded(loaded(trimesh.creation.box([400, 10, 10])), processes, machines)
    assert rod.machines_ok["fdm"] == ["big_fdm"] and rod.orderable["sls"]
    too_long = analyze_loaded(loaded(trimesh.creation.box([600, 10, 10])), processes, machines)
    assert not any(too_long.orderable.values())


def test_trapped_cavity_blocks_sla_and_sls_but_not_fdm(processes, machines) -> None:  # type: ignore[no-untyped-def]
    r = analyze_loaded(loaded(hollow_box(20, 2)), processes, machines)
    assert r.volume_mm3 == pytest.approx(20**3 - 16**3)
    assert "trapped.volume" in _codes(r, ProcessFamily.SLA, Severity.ERROR)
    assert "trapped.volume" in _codes(r, ProcessFamily.SLS, Severity.ERROR)
    assert "trapped.volume" not in _codes(r, ProcessFamily.FDM)
    assert r.orderable["fdm"] and not r.orderable["sla"]


def test_thin_wall_error_and_warning(processes, machines) -> None:  # type: ignore[no-untyped-def]
    thin = analyze_loaded(loaded(trimesh.creation.box([40, 40, 0.3])), processes, machines)
    fdm = [f for f in thin.findings if f.code == "wall.too_thin" and f.process == ProcessFamily.FDM]
    assert fdm and fdm[0].severity is Severity.ERROR and fdm[0].value == pytest.approx(0.3, rel=1e-3)
    assert fdm[0].points_mm and fdm[0].face_indices and fdm[0].limit == 0.8
    mid = analyze_loaded(loaded(trimesh.creation.box([40, 40, 0.6])), processes, machines)
    assert "wall.too_thin" in _codes(mid, ProcessFamily.FDM, Severity.WARNING)
    assert "wall.too_thin" not in _codes(mid, ProcessFamily.SLA)  # SLA minimum 0.5 mm
    assert mid.thin_regions and mid.thin_regions[0].min_wall_mm == pytest.approx(0.6, rel=1e-3)


def test_open_mesh_and_units_findings(processes, machines) -> None:  # type: ignore[no-untyped-def]
    box = trimesh.creation.box([1, 2, 3])
    m = loaded(box)
    m.faces = m.faces[1:]
    r = analyze_loaded(m, processes, machines)
    assert "mesh.open" in _codes(r, None, Severity.ERROR) and not any(r.orderable.values())
    assert "units.maybe_inch" in _codes(r)
    fixed = analyze_loaded(m, processes, machines, Options(repair=True))
    assert fixed.watertight and fixed.repairs and any("filled 1 holes" in n for n in fixed.repairs)
    assert fixed.volume_mm3 == pytest.approx(6.0)
    units_known = loaded(box, units_source="file")
    assert "units.maybe_inch" not in _codes(analyze_loaded(units_known, processes, machines))


def test_registry_runs_a_new_rule_only_for_its_process(processes, machines) -> None:  # type: ignore[no-untyped-def]
    @dfm.process_rule("test.only_sls", processes=[ProcessFamily.SLS])
    def _rule(ctx: dfm.ProcessContext) -> list[DfmFinding]:
        return [DfmFinding(code="test.only_sls", severity=Severity.INFO, message="m", fix="f")]

    try:
        r = analyze_loaded(loaded(trimesh.creation.box([5, 5, 5])), processes, machines)
        hits = [f for f in r.findings if f.code == "test.only_sls"]
        assert [f.process for f in hits] == [ProcessFamily.SLS]
    finally:
        del dfm.PROCESS_RULES["test.only_sls"]


def test_per_body_reports(processes, machines) -> None:  # type: ignore[no-untyped-def]
    two = trimesh.util.concatenate([trimesh.creation.box([2, 2, 2]),
                                    trimesh.creation.box([4, 4, 4]).apply_translation([10, 0, 0])])
    r = analyze_loaded(loaded(two), processes, machines, Options(per_body=True, thickness_samples=500))
    assert r.bodies == 2 and sorted(p.volume_mm3 for p in r.parts) == pytest.approx([8, 64])


def test_repair_winding_inversion_and_cavity_kept() -> None:
    box = trimesh.creation.box([10, 10, 10])
    faces = np.asarray(box.faces, dtype=np.int64)
    inverted = repair(box.vertices, faces[:, ::-1].copy())
    assert inverted.changes["bodies_flipped"] == 1
    assert mesh_facts(inverted.vertices, inverted.faces).volume_mm3 == pytest.approx(1000)
    hb = hollow_box(20, 2)
    kept = repair(hb.vertices, np.asarray(hb.faces, dtype=np.int64))
    assert kept.notes == ["nothing to repair"]
    assert mesh_facts(kept.vertices, kept.faces).volume_mm3 == pytest.approx(20**3 - 16**3)
    near = box.vertices.copy()
    split = np.vstack([near, near[:1] + 1e-9])
    f2 = faces.copy()
    f2[0, f2[0] == 0] = 8
    merged = repair(split, f2)
    assert merged.changes["vertices_merged"] == 1 and mesh_facts(merged.vertices, merged.faces).watertight


def test_winding_number_inside_outside() -> None:
    s = trimesh.creation.icosphere(3)
    w = winding_number(np.array([[0.0, 0, 0], [3.0, 0, 0]]), s.vertices, np.asarray(s.faces, dtype=np.int64))
    assert w[0] == pytest.approx(1.0, abs=1e-6) and w[1] == pytest.approx(0.0, abs=1e-6)


def test_repair_rewinds_randomly_flipped_faces() -> None:
    s = trimesh.creation.icosphere(4)
    faces = np.asarray(s.faces, dtype=np.int64).copy()
    bad = np.random.default_rng(1).choice(len(faces), 300, replace=False)
    faces[bad] = faces[bad][:, ::-1]
    assert not mesh_facts(s.vertices, faces).winding_consistent
    fixed = repair(s.vertices, faces)
    assert fixed.changes["faces_rewound"] == 300
    f = mesh_facts(fixed.vertices, fixed.faces)
    assert f.winding_consistent and f.volume_mm3 == pytest.approx(s.volume, rel=1e-12)
