"""2D arrangement of parts on the bed of an FDM or SLA printer (and metal PBF, on the plate).

Each part keeps its file's up direction; its footprint (projection on the bed) is strip-packed by
`nesting.strip2d` (sparrow) with rotations about Z, the bed depth as the strip height and the
spacing kept between footprints and to the walls. sparrow has no fixed-size bins: when the strip is
longer than the bed, the copies lying wholly within the bed width make the first build and the rest
are packed again for the next. On a metal PBF plate every part stands on supports
(`nesting.supports`): lifted by the process's lift, columns under its overhangs, all within its
footprint. Must not depend on store, services, api, web or cli.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from fabgrid.domain.build import Build, PartPlacement
from fabgrid.domain.catalog import MachineModel, NestingMethod, Process
from fabgrid.errors import InputError
from fabgrid.nesting.parts import NestPart
from fabgrid.nesting.strip2d import Piece, Placement, StripLayout, fits_strip, pack_strip, placed_polygon
from fabgrid.nesting.supports import PartSupports, SupportRules, part_supports, rules_for
from fabgrid.nesting.volume import placement_record

DEFAULT_ANGLES = (0.0, 90.0, 180.0, 270.0)
DEFAULT_TIME_S = 3.0  # per build: sparrow settles a bed of a few dozen parts in well under this
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
            angles_deg: Sequence[float] = DEFAULT_ANGLES, time_limit_s: float = DEFAULT_TIME_S,
            seed: int = 0, workers: int | None = 1, support_rules: SupportRules | None = None,
            process: Process | None = None) -> list[Build]:
    """Arrange every copy of `parts` on as many beds (builds) of `machine` as needed, `spacing_mm`
    between footprints and to the bed's edges; `time_limit_s` of search per build, `workers` solver
    threads (None: one per core). The search stops on the clock, so layouts of the same seed can differ
    with the machine's load. `process` is the machine's process record: its capability must nest on a
    plate, and its support model gives the supports (`support_rules` replaces them; without either,
    parts sit on the bed unsupported)."""
    if process is not None:
        if process.id is not machine.process:
            raise InputError(f"process {process.id.value} is not machine {machine.id}'s ({machine.process.value})",
                             code="nest.process")
        if process.capability.nesting is not NestingMethod.PLATE:
            raise InputError(f"machine {machine.id} is {machine.process.value}: its builds are not laid out "
                             f"on a plate ({process.capability.nesting.value})", hint="use fabgrid.nesting.nest",
                             code="nest.process")
    if spacing_mm < 0:
        raise InputError(f"spacing {spacing_mm} mm is negative", code="nest.spacing")
    bw, bd, _ = machine.build_volume_mm
    rules = support_rules if support_rules is not None else (rules_for(process) if process else None)
    lift = rules.lift_mm if rules is not None else 0.0
    pieces = [_piece(part, machine, spacing_mm, angles_deg, lift) for part in parts]
    held = [_supports(part, rules) for part in parts]
    demand = [p.copies for p in parts]
    copy_no = [0] * len(parts)
    builds: list[Build] = []
    while sum(demand) > 0:
        batch = [replace(pc, demand=d) for pc, d in zip(pieces, demand, strict=True)]
        layout = pack_strip(batch, bd, spacing=spacing_mm, time_limit_s=time_limit_s, seed=seed, workers=workers)
        on_bed = first_bed(batch, layout, bw)
        if not on_bed:
            raise InputError("no part could be placed on an empty bed", code="nest.too_large")
        placements = []
        for pl in on_bed:
            demand[pl.piece] -= 1
            copy_no[pl.piece] += 1
            placements.append(_placement(parts[pl.piece], copy_no[pl.piece], pl, lift, held[pl.piece]))
        builds.append(_build(placements, parts, [pc.polygon.area for pc in pieces], machine, spacing_mm, lift,
                             rules.overhang_angle_deg if rules is not None else None))
    return builds


def _supports(part: NestPart, rules: SupportRules | None) -> PartSupports | None:
    """The part's supports (volume only: the mesh is built again, bounded, when a build is written)."""
    return None if rules is None else part_supports(part.mesh, rules, with_mesh=False)


