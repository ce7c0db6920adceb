"""DFM rules on the mesh itself (any process): open or non-manifold surfaces, winding, inverted
normals, degenerate and duplicate faces, self-intersections, several bodies, suspicious units.

Depends on the registry and the geometry engine; never on store, services or web.
"""

from __future__ import annotations

import numpy as np

from fabgrid.domain.part import DfmFinding, Severity
from fabgrid.geometry.dfm.registry import MeshContext, faces_list, mesh_rule, points_list
from fabgrid.geometry.units import UNIT_TO_MM, guess_unit

#: The fix of a defect the automatic repair handles (no command-line flag: web users read these too; the
#: CLI adds its own hint, `cli.analyze`).
_REPAIR = "repair the mesh (merge vertices, fix winding and normals, fill small holes): quoting does it when it is safe"


@mesh_rule("mesh.open")
def open_surface(ctx: MeshContext) -> list[DfmFinding]:
    """A surface with boundary edges encloses no volume: the printer cannot tell inside from outside."""
    f = ctx.facts
    if f.boundary_edges == 0:
        return []
    return [DfmFinding(
        code="mesh.open", severity=Severity.ERROR,
        message=f"the surface is open: {f.boundary_edges} boundary edges in {f.boundary_loops} holes; "
                "volume and slicing are unreliable",
        fix=_REPAIR + ", or close the surface in CAD and export a solid",
        face_indices=faces_list(f.boundary_faces), value=float(f.boundary_loops))]


@mesh_rule("mesh.non_manifold")
def non_manifold(ctx: MeshContext) -> list[DfmFinding]:
    """Edges shared by more than two faces have no well-defined inside."""
    f = ctx.facts
    if f.nonmanifold_edges == 0:
        return []
    return [DfmFinding(
        code="mesh.non_manifold", severity=Severity.ERROR,
        message=f"{f.nonmanifold_edges} edges are shared by more than two faces (non-manifold)",
        fix="separate touching bodies or merge them with a boolean union in CAD, then export again",
        face_indices=faces_list(f.nonmanifold_faces), value=float(f.nonmanifold_edges))]


@mesh_rule("mesh.winding")
def winding(ctx: MeshContext) -> list[DfmFinding]:
    """Neighbouring faces with opposite orientation make the volume wrong."""
    f = ctx.facts
    out: list[DfmFinding] = []
    if not f.winding_consistent:
        out.append(DfmFinding(
            code="mesh.winding", severity=Severity.WARNING,
            message=f"face winding is inconsistent on {len(f.inconsistent_faces)} faces: volume is unreliable",
            fix=_REPAIR, face_indices=faces_list(f.inconsistent_faces)))
    elif f.watertight and f.volume_mm3 < 0:
        out.append(DfmFinding(
            code="mesh.inverted", severity=Severity.WARNING,
            message=f"normals point inward (signed volume {f.volume_mm3:.4g} mm3)", fix=_REPAIR,
            value=f.volume_mm3))
    return out


@mesh_rule("mesh.degenerate")
def degenerate(ctx: MeshContext) -> list[DfmFinding]:
    """Zero-area and duplicate faces: harmless for most slicers, but a sign of a poor export."""
    f = ctx.facts
    out: list[DfmFinding] = []
    if len(f.degenerate_faces):
        out.append(DfmFinding(
            code="mesh.degenerate_faces", severity=Severity.INFO,
            message=f"{len(f.degenerate_faces)} faces have zero area", fix=_REPAIR,
            face_indices=faces_list(f.degenerate_faces), value=float(len(f.degenerate_faces))))
    if len(f.duplicate_faces):
        out.append(DfmFinding(
            code="mesh.duplicate_faces", severity=Severity.WARNING,
            message=f"{len(f.duplicate_faces)} faces are duplicates of another face", fix=_REPAIR,
            face_indices=faces_list(f.duplicate_faces), value=float(len(f.duplicate_faces))))
    return out


@mesh_rule("mesh.self_intersection")
def self_intersection(ctx: MeshContext) -> list[DfmFinding]:
    """Faces crossing other faces: the volume double counts and slicers may drop regions."""
    faces = ctx.self_intersecting_faces
    if faces is None or len(faces) == 0:
        return []
    pts = ctx.facts.centroids[faces]
    return [DfmFinding(
        code="mesh.self_intersection", severity=Severity.WARNING,
        message=f"{len(faces)} faces intersect other faces of the part",
        fix="union the overlapping bodies in CAD (or remesh) and export a single closed solid",
        face_indices=faces_list(faces), points_mm=points_list(pts), value=float(len(faces)))]


@mesh_rule("mesh.bodies")
def bodies(ctx: MeshContext) -> list[DfmFinding]:
    """Several disconnected bodies: the buyer decides whether they are one part or several."""
    f = ctx.facts
    if f.bodies <= 1:
        return []
    return [DfmFinding(
        code="mesh.multiple_bodies", severity=Severity.INFO,
        message=f"the file has {f.bodies} separate bodies",
        fix="order them as one part, or split them into one file per body and quote them one by one",
        value=float(f.bodies))]


@mesh_rule("units.guessed")
def units_guessed(ctx: MeshContext) -> list[DfmFinding]:
    """A unit-less file read in the unit its size makes plausible (the loader's `guess`): say so."""
    if ctx.units_source != "guessed":
        return []
    ext = ctx.facts.extents_mm
    scale = UNIT_TO_MM[ctx.units]
    as_mm = " x ".join(f"{x / scale:.4g}" for x in ext)
    size = " x ".join(f"{x:.4g}" for x in ext)
    return [DfmFinding(
        code=f"units.guessed_{ctx.units}", severity=Severity.WARNING,
        message=f"the file has no unit; read as mm the part would be {as_mm} mm, too small for a part, so it is "
                f"read in {ctx.units}: {size} mm",
        fix="if the part is in mm, switch its unit to mm (or export it with its unit, e.g. as 3MF)",
        value=float(np.max(ext) / scale), limit=float(np.max(ext)))]


@mesh_rule("units.suspect")
def units(ctx: MeshContext) -> list[DfmFinding]:
    """Unit-less STL/OBJ read as mm but implausibly small: probably inches or metres."""
    if ctx.units_source != "assumed":
        return []
    ext = ctx.facts.extents_mm
    guess = guess_unit(float(np.max(ext)))
    if guess is None:
        return []
    unit, scale = guess.unit, guess.scale
    size = " x ".join(f"{x:.4g}" for x in ext)
    scaled = " x ".join(f"{x * scale:.4g}" for x in ext)
    return [DfmFinding(
        code=f"units.maybe_{unit}", severity=Severity.WARNING,
        message=f"the file has no unit; read as mm the part is {size} mm, which is very small. "
                f"If it is in {unit} it is {scaled} mm ({guess.reason})",
        fix=f"if the part is in {unit}, switch its unit to {unit} (or export it in mm)",
        value=float(np.max(ext)), limit=float(np.max(ext) * scale))]
