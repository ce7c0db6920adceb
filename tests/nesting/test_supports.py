"""Supports of metal PBF plates: hand-computed volumes, agreement with the geometry package's estimates,
no support inside another part, bounded meshes, the 3MF round trip, and FDM/SLA left as they were."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh

from fabgrid.cli import main
from fabgrid.domain.build import Build
from fabgrid.domain.catalog import MachineModel, ProcessFamily
from fabgrid.errors import InputError
from fabgrid.geometry import orient
from fabgrid.geometry.analyze import mesh_facts
from fabgrid.geometry.slice import SliceSettings, slice_layers
from fabgrid.geometry.threemf import load_3mf
from fabgrid.nesting import nest
from fabgrid.nesting.export import SUPPORT_SUFFIX, build_scene, write_3mf, write_png
from fabgrid.nesting.parts import NestPart, part_from_mesh
from fabgrid.nesting.plate import arrange
from fabgrid.nesting.supports import SupportRules, part_supports, rules_for

from ._checks import machine, process_of

LIFT = 3.0
RULES = SupportRules(lift_mm=LIFT, overhang_angle_deg=45.0)


def _moved(x: float, y: float, z: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def _union(*boxes: tuple[tuple[float, float, float], tuple[float, float, float]]) -> trimesh.Trimesh:
    """Union of boxes given as (extents, centre)."""
    return trimesh.boolean.union([trimesh.creation.box(e, transform=_moved(*c)) for e, c in boxes],
                                 engine="manifold")


def tee() -> trimesh.Trimesh:
    """A 10x10x20 stem under a 50x10x5 bar: two 20x10 arms overhang 20 mm above the stem's foot."""
    return _union(((10, 10, 20), (0, 0, 10)), ((50, 10, 5), (0, 0, 22.5)))


def cee() -> trimesh.Trimesh:
    """A C lying on its back: a 25x10 upper arm overhangs the lower arm 15 mm below it."""
    return _union(((30, 10, 5), (15, 0, 2.5)), ((5, 10, 25), (2.5, 0, 12.5)), ((30, 10, 5), (15, 0, 22.5)))


TEE_MM3 = 10 * 10 * LIFT + 2 * (20 * 10) * (20 + LIFT)  # stem foot on the lift, arms down to the plate
CEE_MM3 = 30 * 10 * LIFT + 25 * 10 * 15  # lower arm on the lift, upper arm down onto the lower arm


@pytest.fixture
def metal() -> MachineModel:
    return machine(ProcessFamily.METAL_PBF, (120.0, 100.0, 120.0))


def test_tee_volume_by_hand_and_as_orient_estimates(metal: MachineModel) -> None:
    part = part_from_mesh(tee(), "tee", copies=2)
    builds = arrange([part], metal, spacing_mm=3.0, time_limit_s=0.3, support_rules=RULES)
    b = builds[0]
    assert len(b.placements) == 2
    for pl in b.placements:
        assert pl.support_volume_mm3 == pytest.approx(TEE_MM3, rel=1e-6)
        assert pl.z == pytest.approx(LIFT)
    assert b.support_volume_mm3 == pytest.approx(2 * TEE_MM3, rel=1e-6)
    assert b.support_lift_mm == LIFT
    assert b.height_mm == pytest.approx(25.0 + LIFT)
    # geometry.orient's columns to the part's foot, plus the lift band under every supported face
    m = tee()
    up = orient.evaluate(mesh_facts(m.vertices, m.faces), [45.0], directions=np.array([[0.0, 0.0, 1.0]]))[0][0]
    down = -m.face_normals[:, 2]
    band = LIFT * float((m.area_faces * down)[down > math.cos(math.radians(45.0)) + 1e-9].sum())
    assert up.support_volume_mm3 + band == pytest.approx(TEE_MM3, rel=1e-6)


def test_flat_block_has_only_the_lift_band() -> None:
    s = part_supports(trimesh.creation.box((30, 20, 10)), RULES)
    assert s.volume_mm3 == pytest.approx(30 * 20 * LIFT, rel=1e-9)
    assert s.mesh is not None and s.mesh.volume == pytest.approx(30 * 20 * LIFT, rel=1e-9)
    # an overhang at exactly 45 degrees is self-supporting; a flatter one is supported down to the plate
    assert part_supports(_wedge(20.0), RULES).volume_mm3 == 0.0
    assert part_supports(_wedge(30.0), RULES).volume_mm3 == pytest.approx(10 * (30 * 20 / 2 + 30 * LIFT), rel=1e-9)


