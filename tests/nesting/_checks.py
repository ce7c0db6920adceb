"""Independent checks of builds: placed meshes from the records, overlap by mesh booleans, gaps."""

from __future__ import annotations

import itertools

import numpy as np
import trimesh

from fabgrid.data import load_catalog
from fabgrid.domain.build import Build
from fabgrid.domain.catalog import MachineModel, PowerDraw, Process, ProcessFamily
from fabgrid.nesting.parts import NestPart


def placed_meshes(build: Build, parts: list[NestPart]) -> list[trimesh.Trimesh]:
    """Each placement's mesh moved by its 4x4 transform."""
    by_name = {p.name: p for p in parts}
    out = []
    for pl in build.placements:
        m = by_name[pl.part].mesh.copy()
        m.apply_transform(np.asarray(pl.transform))
        out.append(m)
    return out


def assert_rotation_matches(build: Build) -> None:
    """`rotation` is a proper rotation and equals the transform's 3x3 block; x, y, z are consistent."""
    for pl in build.placements:
        r = np.asarray(pl.rotation)
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-9)
        assert abs(np.linalg.det(r) - 1) < 1e-9
        assert np.allclose(np.asarray(pl.transform)[:3, :3], r)


def min_gap_mm(a: trimesh.Trimesh, b: trimesh.Trimesh, samples: int = 3000) -> float:
    """Smallest distance between the surfaces, from dense samples of each onto the other;
    0 when one contains points of the other."""
    gaps = []
    for x, y in ((a, b), (b, a)):
        pts = np.vstack([x.vertices, x.sample(samples, seed=1)])
        if y.contains(pts).any():
            return 0.0
        _, dist, _ = trimesh.proximity.closest_point(y, pts)  # type: ignore[no-untyped-call]
        gaps.append(float(dist.min()))
    return min(gaps)


def assert_no_overlap(meshes: list[trimesh.Trimesh], spacing_mm: float) -> None:
    """No two placed parts intersect (manifold boolean) and every gap is >= spacing (5 % slack
    for the sampled distance)."""
    for a, b in itertools.combinations(meshes, 2):
        lo = np.maximum(a.bounds[0], b.bounds[0])
        hi = np.minimum(a.bounds[1], b.bounds[1])
        if np.all(hi - lo > -spacing_mm):  # boxes closer than the spacing: look closely
            inter = trimesh.boolean.intersection([a, b], engine="manifold")
            assert inter.is_empty or abs(inter.volume) < 1e-6
            assert min_gap_mm(a, b) >= 0.95 * spacing_mm


def assert_inside(meshes: list[trimesh.Trimesh], volume: tuple[float, float, float], margin_mm: float) -> None:
    """Every vertex inside the build volume, `margin_mm` from the side walls (and above the plate)."""
    for m in meshes:
        lo, hi = m.bounds
        assert lo[0] >= margin_mm - 1e-6 and lo[1] >= margin_mm - 1e-6 and lo[2] >= -1e-6
        assert hi[0] <= volume[0] - margin_mm + 1e-6 and hi[1] <= volume[1] - margin_mm + 1e-6
        assert hi[2] <= volume[2] + 1e-6


def process_of(family: ProcessFamily) -> Process:
    """The shipped catalog's process record (capability included) of `family`."""
    return load_catalog().processes[family]


def machine(process: ProcessFamily, volume: tuple[float, float, float], mid: str = "test") -> MachineModel:
    """A machine model record for tests (not from the catalog)."""
    return MachineModel(id=f"{mid}_{process.value}", vendor="test", model="test", process=process,
                        build_volume_mm=volume, power=PowerDraw(producing_w=1000, idle_w=100, setup_w=100,
                                                                standby_w=10),
                        price_cny=1e5, lifetime_h=2e4, maintenance_cny_per_year=1e3, materials=(),
                        source="test")
