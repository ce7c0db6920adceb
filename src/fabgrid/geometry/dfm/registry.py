"""The DFM rule registry: mesh rules (run once per part) and process rules (run per process family,
with that process's design rules and the machine models of the network that run it).

A rule is a function `ctx -> list[DfmFinding]` registered with `@mesh_rule` or `@process_rule(...)`;
adding a rule is one function, never an `if process == ...` chain. Depends on `fabgrid.domain` and
the geometry engine only; never on store, services or web.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.catalog import MachineModel, Process, ProcessFamily
from fabgrid.domain.part import DfmFinding, Orientation, Vec3
from fabgrid.geometry.analyze import MeshFacts
from fabgrid.geometry.thickness import Thickness

#: Location lists are capped so a report stays small; messages give the full counts.
MAX_FACES = 200
MAX_POINTS = 50


@dataclass
class MeshContext:
    """What mesh rules see: facts, thickness samples, self-intersecting faces, the unit guess."""

    facts: MeshFacts
    thickness: Thickness | None = None
    self_intersecting_faces: NDArray[np.int64] | None = None
    units: str = "mm"
    units_source: str = "assumed"


@dataclass
class ProcessContext(MeshContext):
    """What process rules see in addition: the process, its machine models and orientations."""

    process: Process | None = None
    machines: Sequence[MachineModel] = ()
    orientations: Sequence[Orientation] = ()
    recommended: Orientation | None = None
    extra: dict[str, object] = field(default_factory=dict)


MeshRule = Callable[[MeshContext], list[DfmFinding]]
ProcessRule = Callable[[ProcessContext], list[DfmFinding]]

MESH_RULES: dict[str, MeshRule] = {}
PROCESS_RULES: dict[str, tuple[frozenset[ProcessFamily] | None, ProcessRule]] = {}


def mesh_rule(name: str) -> Callable[[MeshRule], MeshRule]:
    """Register a rule that looks at the mesh alone (run once per part)."""
    def deco(fn: MeshRule) -> MeshRule:
        MESH_RULES[name] = fn
        return fn
    return deco


def process_rule(name: str, processes: Sequence[ProcessFamily] | None = None
                 ) -> Callable[[ProcessRule], ProcessRule]:
    """Register a rule run for each process (all processes when `processes` is None)."""
    def deco(fn: ProcessRule) -> ProcessRule:
        PROCESS_RULES[name] = (frozenset(processes) if processes is not None else None, fn)
        return fn
    return deco


def faces_list(idx: NDArray[np.int64]) -> list[int]:
    """At most MAX_FACES face indices, evenly spread over `idx`."""
    if len(idx) <= MAX_FACES:
        return [int(i) for i in idx]
    pick = np.linspace(0, len(idx) - 1, MAX_FACES).astype(np.int64)
    return [int(i) for i in idx[pick]]


def points_list(pts: NDArray[np.float64]) -> list[Vec3]:
    """At most MAX_POINTS points (rounded to 1 um)."""
    if len(pts) > MAX_POINTS:
        pts = pts[np.linspace(0, len(pts) - 1, MAX_POINTS).astype(np.int64)]
    return [(round(float(p[0]), 3), round(float(p[1]), 3), round(float(p[2]), 3)) for p in pts]


def run_mesh_rules(ctx: MeshContext) -> list[DfmFinding]:
    """Every registered mesh rule, in registration order."""
    out: list[DfmFinding] = []
    for fn in MESH_RULES.values():
        out.extend(fn(ctx))
    return out


def run_process_rules(ctx: ProcessContext) -> list[DfmFinding]:
    """Every process rule registered for ctx.process, findings tagged with the process."""
    assert ctx.process is not None
    fam = ctx.process.id
    out: list[DfmFinding] = []
    for scope, fn in PROCESS_RULES.values():
        if scope is None or fam in scope:
            out.extend(f if f.process is not None else f.model_copy(update={"process": fam}) for f in fn(ctx))
    return out
