"""`fabgrid nest PARTS... --machine MODEL`: pack parts into builds, write 3MF and PNG of each build.

Calls services.nesting (imported inside the command so `fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fabgrid.cli._common import console, emit_json, table
from fabgrid.services.formats import FORMATS_TEXT


def nest_cmd(
    parts: list[Path] = typer.Argument(..., help=f"part files ({FORMATS_TEXT}), in mm"),
    machine: str = typer.Option(..., "--machine", "-m", help="machine model id (see `fabgrid catalog`)"),
    spacing: float | None = typer.Option(None, "--spacing", help="minimum gap between parts and to the "
                                         "walls, mm (default 3 for SLS/MJF, 5 on a bed)"),
    copies: list[str] = typer.Option([], "--copies", "-n", help="N for every part, or PART:N (repeatable)"),
    time_limit: float | None = typer.Option(None, "--time-limit", help="search time per build, s "
                                            "(default 20 for SLS/MJF, 3 on a bed)"),
    seed: int = typer.Option(0, "--seed", help="random seed of the local search"),
    out: Path | None = typer.Option(None, "--out", help="write the build as 3MF (build-2.3mf ... for more)"),
    png: Path | None = typer.Option(None, "--png", help="write a picture of the build (PNG)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Pack parts into the builds of a machine: 3D in SLS/MJF volumes, 2D on FDM/SLA/metal plates.

    x, y, z: mm, the minimum corner of the placed part's bounding box (origin: build volume corner, Z up).

    rotation: 3x3 rotation matrix (rows) applied to the part file's coordinates before the move.

    transform: the same placement as one 4x4 matrix (p_build = R p_file + t), as written in the 3MF.

    support_volume_mm3 (per build and per placement): space filled by supports on metal PBF plates,
    where parts stand support_lift_mm above the plate (in z and height_mm); the 3MF holds each
    placement's supports as an object `PART#N support`.
    """
    from fabgrid.errors import InputError
    from fabgrid.services.nesting import nest_files

    if time_limit is not None and time_limit <= 0:
        raise InputError(f"--time-limit {time_limit} must be > 0 s", code="nest.time_limit")
    result = nest_files(parts, machine, copies=copies, spacing_mm=spacing, time_limit_s=time_limit, seed=seed,
                        out=out, png=png)
    builds, files = result.builds, result.files
    doc = {"machine": machine, "builds": [
        {**b.model_dump(mode="json", exclude={"placements"}),
         "placements": [p.model_dump(mode="json", exclude={"transform", "size_mm"}) |
                        {"transform": [list(r) for r in p.transform], "size_mm": list(p.size_mm)}
                        for p in b.placements],
         "files": f}
        for b, f in zip(builds, files, strict=True)]}
    if as_json:
        emit_json(doc)
        return
    table(f"{len(builds)} build(s) on {machine}", ["build", "parts", "height mm", "density", "support cm3", "files"],
          [(i, len(b.placements), f"{b.height_mm:.1f}", f"{b.density:.1%}", f"{b.support_volume_mm3 / 1000:.1f}",
            " ".join(f.values())) for i, (b, f) in enumerate(zip(builds, files, strict=True), start=1)])
    for i, b in enumerate(builds, start=1):
        table(f"build {i}", ["part", "#", "x mm", "y mm", "z mm", "support cm3", "rotation (rows)"],
              [(p.part, p.instance, f"{p.x:.1f}", f"{p.y:.1f}", f"{p.z:.1f}", f"{p.support_volume_mm3 / 1000:.2f}",
                " / ".join(" ".join(f"{v:g}" for v in row) for row in p.rotation)) for p in b.placements])
    console.print("rotation: 3x3 matrix applied to the file's coordinates; x, y, z: min corner of the placed part")


def register(app: typer.Typer) -> None:
    """Add `fabgrid nest`."""
    app.command("nest")(nest_cmd)
