"""Synthetic surface images for the anomaly tests: textured normals and copies with injected defects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi


def normal_texture(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A brushed-metal-like texture: vertical streaks, grain, an illumination gradient, random gain."""
    streaks = ndi.gaussian_filter1d(rng.normal(size=size), 1.0)[None, :] * 0.08
    grain = ndi.gaussian_filter(rng.normal(size=(size, size)), 0.8) * 0.05
    yy, xx = np.mgrid[:size, :size] / size
    light = 0.15 * (rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy)
    img = rng.uniform(0.35, 0.6) + streaks + grain + light
    return np.clip(img, 0, 1).astype(np.float32)


def inject_defect(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """A dark blob (blowhole) or a dark diagonal scratch at a random place."""
    out = img.copy()
    size = img.shape[0]
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(size // 5, 4 * size // 5, 2)
    if rng.random() < 0.5:
        r = rng.uniform(4.0, 6.0)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    else:
        angle = rng.uniform(0.3, 1.2)
        d = np.abs((yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle))
        along = np.abs((yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle))
        mask = (d < 1.6) & (along < size / 4)
    out[mask] *= 0.3
    return ndi.gaussian_filter(out, 0.6).astype(np.float32)


@pytest.fixture(scope="session")
def surfaces() -> dict[str, list[np.ndarray]]:
    """40 normal training images, 40 held-out normals, 20 defective images (seeded)."""
    rng = np.random.default_rng(7)
    train = [normal_texture(rng) for _ in range(40)]
    held = [normal_texture(rng) for _ in range(40)]
    bad = [inject_defect(rng, normal_texture(rng)) for _ in range(20)]
    return {"train": train, "held": held, "bad": bad}
