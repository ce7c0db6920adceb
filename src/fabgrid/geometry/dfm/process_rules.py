"""DFM rules per process: minimum wall, holes and gaps, fit in the build volume of each machine model,
trapped volumes without escape holes, tiny features, support needs.

Thresholds come from the `Process` record (catalog data), never from constants here.
Depends on the registry and the geometry engine; never on store, services or web.
"""

from __future__ import annotations

import itertools

import numpy as np

from fabgrid.domain.catalog import ProcessFamily
from fabgrid.domain.part import DfmFinding, Severity
from fabgrid.geometry.dfm.registry import ProcessContext, faces_list, points_list, process_rule

#: Share of the sampled surface below half the minimum wall that makes thin walls an error.
ERROR_SHARE = 0.01


@process_rule("wall.min")
def min_wall(ctx: ProcessContext) -> list[DfmFinding]:
    """Walls thinner than the process minimum: warning, error below half of it."""
    th, proc = ctx.thickness, ctx.process
    assert proc is not None
    if th is None or not ctx.facts.watertight:
        return []
    thin = np.flatnonzero(th.wall_mm < proc.min_wall_mm)
    if len(thin) == 0:
        return []
    worst = float(th.wall_mm[thin].min())
    share = len(thin) / max(1, int(np.isfinite(th.wall_mm).sum()))
    very = float(np.mean(th.wall_mm[np.isfinite(th.wall_mm)] < 0.5 * proc.min_wall_mm))
    # error only when a real region (>= 1 % of the sampled surface) is below half the minimum:
    # a few samples at a knife edge get rounded off, they do not make the part fail
    sev = Severity.ERROR if very >= ERROR_SHARE else Severity.WARNING
    order = thin[np.argsort(th.wall_mm[thin])]
    return [DfmFinding(
        code="wall.too_thin", severity=sev,
        message=f"walls down to {worst:.3g} mm, below the {proc.name} minimum of {proc.min_wall_mm:g} mm "
                f"({share:.0%} of the sampled surface)",
        fix=f"thicken these walls to at least {proc.min_wall_mm:g} mm, or choose a process with thinner walls",
        points_mm=points_list(th.points_mm[order]), face_indices=faces_list(np.unique(th.faces[order])),
        value=worst, limit=proc.min_wall_mm)]


@process_rule("gap.min")
def min_gap(ctx: ProcessContext) -> list[DfmFinding]:
    """Holes and gaps narrower than the process can keep open (measured along the outward normal)."""
    th, proc = ctx.thickness, ctx.process
    assert proc is not None
    if th is None:
        return []
    limit = max(proc.min_gap_mm, proc.min_hole_mm)
    narrow = np.flatnonzero(th.gap_mm < limit)
    if len(narrow) == 0:
        return []
    worst = float(th.gap_mm[narrow].min())
    sev = Severity.WARNING  # a closed gap is fixed by drilling; it does not stop the order
    order = narrow[np.argsort(th.gap_mm[narrow])]
    return [DfmFinding(
        code="gap.too_narrow", severity=sev,
        message=f"holes or gaps down to {worst:.3g} mm; {proc.name} keeps holes from {proc.min_hole_mm:g} mm "
                f"and gaps from {proc.min_gap_mm:g} mm open",
        fix=f"widen holes to {proc.min_hole_mm:g} mm and gaps to {proc.min_gap_mm:g} mm or more, "
            "or drill/ream them after printing",
        points_mm=points_list(th.points_mm[order]), face_indices=faces_list(np.unique(th.faces[order])),
        value=worst, limit=limit)]


def fits(extents: tuple[float, float, float], volume: tuple[float, float, float]) -> bool:
    """True when a box fits a build volume with some axis-aligned assignment of its axes."""
    return any(all(e <= v for e, v in zip(perm, volume, strict=True))
               for perm in itertools.permutations(extents))