def _wedge(run: float) -> trimesh.Trimesh:
    """A 10 mm thick wedge standing on its edge: its underside rises 20 mm over `run` mm."""
    m = trimesh.creation.extrude_polygon(shapely.Polygon([(0, 0), (0, 20), (run, 20)]), 10)
    m.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [1, 0, 0]))
    return m


def test_overhang_lands_on_the_part_below() -> None:
    m = cee()
    s = part_supports(m, RULES)
    assert s.volume_mm3 == pytest.approx(CEE_MM3, rel=1e-6)
    assert s.mesh is not None and s.mesh.volume == pytest.approx(CEE_MM3, rel=1e-6)
    # geometry.slice lands its columns the same way (without the lift band), to a layer
    sliced = slice_layers(m, SliceSettings(layer_height_mm=0.1, overhang_angle_deg=45.0, contours=False))
    assert sliced.support_volume_mm3 == pytest.approx(CEE_MM3 - 30 * 10 * LIFT, rel=0.02)
    # the columns touch the part, never enter it
    inside = trimesh.boolean.intersection([s.mesh, m], engine="manifold")
    assert inside.is_empty or abs(inside.volume) < 1e-6


def test_sphere_against_the_integral() -> None:
    r = 20.0
    s = part_supports(trimesh.creation.icosphere(subdivisions=5, radius=r), RULES)
    # columns under the cap flatter than 45 degrees (radius r sin 45) down to the plate r + lift below the centre
    rho = r * math.sin(math.radians(45.0))
    exact = math.pi * rho**2 * (r + LIFT) - 2 * math.pi / 3 * (r**3 - (r**2 - rho**2) ** 1.5)
    assert s.volume_mm3 == pytest.approx(exact, rel=0.015)


def test_mesh_faces_are_bounded_and_volume_kept() -> None:
    dense = trimesh.creation.icosphere(subdivisions=6, radius=20)
    full = part_supports(dense, RULES)
    assert full.mesh is not None and len(full.mesh.faces) <= 20_000
    small = part_supports(dense, RULES, max_faces=2_000)
    assert small.mesh is not None and len(small.mesh.faces) <= 2_000
    assert small.volume_mm3 == full.volume_mm3  # the figure is the exact columns', whatever the mesh
    assert full.mesh.volume == pytest.approx(full.volume_mm3, rel=0.03)  # coarser columns, close
    assert small.mesh.volume == pytest.approx(full.volume_mm3, rel=0.08)
    assert full.mesh.bounds[0][2] == pytest.approx(dense.bounds[0][2] - LIFT)
    with pytest.raises(ValueError):
        part_supports(dense, RULES, max_faces=7)


def _parts() -> list[NestPart]:
    return [part_from_mesh(tee(), "tee", copies=3), part_from_mesh(cee(), "cee", copies=3),
            part_from_mesh(trimesh.creation.icosphere(subdivisions=3, radius=9), "ball", copies=2)]


def test_supports_stay_out_of_other_parts(metal: MachineModel) -> None:
    parts = _parts()
    builds = arrange(parts, metal, spacing_mm=1.0, time_limit_s=0.5, support_rules=RULES)
    scene = build_scene(builds[0], parts, RULES)
    geoms = scene.dump(concatenate=False)
    named = dict(zip([scene.graph[n][1] for n in scene.graph.nodes_geometry], geoms, strict=True))
    held = {k: v for k, v in named.items() if k.endswith(SUPPORT_SUFFIX)}
    solids = {k: v for k, v in named.items() if not k.endswith(SUPPORT_SUFFIX)}
    assert len(held) == len(solids) == sum(len(b.placements) for b in builds[:1])
    for (sname, sup), (pname, solid) in itertools.product(held.items(), solids.items()):
        assert sup.bounds[0][2] == pytest.approx(0.0, abs=1e-9)  # on the plate
        if sname == pname + SUPPORT_SUFFIX:
            continue
        inter = trimesh.boolean.intersection([sup, solid], engine="manifold")
        assert inter.is_empty or abs(inter.volume) < 1e-6, (sname, pname)


