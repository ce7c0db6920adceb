"""Anomaly detector: ranking of synthetic defects, threshold vs target FRR, model file round trip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata

from fabgrid.errors import InputError
from fabgrid.quality.anomaly import AnomalyModel, FeatureConfig, greedy_coreset, threshold_for_frr, train
from fabgrid.quality.anomaly_io import heatmap_image, load_model, save_model

CFG = FeatureConfig(image_px=64, pool_px=4, lcn_sigma_px=4.0, scales_px=(1.0, 2.0),
                    context_sigmas_px=(2.0, 4.0), smooth_cells=1.0, pca_dims=8, coreset_per_cell=24)


def auroc(scores: np.ndarray, y: np.ndarray) -> float:
    r = rankdata(scores)
    n1, n0 = int(y.sum()), int((~y).sum())
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@pytest.fixture(scope="module")
def model(surfaces: dict[str, list[np.ndarray]]) -> AnomalyModel:
    return train(surfaces["train"], CFG, target_frr=0.1)


def test_defects_rank_above_normals(model: AnomalyModel, surfaces: dict[str, list[np.ndarray]]) -> None:
    s_ok, maps_ok = model.score(surfaces["held"])
    s_bad, _ = model.score(surfaces["bad"])
    y = np.r_[np.zeros(len(s_ok), bool), np.ones(len(s_bad), bool)]
    assert auroc(np.r_[s_ok, s_bad], y) > 0.9
    assert maps_ok.shape == (len(s_ok), CFG.grid, CFG.grid)


def test_heat_map_points_at_the_defect(model: AnomalyModel, surfaces: dict[str, list[np.ndarray]]) -> None:
    img = surfaces["held"][0].copy()
    img[60:68, 20:28] *= 0.3  # a dark square around row 64, col 24 of 96
    _, maps = model.score([img])
    r, c = np.unravel_index(int(np.argmax(maps[0])), maps[0].shape)
    assert abs(r - 64 * CFG.grid / 96) <= 2 and abs(c - 24 * CFG.grid / 96) <= 2
    rgb = heatmap_image(maps[0], (96, 96), model.threshold)
    assert rgb.shape == (96, 96, 3) and rgb.dtype == np.uint8


def test_threshold_honours_target_frr(model: AnomalyModel, surfaces: dict[str, list[np.ndarray]]) -> None:
    loo_frr = float((model.loo_scores > model.threshold).mean())
    assert loo_frr == pytest.approx(0.1, abs=0.03)
    held, _ = model.score(surfaces["held"])
    frr = float((held > model.threshold).mean())
    # 40 held-out normals: binomial(40, 0.1) stays below 0.25 with > 99 % probability
    assert frr <= 0.25


def test_threshold_for_frr_quantile_and_bounds() -> None:
    s = np.arange(100, dtype=np.float32)
    assert threshold_for_frr(s, 0.05) == pytest.approx(94.05)
    assert float((s > threshold_for_frr(s, 0.2)).mean()) == pytest.approx(0.2)
    with pytest.raises(InputError):
        threshold_for_frr(s, 1.5)


def test_training_needs_enough_images(surfaces: dict[str, list[np.ndarray]]) -> None:
    with pytest.raises(InputError) as e:
        train(surfaces["train"][:3], CFG)
    assert e.value.code == "anomaly.too_few"


def test_model_round_trip(model: AnomalyModel, surfaces: dict[str, list[np.ndarray]], tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_model(model, path)
    again = load_model(path)
    assert again.config == model.config
    assert again.threshold == model.threshold and again.target_frr == model.target_frr
    a, _ = model.score(surfaces["bad"][:5])
    b, _ = again.score(surfaces["bad"][:5])
    np.testing.assert_allclose(a, b, rtol=2e-2)  # the bank is stored as float16
    with zipfile.ZipFile(path) as z:  # documented layout: a plain npz with a JSON metadata member
        assert {"bank.npy", "origin.npy", "proj.npy", "shift.npy", "scale.npy", "loo_scores.npy",
                 "meta.json.npy"} <= set(z.namelist())
    with np.load(path) as z:
        meta = json.loads(z["meta.json"].tobytes())
    assert meta["format"] == "fabgrid-anomaly" and meta["version"] == 2 and meta["n_train"] == 40


def _rewrite_meta(src: Path, dst: Path, **changes: object) -> None:
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta.json"].tobytes())
    meta.update(changes)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)


def test_corrupt_or_wrong_model_files(model: AnomalyModel, tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    save_model(model, good)
    cases = {}
    cases["garbage"] = tmp_path / "garbage.npz"
    cases["garbage"].write_bytes(b"not a model at all")
    cases["truncated"] = tmp_path / "trunc.npz"
    cases["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["version"] = tmp_path / "v99.npz"
    _rewrite_meta(good, cases["version"], version=99)
    cases["format"] = tmp_path / "other.npz"
    _rewrite_meta(good, cases["format"], format="something-else")
    cases["shape"] = tmp_path / "shape.npz"
    _rewrite_meta(good, cases["shape"], config={**json.loads(np.load(good)["meta.json"].tobytes())["config"],
                                                "pool_px": 8})
    cases["missing"] = tmp_path / "missing.npz"
    np.savez(cases["missing"], bank=np.zeros(3))
    cases["absent"] = tmp_path / "absent.npz"
    for name, path in cases.items():
        with pytest.raises(InputError) as e:
            load_model(path)
        assert e.value.code == "anomaly.model", name
        assert str(path) in e.value.message, name


def test_greedy_coreset_covers_every_point() -> None:
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(5, 200, 4)).astype(np.float32)
    idx = greedy_coreset(pts, 30)
    assert idx.shape == (5, 30)
    for c in range(5):
        assert len(set(idx[c].tolist())) == 30
        mem = pts[c, idx[c]]
        d_all = np.sqrt(((pts[c][:, None] - mem[None]) ** 2).sum(-1))
        cover = d_all.min(axis=1).max()
        pair = np.sqrt(((mem[:, None] - mem[None]) ** 2).sum(-1)) + np.eye(30) * 1e9
        # k-center greedy: no point lies farther from the members than any two members lie apart
        assert cover <= pair.min() + 1e-5


def test_bank_projection_is_orthonormal_and_records_origins(model: AnomalyModel) -> None:
    p = model.bank.proj
    assert p.shape == (CFG.dim, CFG.pca_dims)
    np.testing.assert_allclose(p.T @ p, np.eye(CFG.pca_dims), atol=1e-4)
    assert model.bank.members == CFG.coreset_per_cell and model.bank.n == 40
    assert model.bank.origin.min() >= 0 and model.bank.origin.max() < 40
