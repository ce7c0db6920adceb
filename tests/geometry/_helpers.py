"""Helpers for the geometry tests: process and machine records built directly from the domain models
(independent of the shipped catalog), and meshes generated with trimesh.creation."""

from __future__ import annotations

import numpy as np
import trimesh

from fabgrid.data import load_catalog
from fabgrid.domain.catalog import MachineModel, PowerDraw, Process, ProcessCapability, ProcessFamily, SupportModel
from fabgrid.domain.part import Part


def make_process(fam: ProcessFamily, min_wall: float = 1.0, escape: bool = False,
                 overhang: float | None = 45.0) -> Process:
    return Process(id=fam, name=fam.value.upper(), description="test", min_wall_mm=min_wall,
                   min_hole_mm=1.0, min_gap_mm=0.5, min_feature_mm=0.5, tolerance_mm=0.1,
                   needs_escape_holes=escape, min_escape_hole_mm=3.5 if escape else 0.0,
                   overhang_angle_deg=overhang, source="test", capability=_capability(fam, overhang))


def _capability(fam: ProcessFamily, overhang: float | None) -> ProcessCapability:
    """The shipped capability of `fam`; without an overhang angle, supports that need none."""
    cap = load_catalog().processes[fam].capability
    if overhang is None and cap.supports is SupportModel.COLUMNS:
        return cap.model_copy(update={"supports": SupportModel.NONE, "support_lift_mm": 0.0})
    return cap


def make_machine(mid: str, fam: ProcessFamily, volume: tuple[float, float, float]) -> MachineModel:
    return MachineModel(id=mid, vendor="Test", model=mid, process=fam, build_volume_mm=volume,
                        power=PowerDraw(producing_w=100, idle_w=10, setup_w=50, standby_w=1),
                        price_cny=1000, lifetime_h=1000, maintenance_cny_per_year=0, materials=("m",),
                        source="test")


def loaded(mesh: trimesh.Trimesh, name: str = "part.stl", units_source: str = "assumed") -> Part:
    """A Part from a trimesh mesh (already welded)."""
    faces = np.asarray(mesh.faces, dtype=np.int64)
    return Part(name=name, fmt="stl", vertices=np.asarray(mesh.vertices, dtype=np.float64), faces=faces,
                group=np.zeros(len(faces), dtype=np.int64), group_names=["part"],
                units="mm", units_source=units_source)


def hollow_box(outer: float = 20.0, wall: float = 2.0) -> trimesh.Trimesh:
    """A closed box with a closed inner cavity (inner shell facing inward)."""
    o = trimesh.creation.box([outer] * 3)
    i = trimesh.creation.box([outer - 2 * wall] * 3)
    i.invert()
    return trimesh.util.concatenate([o, i])
