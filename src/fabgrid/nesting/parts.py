"""Part files for nesting: load and validate meshes (mm), expand the copies to place.

Uses trimesh only; raises `fabgrid.errors.InputError` naming the file for anything unusable.
Must not depend on store, services, api, web or cli.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from fabgrid.errors import InputError, NotFoundError

MAX_PARTS = 2000


@dataclass(frozen=True)
class NestPart:
    """A part to nest: a name, its mesh in mm (file coordinates) and how many copies to place."""

    name: str
    mesh: trimesh.Trimesh
    copies: int = 1

    @property
    def volume_mm3(self) -> float:
        """Enclosed volume when watertight, else the convex hull's (an upper bound)."""
        m = self.mesh if self.mesh.is_watertight else self.mesh.convex_hull
        return float(abs(m.volume))


def load_part(path: str | Path, copies: int = 1, name: str | None = None) -> NestPart:
    """Read a mesh file (STL, OBJ, PLY, 3MF, ...) as one mesh in mm; a scene is concatenated."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"part file {p} does not exist", hint="give the path of a mesh file",
                            code="nest.part_missing")
    try:
        loaded = trimesh.load(p, force="mesh", process=True)
    except Exception as exc:  # trimesh raises many types for broken files
        raise InputError(f"cannot read part file {p}: {exc}", hint="export it again as STL or 3MF",
                         code="nest.part_unreadable") from exc
    if not isinstance(loaded, trimesh.Trimesh):
        raise InputError(f"part file {p} holds no triangle mesh", hint="export it again as STL or 3MF",
                         code="nest.part_unreadable")
    return part_from_mesh(loaded, name or p.stem, copies, source=str(p))


def part_from_mesh(mesh: trimesh.Trimesh, name: str, copies: int = 1, source: str | None = None) -> NestPart:
    """Validate a mesh for nesting: non-empty, finite, with a volume; `copies` >= 1."""
    where = source or name
    if len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise InputError(f"part {where} has no triangles", hint="check the export of the file",
                         code="nest.part_empty")
    if not np.isfinite(mesh.vertices).all():
        raise InputError(f"part {where} has non-finite vertex coordinates", hint="repair the mesh",
                         code="nest.part_invalid")
    if float(np.min(mesh.extents)) <= 0:
        raise InputError(f"part {where} is flat (extents {mesh.extents.round(3).tolist()} mm)",
                         hint="a printable part needs a thickness in X, Y and Z", code="nest.part_flat")
    if copies < 1:
        raise InputError(f"copies of part {where} must be >= 1 (got {copies})", code="nest.copies")
    return NestPart(name=name, mesh=mesh, copies=copies)


def parse_copies(specs: Sequence[str], names: Sequence[str]) -> dict[str, int]:
    """Parse ``--copies`` values: ``N`` for every part, or ``PART:N`` for one (file stem or name)."""
    out = {n: 1 for n in names}
    for spec in specs:
        key, _, num = spec.rpartition(":")
        try:
            n = int(num)
        except ValueError:
            raise InputError(f"--copies {spec!r} is not N or PART:N", hint="e.g. --copies 3 or --copies "
                             "bracket:4", code="nest.copies") from None
        if n < 1:
            raise InputError(f"--copies {spec!r}: the count must be >= 1", code="nest.copies")
        if not key:
            out = {k: n for k in out}
        elif key in out:
            out[key] = n
        else:
            raise InputError(f"--copies {spec!r} names no given part", hint=f"parts: {', '.join(names)}",
                             code="nest.copies")
    total = sum(out.values())
    if total > MAX_PARTS:
        from fabgrid.errors import LimitError

        raise LimitError(f"{total} copies in all: at most {MAX_PARTS} per nesting run",
                         hint="split the job", code="nest.too_many")
    return out


def part_names(paths: Sequence[str | Path]) -> list[str]:
    """A unique name per path: the file stem, with #2, #3 ... for repeated stems."""
    names: list[str] = []
    for path in paths:
        stem, k = Path(path).stem, 2
        name = stem
        while name in names:
            name, k = f"{stem}#{k}", k + 1
        names.append(name)
    return names


def load_parts(paths: Sequence[str | Path], copies: Mapping[str, int] | None = None) -> list[NestPart]:
    """Load every path; `copies` is looked up by the names of `part_names`."""
    if not paths:
        raise InputError("no part files given", hint="fabgrid nest PART.stl ... --machine MODEL",
                         code="nest.no_parts")
    return [load_part(p, (copies or {}).get(n, 1), name=n) for p, n in zip(paths, part_names(paths), strict=True)]
