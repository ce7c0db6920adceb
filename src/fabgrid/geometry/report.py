"""The part-intake pipeline on a loaded mesh: facts, self-intersections, thickness, orientations,
DFM findings per process and machine model, optional repair, per-body reports.

Takes the process rules and machine models as arguments (the service loads them from the catalog).
Depends on the geometry engine and `fabgrid.domain`; never on store, services or web.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fabgrid.domain.catalog import MachineModel, Process
from fabgrid.domain.geometry import PartReport, ThinRegion
from fabgrid.domain.part import DfmFinding, Orientation, Part, PartGeometry, Severity, Vec3
from fabgrid.geometry import dfm, limits, orient
from fabgrid.geometry.analyze import MeshFacts, part_facts
from fabgrid.geometry.dfm.registry import faces_list, points_list
from fabgrid.geometry.intersect import self_intersections
from fabgrid.geometry.thickness import Thickness, measure, thin_regions


@dataclass
class Options:
    """What to compute: repair first, per-body reports, thickness samples, self-intersection search."""

    repair: bool = False
    per_body: bool = False
    thickness_samples: int = limits.THICKNESS_SAMPLES
    self_intersections: bool = True
    thin_mm: float | None = None  # thin-region threshold; default: the largest min wall of the processes
    seed: int = 0


def _vec(a: np.ndarray) -> Vec3:  # type: ignore[type-arg]
    return (float(a[0]), float(a[1]), float(a[2]))


def part_geometry(name: str, units: str, f: MeshFacts, th: Thickness | None,
                  orientations: Sequence[Orientation]) -> PartGeometry:
    """The domain record of a mesh's facts (what costing and nesting read)."""
    return PartGeometry(
        name=name, units=units, triangles=len(f.faces), bodies=f.bodies, bbox_mm=_vec(f.extents_mm),
        volume_mm3=f.volume_mm3, area_mm2=f.area_mm2, convex_hull_volume_mm3=f.hull_volume_mm3,
        center_mass_mm=_vec(f.center_mass_mm), watertight=f.watertight,
        winding_consistent=f.winding_consistent, min_wall_mm=th.min_wall_mm if th is not None else None,
        orientations=list(orientations))


def _orderable(findings: list[DfmFinding], processes: Sequence[Process],
               machines: Sequence[MachineModel]) -> tuple[dict[str, bool], dict[str, list[str]]]:
    mesh_error = any(f.severity is Severity.ERROR and f.process is None for f in findings)
    orderable: dict[str, bool] = {}
    machines_ok: dict[str, list[str]] = {}
    for p in processes:
        proc_error = any(f.severity is Severity.ERROR and f.process is p.id and f.machine_model is None
                         for f in findings)
        bad_machines = {f.machine_model for f in findings if f.severity is Severity.ERROR
                        and f.process is p.id and f.machine_model is not None}
        ok = [m.id for m in machines if m.process is p.id and m.id not in bad_machines]
        machines_ok[p.id.value] = [] if mesh_error or proc_error else ok
        orderable[p.id.value] = bool(machines_ok[p.id.value]) or (
            not mesh_error and not proc_error and not any(m.process is p.id for m in machines))
    return orderable, machines_ok


