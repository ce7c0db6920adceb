"""In-situ layer check: a camera image of a layer against the expected cross-section of the build.

Slices the mesh at the layer height (trimesh), rasterises the polygons into the camera frame,
registers the observed material mask to it (phase correlation) and flags layer shift, missing and
excess material and warping, each with a measured amount. Depends on numpy, scipy, scikit-image,
trimesh, shapely and `fabgrid.domain.quality`; never on store, services, api or cli.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from fabgrid.domain.quality import LayerCheckResult, LayerFinding, LayerFindingKind, Verdict
from fabgrid.errors import InputError

BoolImage = NDArray[np.bool_]
FloatImage = NDArray[np.float64]


@dataclass(frozen=True)
class CameraFrame:
    """An orthographic, bed-calibrated top camera: pixel (row, col) covers the square of side
    ``px_mm`` whose corner is at x = x0 + col*px_mm, y = y0 + row*px_mm (rows grow with +Y)."""

    shape: tuple[int, int]
    px_mm: float
    origin_mm: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.px_mm <= 0 or min(self.shape) < 8:
            raise InputError(f"camera frame {self.shape} at {self.px_mm} mm/px is not usable",
                             hint="give a pixel size > 0 and an image of at least 8x8 pixels",
                             code="layer.frame")


@dataclass(frozen=True)
class LayerLimits:
    """Decision limits of the layer check (mm and mm2)."""

    shift_mm: float = 0.3
    min_area_mm2: float = 1.0
    warp_band_mm: float = 2.0
    warp_mm: float = 0.5


def section_polygons(mesh: object, z_mm: float) -> list[object]:
    """Shapely polygons (with holes) of the mesh's cross-section at height z_mm, in world XY."""
    import trimesh

    if not isinstance(mesh, trimesh.Trimesh):
        raise InputError("layer check needs a triangle mesh", code="layer.mesh")
    zmin, zmax = float(mesh.bounds[0][2]), float(mesh.bounds[1][2])
    if not zmin < z_mm < zmax:
        raise InputError(f"layer height {z_mm} mm is outside the part (z {zmin:.3f}..{zmax:.3f} mm)",
                         hint="give a height inside the build", code="layer.height")
    paths = mesh.section_multiplane(plane_origin=[0.0, 0.0, 0.0], plane_normal=[0.0, 0.0, 1.0],
                                    heights=[z_mm])
    path = paths[0]
    return [] if path is None else list(path.polygons_full)


def rasterize(polygons: list[object], frame: CameraFrame) -> BoolImage:
    """Rasterise shapely polygons (exteriors filled, holes cut out) into a camera-frame mask."""
    from shapely.geometry import Polygon
    from skimage.draw import polygon as fill

    mask = np.zeros(frame.shape, dtype=bool)
    x0, y0 = frame.origin_mm

    def ring_px(coords: object) -> tuple[FloatImage, FloatImage]:
        xy = np.asarray(coords, dtype=np.float64)
        # pixel centres sit at +0.5: shift so skimage's integer-centre convention matches
        return (xy[:, 1] - y0) / frame.px_mm - 0.5, (xy[:, 0] - x0) / frame.px_mm - 0.5

    for poly in polygons:
        if not isinstance(poly, Polygon):
            continue
        rr, cc = fill(*ring_px(poly.exterior.coords), shape=frame.shape)  # type: ignore[no-untyped-call]
        mask[rr, cc] = True
        for hole in poly.interiors:
            rr, cc = fill(*ring_px(hole.coords), shape=frame.shape)  # type: ignore[no-untyped-call]
            mask[rr, cc] = False
    return mask


def expected_mask(mesh: object, z_mm: float, frame: CameraFrame) -> BoolImage:
    """The mask of material expected at z_mm in the camera frame."""
    return rasterize(section_polygons(mesh, z_mm), frame)


def material_mask(image: FloatImage) -> BoolImage:
    """Material pixels of a camera image (bright on a darker bed) by Otsu's threshold after smoothing."""
    from skimage.filters import threshold_otsu

    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3:
        img = img.mean(axis=2)
    if img.ndim != 2 or not np.all(np.isfinite(img)):
        raise InputError("layer image must be a 2-D grey (or RGB) array of finite values", code="layer.image")
    smooth = ndi.gaussian_filter(img, 1.0)
    if float(smooth.max() - smooth.min()) < 1e-6:
        return np.zeros(img.shape, dtype=bool)
    mask = smooth > threshold_otsu(smooth)  # type: ignore[no-untyped-call]
    return np.asarray(ndi.binary_opening(mask, iterations=1), dtype=bool)


def register(expected: BoolImage, observed: BoolImage) -> tuple[float, float]:
    """Sub-pixel shift (rows, cols) that moves `expected` onto `observed` (phase correlation)."""
    from skimage.registration import phase_cross_correlation

    if not expected.any() or not observed.any():
        return 0.0, 0.0
    ref, mov = observed.astype(np.float64), expected.astype(np.float64)
    shift, _, _ = phase_cross_correlation(ref, mov, upsample_factor=10,  # type: ignore[no-untyped-call]
                                          normalization=None)
    return float(shift[0]), float(shift[1])