def test_3mf_round_trip(tmp_path: Path, metal: MachineModel) -> None:
    parts = _parts()
    b = nest(parts, metal, process_of(ProcessFamily.METAL_PBF), spacing_mm=2.0, time_limit_s=0.3)[0]
    rules = rules_for(process_of(ProcessFamily.METAL_PBF))  # the catalog's own rules
    assert rules is not None and b.support_lift_mm == rules.lift_mm
    assert b.support_overhang_deg == rules.overhang_angle_deg
    path = write_3mf(b, parts, tmp_path / "plate.3mf")
    scene = trimesh.load(path)
    assert isinstance(scene, trimesh.Scene)
    for pl in b.placements:
        name = f"{pl.part}#{pl.instance}"
        assert name in scene.geometry
        sup = scene.geometry[name + SUPPORT_SUFFIX]
        assert sup.volume == pytest.approx(pl.support_volume_mm3, rel=1e-6)
        assert scene.geometry[name].bounds[0][2] == pytest.approx(b.support_lift_mm, abs=1e-6)
    soup, unit = load_3mf(path.read_bytes(), path.name)
    labels = [label for label, _ in soup]
    assert unit == "millimeter"
    assert sum(label.endswith(SUPPORT_SUFFIX) for label in labels) == len(b.placements)
    assert len(labels) == 2 * len(b.placements)
    png = write_png(b, parts, tmp_path / "plate.png")
    assert png.stat().st_size > 0


@pytest.mark.parametrize("process", [ProcessFamily.FDM, ProcessFamily.SLA])
def test_fdm_and_sla_unchanged(tmp_path: Path, process: ProcessFamily) -> None:
    assert rules_for(process_of(process)) is None
    parts = [part_from_mesh(tee(), "tee", copies=2)]
    b = nest(parts, machine(process, (150.0, 150.0, 150.0)), process_of(process), spacing_mm=3.0,
             time_limit_s=0.2)[0]
    assert b.support_volume_mm3 == 0.0 and b.support_lift_mm == 0.0
    assert all(pl.z == pytest.approx(0.0, abs=1e-9) and pl.support_volume_mm3 == 0.0 for pl in b.placements)
    assert b.height_mm == pytest.approx(25.0)
    scene = trimesh.load(write_3mf(b, parts, tmp_path / "bed.3mf"))
    assert isinstance(scene, trimesh.Scene)
    assert sorted(scene.geometry) == ["tee#1", "tee#2"]


def test_build_json_without_support_keys_still_reads() -> None:
    b = arrange([part_from_mesh(trimesh.creation.box((10, 10, 10)), "cube")],
                machine(ProcessFamily.FDM, (100.0, 100.0, 100.0)), time_limit_s=0.2)[0]
    doc = b.model_dump(mode="json")
    doc.pop("support_volume_mm3"), doc.pop("support_lift_mm"), doc.pop("support_overhang_deg")
    for p in doc["placements"]:
        p.pop("support_volume_mm3")
    assert Build.model_validate(doc) == b


def test_lift_counts_against_the_build_height() -> None:
    low = machine(ProcessFamily.METAL_PBF, (100.0, 100.0, 26.0))
    with pytest.raises(InputError, match="supports"):
        arrange([part_from_mesh(tee(), "tee")], low, support_rules=RULES)


def test_cli_json_reports_supports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    stl = tmp_path / "tee.stl"
    tee().export(stl)
    try:
        main(["nest", str(stl), "--machine", "eos_m290", "-n", "2", "--time-limit", "0.3", "--json",
              "--out", str(tmp_path / "b.3mf")])
    except SystemExit as exc:
        assert not exc.code
    doc = json.loads(capsys.readouterr().out)
    b = doc["builds"][0]
    lift = b["support_lift_mm"]
    assert lift > 0
    expected = 10 * 10 * lift + 2 * 200 * (20 + lift)
    assert b["support_volume_mm3"] == pytest.approx(2 * expected, rel=1e-6)
    assert [p["support_volume_mm3"] for p in b["placements"]] == pytest.approx([expected] * 2, rel=1e-6)
    assert b["height_mm"] == pytest.approx(25 + lift)
    scene = trimesh.load(b["files"]["3mf"])
    assert isinstance(scene, trimesh.Scene)
    assert sum(k.endswith(SUPPORT_SUFFIX) for k in scene.geometry) == 2
