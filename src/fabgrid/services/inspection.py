"""Use cases of quality inspection from files: train the surface defect detector, score images (with heat
maps), check a layer image against the mesh's cross-section, SPC of a measured feature from a CSV.
The SPC of a site's inspected lines per part and feature. Thin glue over the quality engine (`fabgrid.quality`) and the
store; never imports api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fabgrid.config import Settings
from fabgrid.domain.order import FeatureMeasurement, Inspection, OrderLine
from fabgrid.domain.quality import ImageResult, LayerCheckResult, SpcReport
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork


@dataclass(frozen=True)
class TrainedDetector:
    """A detector written to `model`: images learnt, the decision threshold and its leave-one-out false rejects."""

    model: Path
    n_train: int
    threshold: float
    target_frr: float
    loo_frr: float


@dataclass(frozen=True)
class ImageScores:
    """Scores of images at the model's threshold (score rounded to 4 digits; heat map path when written)."""

    threshold: float
    images: list[ImageResult]


def train_detector(images: Path, model: Path, *, target_frr: float) -> TrainedDetector:
    """Learn a defect detector from the defect-free images of a folder (or listed in a text file); save it."""
    from fabgrid.quality.anomaly import train
    from fabgrid.quality.anomaly_io import list_images, read_image, save_model

    paths = list_images(images)
    m = train([read_image(p) for p in paths], target_frr=target_frr)
    save_model(m, model)
    return TrainedDetector(model=model, n_train=m.bank.n, threshold=m.threshold, target_frr=m.target_frr,
                           loo_frr=float((m.loo_scores > m.threshold).mean()))


def score_images(images: Sequence[Path], model: Path, *, heatmap_dir: Path | None = None) -> ImageScores:
    """Score `images` with the detector in `model`; write ``<stem>.heatmap.png`` per image to `heatmap_dir`."""
    from fabgrid.quality.anomaly_io import load_model, read_image, write_heatmaps

    m = load_model(model)
    arrays = [read_image(p) for p in images]
    scores, maps = m.score(arrays)
    written: list[Path | None] = [None] * len(images)
    if heatmap_dir is not None:
        written = list(write_heatmaps(list(images), maps, [(a.shape[1], a.shape[0]) for a in arrays], m.threshold,
                                      heatmap_dir))
    return ImageScores(threshold=m.threshold, images=[
        ImageResult(image=str(p), score=round(float(s), 4), defect=bool(s > m.threshold), threshold=m.threshold,
                    heatmap=None if w is None else str(w))
        for p, s, w in zip(images, scores, written, strict=True)])


def check_layer_file(mesh: Path, image: Path, *, z_mm: float, px_mm: float,
                     origin_mm: tuple[float, float] = (0.0, 0.0)) -> LayerCheckResult:
    """Compare a top camera image of a layer with the mesh's cross-section at `z_mm`."""
    import trimesh

    from fabgrid.quality.anomaly_io import read_image
    from fabgrid.quality.layer import CameraFrame, check_layer

    if not mesh.is_file():
        raise InputError(f"mesh file {mesh} does not exist", hint="check the --mesh path", code="layer.mesh")
    try:
        tm = trimesh.load_mesh(mesh)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise InputError(f"{mesh} cannot be read as a mesh ({exc})", code="layer.mesh") from exc
    img = read_image(image).astype(float) / 255.0
    return check_layer(img, tm, z_mm, CameraFrame(img.shape, px_mm, origin_mm))


def spc_from_csv(csv_file: Path, feature: str, *, lsl_mm: float | None, usl_mm: float | None,
                 nominal_mm: float | None, subgroup: int) -> SpcReport:
    """Capability and control charts of column `feature` of a CSV of measurements in production order."""
    import csv

    from pydantic import ValidationError

    from fabgrid.domain.quality import Tolerance
    from fabgrid.quality.spc import spc_report

    if not csv_file.is_file():
        raise InputError(f"CSV file {csv_file} does not exist", hint="check the --csv path", code="spc.file")
    with csv_file.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or feature not in rows[0]:
        cols = ", ".join(rows[0]) if rows else "none"
        raise InputError(f"{csv_file} has no column {feature!r} (columns: {cols})", code="spc.column")
    try:
        values = [float(r[feature]) for r in rows if (r[feature] or "").strip()]
    except ValueError as exc:
        raise InputError(f"{csv_file}, column {feature!r}: {exc}", hint="measurements must be numbers in mm",
                         code="spc.values") from exc
    nominal = nominal_mm if nominal_mm is not None else (
        (lsl_mm + usl_mm) / 2 if lsl_mm is not None and usl_mm is not None else (lsl_mm or usl_mm or 0.0))
    try:
        tol = Tolerance(feature=feature, nominal_mm=nominal, lsl_mm=lsl_mm, usl_mm=usl_mm)
    except ValidationError as exc:
        raise InputError(f"tolerance of {feature!r}: {exc.errors()[0]['msg']}", hint="give --lsl and/or --usl",
                         code="spc.tolerance") from exc
    return spc_report(values, tol, subgroup_size=subgroup)