def analyze_loaded(mesh: Part, processes: Sequence[Process], machines: Sequence[MachineModel],
                   options: Options | None = None, budget: limits.Budget | None = None) -> PartReport:
    """Run the whole intake pipeline on a loaded part; see `Options`. The part's own facts (volume, area,
    hull, ...) are the ones reported, so costing and nesting later read the same values from it."""
    opt = options or Options()
    budget = budget or limits.Budget(name=mesh.name)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    part, repairs = mesh, None
    if opt.repair:
        from fabgrid.geometry.repair import repair

        fixed = repair(mesh.vertices, mesh.faces)
        repairs = fixed.notes
        part = Part(name=mesh.name, vertices=fixed.vertices, faces=fixed.faces, fmt=mesh.fmt,
                    group_names=mesh.group_names, units=mesh.units, units_source=mesh.units_source)
        timings["repair"] = time.perf_counter() - t0
        budget.check("repair")
    vertices, faces = part.vertices, part.faces
    t = time.perf_counter()
    f = part_facts(part)
    timings["facts"] = time.perf_counter() - t
    budget.check("facts")

    t = time.perf_counter()
    si_faces, si_checked = None, False
    if opt.self_intersections and len(faces) <= limits.SELF_INTERSECTION_MAX_FACES:
        si = self_intersections(vertices, faces)
        si_faces, si_checked = si.faces, si.complete
    timings["self_intersections"] = time.perf_counter() - t
    budget.check("self-intersections")

    t = time.perf_counter()
    th = measure(f, opt.thickness_samples, opt.seed) if f.area_mm2 > 0 else None
    timings["thickness"] = time.perf_counter() - t
    budget.check("thickness")

    t = time.perf_counter()
    angles = sorted({p.overhang_angle_deg if p.overhang_angle_deg is not None else orient.DEFAULT_OVERHANG_DEG
                     for p in processes} | {orient.DEFAULT_OVERHANG_DEG})
    per_angle = orient.evaluate(f, angles)
    default = per_angle[angles.index(orient.DEFAULT_OVERHANG_DEG)]
    recommended = {}
    options_of = {}
    for p in processes:
        ang = p.overhang_angle_deg if p.overhang_angle_deg is not None else orient.DEFAULT_OVERHANG_DEG
        opts = per_angle[angles.index(ang)]
        options_of[p.id] = opts
        recommended[p.id] = opts[orient.CHOOSERS[p.capability.orientation](opts)]
    timings["orientation"] = time.perf_counter() - t
    budget.check("orientation")

    t = time.perf_counter()
    sic = si_faces if si_checked else None
    findings = dfm.run_mesh_rules(dfm.MeshContext(f, th, sic, mesh.units, mesh.units_source))
    if opt.self_intersections and not si_checked:
        findings.append(DfmFinding(
            code="mesh.self_intersection_not_checked", severity=Severity.INFO,
            message=f"self-intersections were not searched ({len(faces):,} triangles is above the "
                    f"{limits.SELF_INTERSECTION_MAX_FACES:,} searched, or the pair budget was spent)",
            fix="if the slicer shows missing regions, union overlapping bodies in CAD"))
    for p in processes:
        ctx = dfm.ProcessContext(f, th, sic, mesh.units, mesh.units_source, process=p,
                                 machines=[m for m in machines if m.process is p.id],
                                 orientations=options_of[p.id], recommended=recommended[p.id])
        findings.extend(dfm.run_process_rules(ctx))
    timings["dfm"] = time.perf_counter() - t
    orderable, machines_ok = _orderable(findings, processes, machines)

    regions: list[ThinRegion] = []
    thin_mm = opt.thin_mm if opt.thin_mm is not None else (
        max(p.min_wall_mm for p in processes) if processes else 1.0)
    if th is not None and f.watertight:
        link = 3.0 * math.sqrt(f.area_mm2 / max(1, len(th.wall_mm)))
        for idx in thin_regions(th, thin_mm, link)[:20]:
            k = idx[np.argmin(th.wall_mm[idx])]
            regions.append(ThinRegion(min_wall_mm=float(th.wall_mm[k]), center_mm=_vec(th.points_mm[idx].mean(0)),
                                      points_mm=points_list(th.points_mm[idx]),
                                      face_indices=faces_list(np.sort(th.faces[idx]))))
    thinnest = th.thinnest() if th is not None else None
    gaps = th.gap_mm[np.isfinite(th.gap_mm)] if th is not None else np.zeros(0)
    report = PartReport(
        name=mesh.name, format=mesh.fmt, units=mesh.units, units_source=mesh.units_source,
        triangles=len(faces), bodies=f.bodies, objects=mesh.group_names, bbox_mm=_vec(f.extents_mm),
        bbox_min_mm=_vec(f.bbox_min_mm), volume_mm3=f.volume_mm3, area_mm2=f.area_mm2,
        convex_hull_volume_mm3=f.hull_volume_mm3, convex_hull_exact=f.hull_exact,
        center_mass_mm=_vec(f.center_mass_mm), watertight=f.watertight,
        winding_consistent=f.winding_consistent, degenerate_faces=len(f.degenerate_faces),
        duplicate_faces=len(f.duplicate_faces), boundary_edges=f.boundary_edges,
        boundary_loops=f.boundary_loops, nonmanifold_edges=f.nonmanifold_edges, genus=f.genus,
        self_intersecting_faces=len(si_faces) if si_checked and si_faces is not None else None,
        self_intersections_checked=si_checked,
        min_wall_mm=thinnest[0] if thinnest else None, min_wall_at_mm=thinnest[1] if thinnest else None,
        min_gap_mm=float(gaps.min()) if len(gaps) else None, thin_regions=regions,
        thickness_samples=len(th.wall_mm) if th is not None else 0,
        thickness_engine=th.engine if th is not None else None, orientations=default,
        recommended_orientation={k.value: v for k, v in recommended.items()}, findings=findings,
        orderable=orderable, machines_ok=machines_ok, repairs=repairs,
        part=part_geometry(mesh.name, mesh.units, f, th, default), timings_s=timings)
    if opt.per_body and f.bodies > 1:
        report = report.model_copy(update={"parts": _per_body(mesh, vertices, faces, f, processes, machines,
                                                              opt, budget)})
    return report


def _per_body(mesh: Part, vertices: np.ndarray, faces: np.ndarray, f: MeshFacts,  # type: ignore[type-arg]
              processes: Sequence[Process], machines: Sequence[MachineModel], opt: Options,
              budget: limits.Budget) -> list[PartReport]:
    sub_opt = Options(repair=False, per_body=False, thickness_samples=max(500, opt.thickness_samples // 4),
                      self_intersections=opt.self_intersections, thin_mm=opt.thin_mm, seed=opt.seed)
    out = []
    for b in range(min(f.bodies, 100)):
        bf = faces[f.body == b]
        used, inv = np.unique(bf, return_inverse=True)
        sub = Part(name=f"{mesh.name}#body{b + 1}", fmt=mesh.fmt, vertices=vertices[used],
                   faces=inv.reshape(-1, 3).astype(np.int64), group=np.zeros(len(bf), dtype=np.int64),
                   group_names=[f"body {b + 1}"], units=mesh.units, units_source=mesh.units_source)
        out.append(analyze_loaded(sub, processes, machines, sub_opt, budget))
    return out
