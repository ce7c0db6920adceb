"""`fabgrid analyze PART`: geometry facts, orientations, wall thickness and DFM findings of a part file.

Calls `fabgrid.services.analysis` (imported inside the command so `fabgrid --help` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fabgrid.cli._common import console, emit_json, table
from fabgrid.services.formats import FORMATS_TEXT

if TYPE_CHECKING:
    from fabgrid.domain.geometry import PartReport


def _print(report: PartReport) -> None:
    r = report
    facts = [
        ("file", f"{r.name} ({r.format}, units {r.units}, {r.units_source})"),
        ("triangles / bodies", f"{r.triangles:,} / {r.bodies}"),
        ("bounding box mm", " x ".join(f"{v:.4g}" for v in r.bbox_mm)),
        ("volume mm3 / area mm2", f"{r.volume_mm3:.6g} / {r.area_mm2:.6g}"),
        ("convex hull mm3", f"{r.convex_hull_volume_mm3:.6g}{'' if r.convex_hull_exact else ' (sampled)'}"),
        ("centre of mass mm", ", ".join(f"{v:.4g}" for v in r.center_mass_mm)),
        ("watertight / winding", f"{r.watertight} / {'consistent' if r.winding_consistent else 'INCONSISTENT'}"),
        ("holes / non-manifold edges", f"{r.boundary_loops} / {r.nonmanifold_edges}"),
        ("degenerate / duplicate faces", f"{r.degenerate_faces} / {r.duplicate_faces}"),
        ("self-intersecting faces", "not checked" if not r.self_intersections_checked
         else str(r.self_intersecting_faces)),
        ("min wall mm", "-" if r.min_wall_mm is None else
         f"{r.min_wall_mm:.3g} at ({', '.join(f'{v:.4g}' for v in r.min_wall_at_mm or ())})"),
    ]
    table(f"part {r.name}", ["fact", "value"], facts)
    table("recommended orientation per process", ["process", "up", "height mm", "support mm3", "orderable",
                                                  "machines that fit"],
          [(p, ", ".join(f"{c:.3g}" for c in o.up), f"{o.height_mm:.4g}", f"{o.support_volume_mm3:.4g}",
            "yes" if r.orderable.get(p) else "NO", len(r.machines_ok.get(p, [])))
           for p, o in r.recommended_orientation.items()])
    if r.findings:
        table(f"{len(r.findings)} findings", ["severity", "process", "machine", "code", "message", "fix"],
              [(f.severity.value, f.process.value if f.process else "", f.machine_model or "", f.code,
                f.message, f.fix) for f in r.findings])
        codes = {f.code for f in r.findings}
        for code in sorted(c for c in codes if c.startswith("units.maybe_")):
            console.print(f"hint: analyse it with --units {code.removeprefix('units.maybe_')} if that is its unit")
        if r.repairs is None and codes & _REPAIRABLE:
            console.print("hint: --repair merges vertices, fixes winding and normals and fills small holes")
        if "mesh.multiple_bodies" in codes:
            console.print("hint: --per-body reports every body as its own part")
    if r.repairs is not None:
        console.print("repairs: " + "; ".join(r.repairs))
    for part in r.parts:
        console.print(f"[bold]{part.name}[/]: {part.triangles} triangles, volume {part.volume_mm3:.6g} mm3, "
                      f"bbox {' x '.join(f'{v:.4g}' for v in part.bbox_mm)} mm, "
                      f"{sum(1 for f in part.findings if f.severity.value == 'error')} errors")


#: Finding codes the automatic repair addresses (the CLI names its flag for them).
_REPAIRABLE = {"mesh.open", "mesh.winding", "mesh.inverted", "mesh.degenerate_faces", "mesh.duplicate_faces"}


def analyze_cmd(
    part: Path = typer.Argument(..., help=f"part file: {FORMATS_TEXT}"),
    process: str | None = typer.Option(None, "--process", "-p", help="only this process (fdm, sla, sls, ...)"),
    units: str | None = typer.Option(None, "--units", "-u", help="override the file's unit: mm, inch, m"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
    repair: bool = typer.Option(False, "--repair", help="fix simple defects first and report them"),
    per_body: bool = typer.Option(False, "--per-body", help="also report every body as its own part"),
) -> None:
    """Facts, orientations, wall thickness and DFM findings of a part, per process and machine model."""
    from fabgrid.services.analysis import analyze_file

    report = analyze_file(part, process=process, units=units, repair=repair, per_body=per_body)
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        _print(report)


def register(app: typer.Typer) -> None:
    """Add `analyze` to the fabgrid app."""
    app.command("analyze")(analyze_cmd)
