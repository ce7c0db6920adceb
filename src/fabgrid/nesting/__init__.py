"""fabgrid.nesting: parts into builds, 3D in a powder bed (volume) or 2D on a bed (plate).

`nest()` picks the method from the machine's process. Must not depend on store, services, api,
web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence

from fabgrid.domain.build import Build
from fabgrid.domain.catalog import MachineModel, ProcessFamily
from fabgrid.errors import InputError
from fabgrid.nesting.parts import NestPart

VOLUME_TIME_S = 20.0  # default search per powder-bed build


def nest(parts: Sequence[NestPart], machine: MachineModel, *, spacing_mm: float | None = None,
         time_limit_s: float | None = None, seed: int = 0) -> list[Build]:
    """Builds for every copy of `parts` on `machine`; `time_limit_s` of search per build.

    SLS and MJF: 3D packing in the build volume, 24 axis-aligned rotations, default spacing 3 mm,
    default time 20 s. FDM, SLA and metal PBF (parts sit on the plate with supports): 2D arrangement
    with rotations about Z (sparrow), default spacing 5 mm, default time 3 s. CNC has no builds.
    """
    from fabgrid.nesting import plate, volume

    proc = machine.process
    if proc in (ProcessFamily.SLS, ProcessFamily.MJF):
        return volume.pack_parts(parts, machine, spacing_mm=3.0 if spacing_mm is None else spacing_mm,
                                 time_limit_s=VOLUME_TIME_S if time_limit_s is None else time_limit_s, seed=seed)
    if proc in (ProcessFamily.FDM, ProcessFamily.SLA, ProcessFamily.METAL_PBF):
        return plate.arrange(parts, machine, spacing_mm=5.0 if spacing_mm is None else spacing_mm,
                             time_limit_s=plate.DEFAULT_TIME_S if time_limit_s is None else time_limit_s, seed=seed)
    raise InputError(f"machine {machine.id} is {proc.value}: it has no builds to nest",
                     hint="choose an additive machine (fdm, sla, sls, mjf, metal_pbf)", code="nest.process")


__all__ = ["nest"]
