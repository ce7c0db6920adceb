"""Files of the anomaly detector: image lists, the versioned model file, heat map images.

Model file format ``fabgrid-anomaly`` version 2: one ``.npz`` (numpy zip) holding the arrays
``bank`` (cells, k, m) float16 (k PCA dims, m coreset members), ``origin`` (cells, m) int32 (training image of
each member), ``proj`` (dim, k), ``shift`` (dim,), ``scale`` (dim,), ``loo_scores`` (n,) float32 and
``meta.json`` (UTF-8 JSON bytes as uint8): format, version, feature config, threshold, target FRR,
training count, created_at (UTC). Depends on numpy and Pillow; never on store, services, api or cli.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabgrid.errors import InputError
from fabgrid.quality.anomaly import F32, AnomalyModel, FeatureConfig, MemoryBank

FORMAT = "fabgrid-anomaly"
VERSION = 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: Path) -> NDArray[np.uint8]:
    """A grey uint8 image from a file, or an InputError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise InputError(f"image {path} does not exist", hint="check the path", code="anomaly.image") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path} is not a readable image ({exc})",
                         hint="give PNG, JPEG, BMP or TIFF files", code="anomaly.image") from exc


def list_images(source: Path) -> list[Path]:
    """Images of a folder (sorted, recursive) or of a text file with one path per line.

    Relative paths in a list file are taken relative to the list file's folder; blank lines and
    lines starting with ``#`` are skipped.
    """
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    elif source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()
        paths = [source.parent / ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"{source}: {len(missing)} listed image(s) do not exist, first {missing[0]}",
                             hint="paths in the list are relative to the list file", code="anomaly.images")
    else:
        raise InputError(f"{source} is neither a folder nor a list file", hint="check the path",
                         code="anomaly.images")
    if not paths:
        raise InputError(f"{source} holds no images", hint=f"give files ending in {', '.join(IMAGE_SUFFIXES)}",
                         code="anomaly.images")
    return paths


def save_model(model: AnomalyModel, path: Path) -> None:
    """Write the model file (format above); written whole to a temporary name, then renamed."""
    meta: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "config": asdict(model.config),
        "threshold": model.threshold, "target_frr": model.target_frr, "n_train": model.bank.n,
        "grid": model.bank.grid, "created_at": datetime.now(UTC).isoformat(),
        "method": "multi-scale Gaussian-derivative features, PCA, per-cell greedy-coreset nearest-neighbour bank",
    }
    buf = io.BytesIO()
    arrays: dict[str, Any] = {
        "bank": model.bank.bank.astype(np.float16), "origin": model.bank.origin.astype(np.int32),
        "proj": model.bank.proj, "shift": model.bank.shift, "scale": model.bank.scale,
        "loo_scores": model.loo_scores,
        "meta.json": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
    }
    np.savez_compressed(buf, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def _bad(path: Path, why: str) -> InputError:
    return InputError(f"{path} is not a usable fabgrid anomaly model: {why}",
                      hint="train one with `fabgrid inspect train --images DIR --model OUT.npz`",
                      code="anomaly.model")


def load_model(path: Path) -> AnomalyModel:
    """Read a model file, checking format, version and array shapes."""
    if not path.is_file():
        raise InputError(f"model file {path} does not exist", hint="check the --model path",
                         code="anomaly.model")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _bad(path, f"cannot be read as npz ({exc})") from exc
    need = {"bank", "origin", "proj", "shift", "scale", "loo_scores", "meta.json"}
    if not need <= arrays.keys():
        raise _bad(path, f"missing {sorted(need - arrays.keys())}")
    try:
        meta = json.loads(arrays["meta.json"].tobytes().decode("utf-8"))
        if meta.get("format") != FORMAT:
            raise _bad(path, f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        if meta.get("version") != VERSION:
            raise _bad(path, f"version {meta.get('version')} is not supported (this fabgrid reads {VERSION})")
        c = meta["config"]
        cfg = FeatureConfig(image_px=int(c["image_px"]), pool_px=int(c["pool_px"]),
                            lcn_sigma_px=float(c["lcn_sigma_px"]),
                            scales_px=tuple(float(v) for v in c["scales_px"]),
                            context_sigmas_px=tuple(float(v) for v in c["context_sigmas_px"]),
                            smooth_cells=float(c["smooth_cells"]), pca_dims=int(c["pca_dims"]),
                            coreset_per_cell=int(c["coreset_per_cell"]))
        threshold, frr = float(meta["threshold"]), float(meta["target_frr"])
        n_train = int(meta["n_train"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"metadata is damaged ({exc})") from exc
    bank = arrays["bank"].astype(np.float32)
    proj = arrays["proj"].astype(np.float32)
    cells, dim = cfg.grid**2, cfg.dim
    k = proj.shape[1] if proj.ndim == 2 else -1
    if bank.ndim != 3 or bank.shape[:2] != (cells, k) or proj.shape != (dim, k) \
            or arrays["origin"].shape != (cells, bank.shape[2]) or arrays["shift"].shape != (dim,) \
            or arrays["scale"].shape != (dim,) or not np.all(np.isfinite(bank)):
        raise _bad(path, f"array shapes {bank.shape}, proj {proj.shape} do not match the configuration "
                         f"({cells}, k, m), ({dim}, k)")
    mb = MemoryBank(shift=arrays["shift"].astype(np.float32), scale=arrays["scale"].astype(np.float32),
                    proj=np.ascontiguousarray(proj), bank=np.ascontiguousarray(bank),
                    origin=arrays["origin"].astype(np.int32), grid=cfg.grid, n_train=n_train)
    loo: F32 = arrays["loo_scores"].astype(np.float32)
    return AnomalyModel(config=cfg, bank=mb, threshold=threshold, target_frr=frr, loo_scores=loo)


def heatmap_image(score_map: F32, size_wh: tuple[int, int], threshold: float) -> NDArray[np.uint8]:
    """An RGB heat map at the image's size: blue (0) to red (2 x threshold), threshold in the middle."""
    from PIL import Image

    up = np.asarray(Image.fromarray(np.asarray(score_map, dtype=np.float32))
                    .resize(size_wh, Image.Resampling.BILINEAR))
    t = np.clip(up / (2.0 * threshold if threshold > 0 else 1.0), 0.0, 1.0)
    rgb = np.stack([t, 1.0 - np.abs(2.0 * t - 1.0), 1.0 - t], axis=-1)
    return np.asarray(np.round(rgb * 255.0), dtype=np.uint8)


def upsample_map(score_map: F32, size_wh: tuple[int, int]) -> F32:
    """A heat map resized (bilinear) to an image's size (width, height)."""
    from PIL import Image

    return np.asarray(Image.fromarray(np.asarray(score_map, dtype=np.float32))
                      .resize(size_wh, Image.Resampling.BILINEAR), dtype=np.float32)


def write_heatmaps(paths: Sequence[Path], maps: F32, sizes_wh: Sequence[tuple[int, int]], threshold: float,
                   out_dir: Path) -> list[Path]:
    """Save one PNG heat map per image into out_dir as <stem>.heatmap.png; returns the paths."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for p, m, wh in zip(paths, maps, sizes_wh, strict=True):
        target = out_dir / f"{p.stem}.heatmap.png"
        Image.fromarray(heatmap_image(m, wh, threshold)).save(target)
        written.append(target)
    return written