@process_rule("build_volume.fit")
def build_volume(ctx: ProcessContext) -> list[DfmFinding]:
    """The part against the build volume of every machine model of the process (any candidate orientation)."""
    proc = ctx.process
    assert proc is not None
    ext = ctx.facts.extents_mm
    boxes = [(float(ext[0]), float(ext[1]), float(ext[2]))] + [o.bbox_mm for o in ctx.orientations]
    out: list[DfmFinding] = []
    misfits = []
    for m in ctx.machines:
        if not any(fits(b, m.build_volume_mm) for b in boxes):
            misfits.append(m)
            bv = " x ".join(f"{v:g}" for v in m.build_volume_mm)
            out.append(DfmFinding(
                code="size.exceeds_build_volume", severity=Severity.ERROR, machine_model=m.id,
                message=f"the part ({' x '.join(f'{v:.4g}' for v in ext)} mm) does not fit the "
                        f"{m.vendor} {m.model} build volume ({bv} mm) in any of the candidate orientations",
                fix="choose a larger machine, or split the part and join it after printing",
                value=float(np.max(ext)), limit=float(max(m.build_volume_mm))))
    if ctx.machines and len(misfits) == len(ctx.machines):
        out.append(DfmFinding(
            code="size.fits_no_machine", severity=Severity.ERROR,
            message=f"the part fits none of the {len(ctx.machines)} {proc.name} machine models of the network",
            fix="split the part into pieces that fit, or choose another process",
            value=float(np.max(ext))))
    return out


@process_rule("trapped.volume")
def trapped_volume(ctx: ProcessContext) -> list[DfmFinding]:
    """Closed inner shells (cavities) trap resin or powder when the process needs escape holes."""
    f, proc = ctx.facts, ctx.process
    assert proc is not None
    if not proc.needs_escape_holes or not f.watertight or not f.winding_consistent or f.volume_mm3 <= 0:
        return []
    voids = np.flatnonzero(f.body_volumes_mm3 < 0)
    out: list[DfmFinding] = []
    for b in voids:
        faces = np.flatnonzero(f.body == b)
        vol = float(-f.body_volumes_mm3[b])
        out.append(DfmFinding(
            code="trapped.volume", severity=Severity.ERROR,
            message=f"an enclosed cavity of {vol:.4g} mm3 has no opening: {proc.name} leaves "
                    f"{'resin' if proc.id is ProcessFamily.SLA else 'powder'} trapped inside",
            fix=f"add at least two escape holes of {proc.min_escape_hole_mm:g} mm or more to the cavity, "
                "or make the part solid",
            face_indices=faces_list(faces), points_mm=points_list(f.centroids[faces[:1]]), value=vol,
            limit=proc.min_escape_hole_mm))
    return out


@process_rule("feature.tiny")
def tiny_features(ctx: ProcessContext) -> list[DfmFinding]:
    """Bodies smaller than the smallest feature the process resolves."""
    f, proc = ctx.facts, ctx.process
    assert proc is not None
    if f.bodies == 0:
        return []
    size = f.body_sizes_mm
    tiny = np.flatnonzero(size < proc.min_feature_mm)
    if len(tiny) == 0:
        return []
    faces = np.flatnonzero(np.isin(f.body, tiny))
    sev = Severity.ERROR if len(tiny) == f.bodies else Severity.WARNING
    return [DfmFinding(
        code="feature.too_small", severity=sev,
        message=f"{len(tiny)} of {f.bodies} bodies are smaller than the {proc.name} minimum feature of "
                f"{proc.min_feature_mm:g} mm",
        fix="enlarge or remove these features (check the file's units)",
        face_indices=faces_list(faces), points_mm=points_list(f.centroids[faces]),
        value=float(size[tiny].min()), limit=proc.min_feature_mm)]


@process_rule("support.needed")
def supports(ctx: ProcessContext) -> list[DfmFinding]:
    """How much support the recommended orientation still needs (informs price and surface finish), for
    the processes with an overhang limit (the self-supporting powder beds and CNC have none)."""
    o = ctx.recommended
    if ctx.process is None or ctx.process.overhang_angle_deg is None or o is None or o.overhang_area_mm2 <= 0:
        return []
    return [DfmFinding(
        code="support.needed", severity=Severity.INFO,
        message=f"in the recommended orientation (up = {tuple(round(c, 3) for c in o.up)}) "
                f"{o.overhang_area_mm2:.4g} mm2 overhang and needs about {o.support_volume_mm3:.4g} mm3 of support",
        fix="add chamfers (45 deg) under overhangs to reduce supports", value=o.support_volume_mm3)]
