"""fabgrid.nesting: parts into builds, 3D in a powder bed (volume) or 2D on a bed (plate).

`nest()` picks the method from the process record's capability (handed in). Must not depend on
fabgrid.data, store, services, api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence

from fabgrid.domain.build import Build
from fabgrid.domain.catalog import MachineModel, NestingMethod, Process
from fabgrid.errors import InputError
from fabgrid.nesting.parts import NestPart

VOLUME_TIME_S = 20.0  # default search per powder-bed build


def nest(parts: Sequence[NestPart], machine: MachineModel, process: Process, *, spacing_mm: float | None = None,
         time_limit_s: float | None = None, seed: int = 0) -> list[Build]:
    """Builds for every copy of `parts` on `machine`; `time_limit_s` of search per build.

    The method, the default spacing and the supports are those of `process` (the machine's process
    record, `Process.capability`): `volume` packs in 3D in the build volume with the 24 axis-aligned
    rotations (default 20 s of search), `plate` arranges footprints with rotations about Z (sparrow,
    default 3 s), with support columns under overhangs where the support model is `columns`; a process
    without builds (`none`, CNC) is refused.
    """
    from fabgrid.nesting import plate, volume

    if process.id is not machine.process:
        raise InputError(f"process {process.id.value} is not machine {machine.id}'s ({machine.process.value})",
                         code="nest.process")
    cap = process.capability
    spacing = cap.nest_spacing_mm if spacing_mm is None else spacing_mm
    if cap.nesting is NestingMethod.VOLUME:
        return volume.pack_parts(parts, machine, spacing_mm=spacing, process=process,
                                 time_limit_s=VOLUME_TIME_S if time_limit_s is None else time_limit_s, seed=seed)
    if cap.nesting is NestingMethod.PLATE:
        return plate.arrange(parts, machine, spacing_mm=spacing, process=process,
                             time_limit_s=plate.DEFAULT_TIME_S if time_limit_s is None else time_limit_s, seed=seed)
    raise InputError(f"machine {machine.id} is {machine.process.value}: it has no builds to nest",
                     hint="choose an additive machine (fdm, sla, sls, mjf, metal_pbf)", code="nest.process")


__all__ = ["nest"]
