"""2D arrangement of parts on the bed of an FDM or SLA printer (and metal PBF, on the plate).

Each part keeps its file's up direction; its footprint (projection on the bed, grown by half the
spacing) is packed by `nesting.raster2d` with rotations about Z. Must not depend on store,
services, api, web or cli.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon

from fabgrid.domain.build import Build, PartPlacement
from fabgrid.domain.catalog import MachineModel
from fabgrid.errors import InputError
from fabgrid.nesting.parts import NestPart
from fabgrid.nesting.raster2d import Item, pack_strip
from fabgrid.nesting.volume import placement_record

# Bed raster: the longer bed side spans this many cells (sets the cell size).
BED_CELLS = 400
DEFAULT_ANGLES = (0.0, 90.0, 180.0, 270.0)
MAX_UNION_FACES = 60000


def footprint(part: NestPart) -> Polygon:
    """Outline of the part's projection on the XY plane (file coordinates), holes dropped.

    The union of the projected upward-facing triangles (a closed mesh projects the same as its
    upward faces); the convex hull, which contains it, past `MAX_UNION_FACES` triangles.
    """
    mesh = part.mesh
    up = mesh.face_normals[:, 2] > 1e-9
    tris = mesh.vertices[mesh.faces[up]][:, :, :2]
    if len(tris) == 0 or len(tris) > MAX_UNION_FACES:
        return _hull(part)
    polys = shapely.polygons(tris)
    polys = polys[shapely.area(polys) > 1e-12]
    merged = shapely.unary_union(polys)
    if isinstance(merged, MultiPolygon):
        merged = max(merged.geoms, key=lambda g: g.area) if _one_body(merged) else merged.convex_hull
    if not isinstance(merged, Polygon) or merged.is_empty:
        return _hull(part)
    return Polygon(merged.exterior)


def _one_body(mp: MultiPolygon) -> bool:
    """True when one polygon holds nearly all the area (slivers left by the union)."""
    areas = sorted((float(g.area) for g in mp.geoms), reverse=True)
    return bool(areas[0] >= 0.999 * sum(areas))


def _hull(part: NestPart) -> Polygon:
    hull = shapely.MultiPoint(part.mesh.vertices[:, :2]).convex_hull
    assert isinstance(hull, Polygon)
    return hull


def arrange(parts: Sequence[NestPart], machine: MachineModel, *, spacing_mm: float = 5.0,
            angles_deg: Sequence[float] = DEFAULT_ANGLES, time_limit_s: float = 10.0,
            seed: int = 0, cell_mm: float | None = None) -> list[Build]:
    """Arrange every copy of `parts` on as many beds (builds) of `machine` as needed.

    `cell_mm` is the raster cell (default: the longer bed side / `BED_CELLS`).
    """
    if machine.process.is_powder_bed and machine.process.value != "metal_pbf":
        raise InputError(f"machine {machine.id} is {machine.process.value}: its parts are packed in 3D",
                         hint="use nesting.volume.pack_parts", code="nest.process")
    if spacing_mm < 0:
        raise InputError(f"spacing {spacing_mm} mm is negative", code="nest.spacing")
    bw, bd, bh = machine.build_volume_mm
    cell = cell_mm or max(bw, bd) / BED_CELLS
    # the bed margin is half the spacing: with each outline grown by half, parts keep spacing/2 from the edge
    usable_w, usable_d = bw, bd
    items: list[Item] = []
    areas: dict[str, float] = {}
    for part in parts:
        if part.mesh.extents[2] > bh:
            raise InputError(f"part {part.name} is {part.mesh.extents[2]:.1f} mm tall: the build height of "
                             f"{machine.id} is {bh} mm", hint="choose a taller machine or lay the part down",
                             code="nest.too_large")
        outline = footprint(part)
        areas[part.name] = outline.area
        grown = outline.buffer(spacing_mm / 2.0, join_style="mitre") if spacing_mm > 0 else outline
        item = Item(polygon=grown, angles_deg=list(angles_deg), demand=part.copies)
        item.build(cell)
        if not any(s.raster.shape[0] * cell <= usable_w and s.raster.shape[1] * cell <= usable_d
                   for s in item.shapes):
            raise InputError(f"part {part.name} (footprint {np.round(part.mesh.extents[:2], 1).tolist()} mm) "
                             f"does not fit on the bed of {machine.id} ({bw} x {bd} mm) with its spacing",
                             hint="choose a larger machine or split the part", code="nest.too_large")
        items.append(item)
    builds: list[Build] = []
    demand = [p.copies for p in parts]
    copy_no = [0] * len(parts)
    while sum(demand) > 0:
        batch = [Item(polygon=it.polygon, angles_deg=it.angles_deg, demand=d)
                 for it, d in zip(items, demand, strict=True)]
        active = [i for i, d in enumerate(demand) if d > 0]
        sub = [batch[i] for i in active]
        layout, _ = pack_strip(sub, usable_d, cell=cell, max_length=usable_w, time_limit_s=time_limit_s,
                               seed=seed)
        if not layout.placed:
            raise InputError("no part could be placed on an empty bed", code="nest.too_large")
        placements: list[PartPlacement] = []
        for pl in layout.placed:
            pi = active[pl.item]
            demand[pi] -= 1
            copy_no[pi] += 1
            shape = sub[pl.item].shapes[pl.shape]
            placements.append(_placement(parts[pi], copy_no[pi], items[pi].polygon, shape.angle_deg,
                                         (pl.cx * cell + pl.dx, pl.cy * cell + pl.dy), spacing_mm))
        builds.append(_build(placements, parts, areas, machine, spacing_mm))
    return builds


def _placement(part: NestPart, copy: int, grown: Polygon, angle_deg: float, at: tuple[float, float],
               spacing_mm: float) -> PartPlacement:
    """Rotation about Z by `angle_deg` about the origin, then the translation that puts the grown
    outline's bbox min at `at`; the part sits on the bed (z = 0)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rotated = affinity.rotate(grown, angle_deg, origin=(0, 0))
    t = np.array([at[0] - rotated.bounds[0], at[1] - rotated.bounds[1], -part.mesh.bounds[0][2]])
    return placement_record(part, copy, r, t)


def _build(placements: list[PartPlacement], parts: Sequence[NestPart], areas: dict[str, float],
           machine: MachineModel, spacing_mm: float) -> Build:
    by_name = {p.name: p for p in parts}
    bw, bd, _ = machine.build_volume_mm
    area = 0.0
    vol = 0.0
    for pl in placements:
        part = by_name[pl.part]
        area += areas[pl.part]
        vol += part.volume_mm3
    return Build(machine_model=machine.id, process=machine.process, build_volume_mm=machine.build_volume_mm,
                 spacing_mm=spacing_mm, height_mm=max(p.size_mm[2] for p in placements),
                 density=min(1.0, area / (bw * bd)), parts_volume_mm3=vol, placements=tuple(placements))