# ---------------------------------------------------------------- SPC of a site's inspections


@dataclass(frozen=True)
class FeatureSpc:
    """SPC of one feature of one part across a site's inspected lines (each inspection one subgroup, a reworked
    line's failed ones included, in the order inspected), with the inspections it reads: order, line, build,
    machine, lot, time, values, verdict."""

    site_id: str
    part_id: str
    report: SpcReport
    points: list[dict[str, object]]


@dataclass(frozen=True)
class FeatureSeries:
    """A feature a site has measured on a part: how many inspections and values, and the last limits."""

    part_id: str
    feature: str
    inspections: int
    values: int
    lsl_mm: float | None
    usl_mm: float | None


_Row = tuple[datetime | None, str, OrderLine, Inspection]
#: Values of a feature its control chart needs at the least (an individuals chart of 3; X-bar/R from 2 subgroups).
MIN_CHART_VALUES = 3


def _site_features(settings: Settings, who: Principal, site_id: str | None,
                   part_id: str | None) -> tuple[str, list[_Row]]:
    if who.role in ("operator", "admin"):
        site = site_id or who.site_id
    elif who.role == "factory" and who.site_id:
        site = who.site_id
    else:
        raise InputError("SPC is for the factory that makes the parts and the park's operators",
                         code="spc.forbidden", status=403)
    if not site:
        raise InputError("name the site", hint="site=<site id>", code="spc.site")
    with UnitOfWork(settings.database_url) as uow:
        found = uow.orders.find(site_id=site, part_id=part_id, limit=100_000, with_events=False)
    rows: list[_Row] = [(ins.at, o.id, ln, ins) for o in found for ln in o.lines
                        if ln.site_id == site and (part_id is None or ln.part_id == part_id)
                        and ln.inspection is not None
                        for ins in (*ln.inspection.previous, ln.inspection) if ins.features]
    rows.sort(key=lambda r: (r[0] or datetime.min.replace(tzinfo=UTC), r[2].id))
    return site, rows


def site_feature_series(settings: Settings, who: Principal, site_id: str | None = None) -> list[FeatureSeries]:
    """The features measured at the caller's site (an operator names the site), per part."""
    _, rows = _site_features(settings, who, site_id, None)
    acc: dict[tuple[str, str], list[FeatureMeasurement]] = {}
    for _at, _oid, ln, ins in rows:
        for f in ins.features:
            acc.setdefault((ln.part_id, f.name), []).append(f)
    out = []
    for (part, name), fs in sorted(acc.items()):
        last = fs[-1]
        out.append(FeatureSeries(part_id=part, feature=name, inspections=len(fs),
                                 values=sum(len(f.values) for f in fs), lsl_mm=last.lsl_mm, usl_mm=last.usl_mm))
    return out


def site_feature_spc(settings: Settings, who: Principal, part_id: str, feature: str,
                     site_id: str | None = None) -> FeatureSpc:
    """Capability, control charts and Western Electric alarms of `feature` of `part_id` across the site's inspected
    lines. Each inspection is a subgroup when they all measured the same number of values (2..25: X-bar/R), else the
    values are charted one by one (individuals/MR). The limits are the latest inspection's. 404 when the site has
    not measured the feature on the part."""
    from fabgrid.domain.quality import Tolerance
    from fabgrid.quality.spc import spc_report

    site, rows = _site_features(settings, who, site_id, part_id)
    points: list[dict[str, object]] = []
    values: list[float] = []
    last = None
    subgroups: list[tuple[float, ...]] = []
    for at, oid, ln, ins in rows:
        f = next((x for x in ins.features if x.name == feature), None)
        if f is None:
            continue
        last = f
        values.extend(f.values)
        subgroups.append(f.values)
        points.append({"order_id": oid, "line_id": ln.id, "build_id": ins.build_id, "machine_id": ins.machine_id,
                       "material_lot": ins.material_lot, "build_operator": ins.build_operator, "at": at, "by": ins.by,
                       "passed": ins.passed,
                       "values": list(f.values), "out_of_tolerance": f.out_of_tolerance})
    if last is None:
        raise NotFoundError(f"site {site} has no inspection of feature {feature!r} on part {part_id}",
                            hint="GET /api/v1/factory/quality/features lists the measured features",
                            code="spc.feature")
    sizes = {len(f) for f in subgroups}
    n = sizes.pop() if len(sizes) == 1 else 1
    if not 2 <= n <= 25 or len(points) < 2:
        n = 1
    tol = Tolerance(feature=feature, nominal_mm=last.nominal_mm, lsl_mm=last.lsl_mm, usl_mm=last.usl_mm)
    return FeatureSpc(site_id=site, part_id=part_id, report=spc_report(values, tol, subgroup_size=n), points=points)