def _piece(part: NestPart, machine: MachineModel, spacing_mm: float, angles_deg: Sequence[float],
           lift_mm: float = 0.0) -> Piece:
    """The part's footprint with the angles at which it fits the bed (spacing to every edge) and
    its height, lifted by `lift_mm` of supports, within the build height."""
    bw, bd, bh = machine.build_volume_mm
    if part.mesh.extents[2] + lift_mm > bh:
        lifted = f" on {lift_mm:g} mm of supports" if lift_mm else ""
        raise InputError(f"part {part.name} is {part.mesh.extents[2]:.1f} mm tall{lifted}: the build height of "
                         f"{machine.id} is {bh} mm", hint="choose a taller machine or lay the part down",
                         code="nest.too_large")
    outline = footprint(part)
    angles = tuple(float(a) for a in angles_deg if fits_strip(outline, a, bd, spacing_mm, length=bw))
    if not angles:
        raise InputError(f"part {part.name} (footprint {np.round(part.mesh.extents[:2], 1).tolist()} mm) "
                         f"does not fit on the bed of {machine.id} ({bw} x {bd} mm) with its spacing",
                         hint="choose a larger machine or split the part", code="nest.too_large")
    return Piece(polygon=outline, angles_deg=angles, demand=part.copies)


def first_bed(pieces: Sequence[Piece], layout: StripLayout, bed_width: float) -> list[Placement]:
    """The placements of a strip layout that lie wholly within the first `bed_width` of the strip,
    the spacing to its end included, after moving the layout back to `spacing` from the start
    (sparrow leaves a hair of slack). Holds the leftmost copy when every piece fits the bed."""
    if not layout.placements:
        return []
    polys = [placed_polygon(pieces[pl.piece], pl) for pl in layout.placements]
    dx = layout.spacing - min(p.bounds[0] for p in polys)
    limit = bed_width - layout.spacing + 1e-9 * bed_width
    return [replace(pl, x=pl.x + dx) for pl, p in zip(layout.placements, polys, strict=True)
            if p.bounds[2] + dx <= limit]


def _placement(part: NestPart, copy: int, pl: Placement, lift_mm: float = 0.0,
               supports: PartSupports | None = None) -> PartPlacement:
    """Rotation about Z by the placement's angle about the file origin, then its (x, y); the part
    sits on the bed (z = 0) or on `lift_mm` of supports."""
    a = math.radians(pl.angle_deg)
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rec = placement_record(part, copy, r, np.array([pl.x, pl.y, lift_mm - part.mesh.bounds[0][2]]))
    if supports is None:
        return rec
    return rec.model_copy(update={"support_volume_mm3": supports.volume_mm3})


def _build(placements: list[PartPlacement], parts: Sequence[NestPart], areas: Sequence[float],
           machine: MachineModel, spacing_mm: float, lift_mm: float = 0.0,
           overhang_deg: float | None = None) -> Build:
    index = {p.name: i for i, p in enumerate(parts)}
    bw, bd, _ = machine.build_volume_mm
    area = sum(areas[index[pl.part]] for pl in placements)
    vol = sum(parts[index[pl.part]].volume_mm3 for pl in placements)
    return Build(machine_model=machine.id, process=machine.process, build_volume_mm=machine.build_volume_mm,
                 spacing_mm=spacing_mm, height_mm=max(p.z + p.size_mm[2] for p in placements),
                 density=min(1.0, area / (bw * bd)), parts_volume_mm3=vol, placements=tuple(placements),
                 support_volume_mm3=sum(p.support_volume_mm3 for p in placements), support_lift_mm=lift_mm,
                 support_overhang_deg=overhang_deg if lift_mm or any(p.support_volume_mm3 for p in placements)
                 else None)