def _components(diff: BoolImage, expected_edge_dist_px: FloatImage, frame: CameraFrame, limits: LayerLimits,
                kind: LayerFindingKind) -> list[LayerFinding]:
    """Findings of one discrepancy mask: warping where a region hugs the outline, else missing/excess."""
    px2 = frame.px_mm**2
    labels, n = ndi.label(diff)
    if n == 0:
        return []
    idx = np.arange(1, n + 1)
    areas = ndi.sum_labels(np.ones_like(diff, dtype=np.float64), labels, idx) * px2
    depth = ndi.maximum(expected_edge_dist_px, labels, idx) * frame.px_mm
    cents = ndi.center_of_mass(diff, labels, idx)
    out: list[LayerFinding] = []
    x0, y0 = frame.origin_mm
    for area, dep, (r, c) in zip(areas, depth, cents, strict=True):
        if area < limits.min_area_mm2:
            continue
        centroid = (x0 + (c + 0.5) * frame.px_mm, y0 + (r + 0.5) * frame.px_mm)
        if dep <= limits.warp_band_mm and dep >= limits.warp_mm:
            out.append(LayerFinding(kind=LayerFindingKind.WARP, area_mm2=float(area), centroid_mm=centroid,
                                    value=float(dep), limit=limits.warp_mm,
                                    message=f"outline deviates {dep:.2f} mm from the section over "
                                            f"{area:.1f} mm2 near ({centroid[0]:.1f}, {centroid[1]:.1f}) mm"))
        elif dep > limits.warp_band_mm:
            word = "missing" if kind is LayerFindingKind.MISSING else "excess"
            out.append(LayerFinding(kind=kind, area_mm2=float(area), centroid_mm=centroid, value=float(dep),
                                    message=f"{word} material: {area:.1f} mm2 at "
                                            f"({centroid[0]:.1f}, {centroid[1]:.1f}) mm"))
    return out


def check_layer(image: FloatImage, mesh: object, z_mm: float, frame: CameraFrame,
                limits: LayerLimits | None = None) -> LayerCheckResult:
    """Compare a layer image with the mesh's cross-section at z_mm; findings carry measured amounts.

    The measured shift is the layer's offset from where the calibrated frame expects it (layer shift
    when above ``limits.shift_mm``); missing/excess material and warping are judged after removing it.
    Discrepancies within ``warp_band_mm`` of the expected outline and deeper than ``warp_mm`` are
    warping; deeper ones are missing or excess material.
    """
    lim = limits or LayerLimits()
    img = np.asarray(image, dtype=np.float64)
    if img.shape[:2] != frame.shape:
        raise InputError(f"layer image is {img.shape[:2]} pixels but the camera frame is {frame.shape}",
                         hint="give the calibration of this camera", code="layer.shape")
    exp = expected_mask(mesh, z_mm, frame)
    if not exp.any():
        raise InputError(f"the section at z = {z_mm} mm falls outside the camera frame",
                         hint="check the camera origin and pixel size", code="layer.frame")
    obs = material_mask(img)
    dr, dc = register(exp, obs)
    shift_mm = (dc * frame.px_mm, dr * frame.px_mm)
    aligned = ndi.shift(exp.astype(np.float64), (dr, dc), order=1, mode="constant") > 0.5
    # one pixel of tolerance on either side of the outline absorbs rasterisation and blur
    missing = ndi.binary_opening(aligned & ~obs, iterations=1)
    excess = ndi.binary_opening(obs & ~aligned, iterations=1)
    edge = aligned ^ ndi.binary_erosion(aligned)
    dist_edge = np.asarray(ndi.distance_transform_edt(~edge), dtype=np.float64)
    findings: list[LayerFinding] = []
    mag = float(np.hypot(*shift_mm))
    if mag > lim.shift_mm:
        findings.append(LayerFinding(kind=LayerFindingKind.SHIFT, shift_mm=shift_mm, value=mag, limit=lim.shift_mm,
                                     message=f"layer shifted by ({shift_mm[0]:+.2f}, {shift_mm[1]:+.2f}) mm"))
    findings += _components(missing, dist_edge, frame, lim, LayerFindingKind.MISSING)
    findings += _components(excess, dist_edge, frame, lim, LayerFindingKind.EXCESS)
    px2 = frame.px_mm**2
    inter = float((aligned & obs).sum())
    union = float((aligned | obs).sum())
    blocking = {LayerFindingKind.MISSING, LayerFindingKind.EXCESS, LayerFindingKind.SHIFT}
    verdict = Verdict.PASS
    if any(f.kind in blocking for f in findings):
        verdict = Verdict.FAIL
    elif findings:
        verdict = Verdict.WARN
    return LayerCheckResult(z_mm=z_mm, verdict=verdict, shift_mm=shift_mm,
                            expected_area_mm2=float(exp.sum()) * px2, observed_area_mm2=float(obs.sum()) * px2,
                            missing_area_mm2=float(missing.sum()) * px2, excess_area_mm2=float(excess.sum()) * px2,
                            iou=inter / union if union else 1.0, findings=findings)
