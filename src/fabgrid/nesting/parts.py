"""Parts for nesting: a `domain.Part` (loaded by the one part loader, `geometry.load`) validated for
nesting, with the copies to place.

Raises `fabgrid.errors.InputError` naming the part for anything unusable. Reads no files (services load
them with `geometry.load` and hand the `domain.Part` in); must not depend on store, services, api, web
or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from fabgrid.domain.part import Part
from fabgrid.errors import InputError

MAX_PARTS = 2000


@dataclass(frozen=True)
class NestPart:
    """A part to nest: a name, the part (mm, file coordinates) and how many copies to place."""

    name: str
    part: Part
    copies: int = 1

    @property
    def mesh(self) -> trimesh.Trimesh:
        """The part's mesh (built once, on the part)."""
        mesh: trimesh.Trimesh = self.part.trimesh
        return mesh

    @property
    def volume_mm3(self) -> float:
        """Enclosed volume when watertight, else the convex hull's (an upper bound)."""
        if self.mesh.is_watertight:
            return self.part.solid_volume_mm3
        return float(abs(self.mesh.convex_hull.volume))


def part_from_mesh(mesh: trimesh.Trimesh, name: str, copies: int = 1, source: str | None = None) -> NestPart:
    """A part to nest from a `trimesh.Trimesh` (kept as the part's mesh); see `nest_part`."""
    if len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise InputError(f"part {source or name} has no triangles", hint="check the export of the file",
                         code="nest.part_empty")
    return nest_part(Part.from_trimesh(mesh, name), name, copies, source)


def nest_part(part: Part, name: str | None = None, copies: int = 1, source: str | None = None) -> NestPart:
    """Validate a part for nesting: non-empty, finite, with a thickness in X, Y and Z; `copies` >= 1."""
    name = name or part.name
    where = source or name
    if len(part.faces) == 0 or len(part.vertices) == 0:
        raise InputError(f"part {where} has no triangles", hint="check the export of the file",
                         code="nest.part_empty")
    if not np.isfinite(part.vertices).all():
        raise InputError(f"part {where} has non-finite vertex coordinates", hint="repair the mesh",
                         code="nest.part_invalid")
    if float(np.min(part.extents_mm)) <= 0:
        raise InputError(f"part {where} is flat (extents {part.extents_mm.round(3).tolist()} mm)",
                         hint="a printable part needs a thickness in X, Y and Z", code="nest.part_flat")
    if copies < 1:
        raise InputError(f"copies of part {where} must be >= 1 (got {copies})", code="nest.copies")
    return NestPart(name=name, part=part, copies=copies)


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
