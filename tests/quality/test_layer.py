"""Layer check on camera images rendered from real meshes, with injected defects."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import ndimage as ndi

from fabgrid.domain.quality import LayerFindingKind, Verdict
from fabgrid.errors import InputError
from fabgrid.quality.layer import CameraFrame, check_layer, expected_mask

FRAME = CameraFrame((400, 400), 0.25)  # 100 x 100 mm bed, 0.25 mm per pixel
YY, XX = np.mgrid[:400, :400]


@pytest.fixture(scope="module")
def bracket() -> trimesh.Trimesh:
    """A 40 x 30 x 10 mm plate with a 12 mm through hole, centred at (50, 50)."""
    box = trimesh.creation.box(extents=(40, 30, 10))
    hole = trimesh.creation.cylinder(radius=6, height=12)
    mesh = box.difference(hole)
    mesh.apply_translation((50, 50, 5))
    return mesh


def render(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """A camera image: bright material with grain on a dark bed, optical blur and sensor noise."""
    rng = np.random.default_rng(seed)
    img = np.where(mask, 0.75, 0.25) + 0.15 * ndi.gaussian_filter(rng.normal(size=mask.shape), 2)
    return ndi.gaussian_filter(img, 1.0) + rng.normal(0, 0.03, mask.shape)


def kinds(res: object) -> list[LayerFindingKind]:
    return [f.kind for f in res.findings]  # type: ignore[attr-defined]


def test_expected_section_matches_geometry(bracket: trimesh.Trimesh) -> None:
    exp = expected_mask(bracket, 5.0, FRAME)
    area = exp.sum() * FRAME.px_mm**2
    assert area == pytest.approx(40 * 30 - np.pi * 36, rel=0.02)
    assert not exp[200, 200]  # the hole is empty
    assert exp[200, 200 + int(10 / 0.25)]


def test_good_layer_passes(bracket: trimesh.Trimesh) -> None:
    res = check_layer(render(expected_mask(bracket, 5.0, FRAME)), bracket, 5.0, FRAME)
    assert res.verdict is Verdict.PASS and res.findings == []
    assert res.iou > 0.98
    assert np.hypot(*res.shift_mm) < 0.1


def test_layer_shift_is_measured(bracket: trimesh.Trimesh) -> None:
    exp = expected_mask(bracket, 5.0, FRAME)
    res = check_layer(render(np.roll(exp, (8, -12), (0, 1))), bracket, 5.0, FRAME)
    assert res.verdict is Verdict.FAIL and kinds(res) == [LayerFindingKind.SHIFT]
    assert res.shift_mm == pytest.approx((-3.0, 2.0), abs=0.1)


def test_missing_blob_is_found_where_it_is(bracket: trimesh.Trimesh) -> None:
    m = expected_mask(bracket, 5.0, FRAME)
    m[(YY - 170) ** 2 + (XX - 160) ** 2 < 15**2] = False  # 3.75 mm radius, centre (40.1, 42.6) mm
    res = check_layer(render(m), bracket, 5.0, FRAME)
    assert kinds(res) == [LayerFindingKind.MISSING] and res.verdict is Verdict.FAIL
    f = res.findings[0]
    assert f.area_mm2 == pytest.approx(np.pi * 3.75**2, rel=0.15)
    assert f.centroid_mm == pytest.approx((40.1, 42.6), abs=0.5)


def test_excess_material_is_found(bracket: trimesh.Trimesh) -> None:
    m = expected_mask(bracket, 5.0, FRAME)
    m[(YY - 300) ** 2 + (XX - 300) ** 2 < 12**2] = True  # a blob on the bed beside the part
    m[(YY - 200) ** 2 + (XX - 200) ** 2 < 10**2] = True  # and material in the hole
    res = check_layer(render(m), bracket, 5.0, FRAME)
    assert kinds(res) == [LayerFindingKind.EXCESS, LayerFindingKind.EXCESS]
    assert res.excess_area_mm2 == pytest.approx(np.pi * (3.0**2 + 2.5**2), rel=0.15)


def test_warped_edge_is_measured(bracket: trimesh.Trimesh) -> None:
    m = expected_mask(bracket, 5.0, FRAME)
    # the long bottom edge (y = 35 mm, row 140) bows inward by up to 1.25 mm (5 px) between x 30..70 mm
    cols = np.arange(120, 280)
    bow = np.round(5 * (1 - ((cols - 200) / 80.0) ** 2)).astype(int)
    for c, b in zip(cols, bow, strict=True):
        m[140:140 + b, c] = False
    res = check_layer(render(m), bracket, 5.0, FRAME)
    assert kinds(res) == [LayerFindingKind.WARP] and res.verdict is Verdict.WARN
    assert res.findings[0].value == pytest.approx(1.25, abs=0.3)


def test_bad_inputs(bracket: trimesh.Trimesh) -> None:
    img = render(expected_mask(bracket, 5.0, FRAME))
    with pytest.raises(InputError, match="outside the part"):
        check_layer(img, bracket, 25.0, FRAME)
    with pytest.raises(InputError, match="camera frame"):
        check_layer(img[:300], bracket, 5.0, FRAME)
    with pytest.raises(InputError):
        CameraFrame((400, 400), 0.0)
