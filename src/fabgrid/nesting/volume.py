"""3D packing of parts into the build volume of a powder-bed machine (SLS, MJF): the builds.

Voxelises every part conservatively, keeps a spacing halo, packs with `nesting.heightmap` and
opens another build when the volume is full. Must not depend on store, services, api, web or cli.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import trimesh
from numpy.typing import NDArray
from scipy.ndimage import binary_fill_holes

from fabgrid.domain.build import Build, PartPlacement
from fabgrid.domain.catalog import MachineModel, NestingMethod, Process
from fabgrid.errors import InputError
from fabgrid.nesting.heightmap import Piece, pack, rotation_shift, rotations24, rotations_about_z
from fabgrid.nesting.parts import NestPart

# Largest footprint of the packing grid in voxels per side: sets the voxel pitch of a build volume.
GRID_CELLS = 160
# A surface point lies within this many pitches of the voxels marked from the subdivided surface.
_SURFACE_SLACK = 0.3


def voxelize(mesh: trimesh.Trimesh, pitch: float) -> NDArray[np.bool_]:
    """Solid voxels of `mesh` on a grid of `pitch` mm starting at its bbox min; (nx, ny, nz) bool.

    Marks the voxels of the vertices of the mesh subdivided to edges <= pitch / 2, so every point
    of the surface is within 0.3 pitch of a marked voxel, then fills the inside. A mesh that is not
    watertight is replaced by its convex hull, which contains it.
    """
    m = mesh if mesh.is_watertight else mesh.convex_hull
    verts, _ = trimesh.remesh.subdivide_to_size(m.vertices, m.faces, max_edge=pitch / 2.0, max_iter=40)  # type: ignore[no-untyped-call]
    lo = m.bounds[0]
    idx = np.floor((verts - lo) / pitch).astype(np.int64)
    idx = np.clip(idx, 0, None)
    shape = idx.max(axis=0) + 1
    grid = np.zeros(tuple(int(s) for s in shape), dtype=bool)
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    filled: NDArray[np.bool_] = np.asarray(binary_fill_holes(grid), dtype=bool)
    return filled


def choose_pitch(volume_mm: Sequence[float], cells: int = GRID_CELLS) -> float:
    """Voxel pitch (mm) so that the larger side of the footprint spans about `cells` voxels."""
    return max(float(volume_mm[0]), float(volume_mm[1])) / cells


def halo_voxels(spacing_mm: float, pitch: float) -> int:
    """Free voxels kept around each part so that the true gap is at least `spacing_mm`."""
    return max(1, math.ceil(spacing_mm / pitch + 2 * _SURFACE_SLACK))


def pack_parts(parts: Sequence[NestPart], machine: MachineModel, *, spacing_mm: float = 2.0,
               keep_up: bool = False, time_limit_s: float = 20.0, pitch_mm: float | None = None,
               seed: int = 0, process: Process | None = None) -> list[Build]:
    """Pack every copy of `parts` into as many builds of `machine` as needed (`process`, the machine's
    process record, when given must pack in a volume).

    `keep_up` restricts rotations to the 4 about +Z (parts keep their file's up direction); else the
    24 axis-aligned rotations are tried. Raises InputError when a part fits in no orientation.
    """
    if process is not None and process.capability.nesting is not NestingMethod.VOLUME:
        raise InputError(f"machine {machine.id} is {machine.process.value}: its builds are not packed in a "
                         f"volume ({process.capability.nesting.value})", hint="use fabgrid.nesting.nest",
                         code="nest.process")
    if not machine.process.is_additive:
        raise InputError(f"machine {machine.id} is {machine.process.value}: it has no build volume to pack",
                         hint="choose an additive machine", code="nest.process")
    if spacing_mm < 0:
        raise InputError(f"spacing {spacing_mm} mm is negative", code="nest.spacing")
    vol = machine.build_volume_mm
    pitch = pitch_mm or choose_pitch(vol)
    halo = halo_voxels(spacing_mm, pitch)
    footprint = (math.floor(vol[0] / pitch), math.floor(vol[1] / pitch))
    cap = math.floor(vol[2] / pitch)
    rots = rotations_about_z() if keep_up else rotations24()
    pieces: list[Piece] = []
    owners: list[tuple[int, int]] = []
    for part in parts:
        _check_extents(part, vol, spacing_mm, keep_up, machine)
    for pi, part in enumerate(parts):
        piece = Piece(voxelize(part.mesh, pitch), rotations=rots, halo=halo)
        _check_fits(part, piece, footprint, cap, halo, machine)
        for c in range(part.copies):
            pieces.append(piece)
            owners.append((pi, c + 1))
    builds: list[Build] = []
    todo = list(range(len(pieces)))
    while todo:
        sub = [pieces[i] for i in todo]
        res = pack(sub, footprint, max_height=cap, time_limit_s=time_limit_s / max(1, len(builds) + 1),
                   seed=seed, floor=halo)
        if not res.placements:  # cannot happen after _check_fits; guards an endless loop
            raise InputError("no part could be placed in an empty build", code="nest.too_large")
        placements = []
        for pl in res.placements:
            gi = todo[pl.piece]
            pi, copy = owners[gi]
            o = pieces[gi].orientations[pl.orientation]
            placements.append(_placement(parts[pi], copy, o.rot, o.crop, pl.offset,
                                         pieces[gi].voxels.shape, pitch))
        builds.append(_build(parts, owners, [todo[p.piece] for p in res.placements], placements,
                             machine, spacing_mm))
        todo = [todo[i] for i in res.unplaced]
    return builds


def _check_extents(part: NestPart, vol: tuple[float, float, float], spacing_mm: float, keep_up: bool,
                   machine: MachineModel) -> None:
    """Reject, before voxelising, a part whose bounding box fits the volume in no allowed rotation."""
    ext = np.asarray(part.mesh.extents) + 2 * spacing_mm
    room = np.asarray(vol, dtype=float)
    if keep_up:
        ok = ext[2] <= room[2] and bool(np.all(np.sort(ext[:2]) <= np.sort(room[:2])))
    else:
        ok = bool(np.all(np.sort(ext) <= np.sort(room)))
    if not ok:
        raise InputError(f"part {part.name} ({np.round(part.mesh.extents, 1).tolist()} mm) does not fit in the "
                         f"build volume of {machine.id} {list(vol)} mm with {spacing_mm} mm spacing",
                         hint="choose a larger machine or split the part", code="nest.too_large")


def _check_fits(part: NestPart, piece: Piece, footprint: tuple[int, int], cap: int, halo: int,
                machine: MachineModel) -> None:
    for o in piece.orientations:
        if (o.shape[0] + 2 * halo <= footprint[0] and o.shape[1] + 2 * halo <= footprint[1]
                and o.shape[2] + 2 * halo <= cap):
            return
    raise InputError(f"part {part.name} ({np.round(part.mesh.extents, 1).tolist()} mm) does not fit in the "
                     f"build volume of {machine.id} {list(machine.build_volume_mm)} mm with its spacing",
                     hint="choose a larger machine or split the part", code="nest.too_large")


def _placement(part: NestPart, copy: int, rot: NDArray[np.int64], crop: tuple[int, int, int],
               offset: tuple[int, int, int], shape: tuple[int, ...], pitch: float) -> PartPlacement:
    """The mesh transform of a voxel placement: p_build = R (p - bmin) + pitch (shift - crop + offset)."""
    mesh = part.mesh if part.mesh.is_watertight else part.mesh.convex_hull
    bmin = mesh.bounds[0]
    r = rot.astype(float)
    shift = rotation_shift(rot, np.asarray(shape, dtype=np.int64))
    t = pitch * (shift - np.asarray(crop) + np.asarray(offset)) - r @ bmin
    return placement_record(part, copy, r, t)


def placement_record(part: NestPart, copy: int, r: NDArray[np.float64], t: NDArray[np.float64]) -> PartPlacement:
    """A `PartPlacement` from a rotation `r` (3, 3) and translation `t` (3,) of the part's mesh."""
    verts = part.mesh.vertices @ r.T + t
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    m4 = np.eye(4)
    m4[:3, :3], m4[:3, 3] = r, t
    rows = tuple(tuple(float(round(v, 9)) for v in row) for row in r)
    return PartPlacement(part=part.name, instance=copy, x=float(lo[0]), y=float(lo[1]), z=float(lo[2]),
                         rotation=rows,  # type: ignore[arg-type]
                         transform=tuple(tuple(float(v) for v in row) for row in m4),
                         size_mm=tuple(float(v) for v in (hi - lo)))  # type: ignore[arg-type]


def _build(parts: Sequence[NestPart], owners: Sequence[tuple[int, int]], used: Sequence[int],
           placements: list[PartPlacement], machine: MachineModel, spacing_mm: float) -> Build:
    vol = machine.build_volume_mm
    height = max(p.z + p.size_mm[2] for p in placements)
    parts_vol = sum(parts[owners[g][0]].volume_mm3 for g in used)
    density = min(1.0, parts_vol / (vol[0] * vol[1] * height)) if height > 0 else 0.0
    return Build(machine_model=machine.id, process=machine.process, build_volume_mm=vol,
                 spacing_mm=spacing_mm, height_mm=height, density=density, parts_volume_mm3=parts_vol,
                 placements=tuple(placements))
