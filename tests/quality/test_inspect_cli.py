"""CLI contract of `fabgrid inspect`: train, run (JSON list of image/score/defect), layer, spc, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from fabgrid.cli import main
from fabgrid.quality.layer import CameraFrame, expected_mask


def save(img: np.ndarray, path: Path) -> Path:
    Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8)).save(path)
    return path


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> object:
    main(args)
    return json.loads(capsys.readouterr().out)


def test_train_and_run(tmp_path: Path, surfaces: dict[str, list[np.ndarray]],
                       capsys: pytest.CaptureFixture[str]) -> None:
    train_dir = tmp_path / "ok"
    train_dir.mkdir()
    for i, img in enumerate(surfaces["train"][:20]):
        save(img, train_dir / f"n{i:02d}.png")
    model = tmp_path / "model.npz"
    doc = run_json(capsys, ["inspect", "train", "--images", str(train_dir), "--model", str(model),
                            "--target-frr", "0.1", "--json"])
    assert isinstance(doc, dict) and doc["n_train"] == 20 and model.is_file()
    good = save(surfaces["held"][0], tmp_path / "good.png")
    blot = surfaces["held"][1].copy()
    yy, xx = np.mgrid[:96, :96]
    blot[(yy - 40) ** 2 + (xx - 50) ** 2 < 14**2] *= 0.2  # a large dark blot
    bad = save(blot, tmp_path / "bad.png")
    heat = tmp_path / "heat"
    out = run_json(capsys, ["inspect", "run", "--model", str(model), str(good), str(bad), "--json",
                            "--heatmap-dir", str(heat)])
    assert isinstance(out, list) and [d["image"] for d in out] == [str(good), str(bad)]
    assert all({"image", "score", "defect"} <= d.keys() for d in out)
    assert out[1]["score"] > out[0]["score"] and out[1]["defect"] is True
    assert Image.open(heat / "bad.heatmap.png").size == (96, 96)
    listing = tmp_path / "list.txt"
    listing.write_text("ok/n00.png\nok/n01.png\nok/n02.png\nok/n03.png\nok/n04.png\n")
    doc = run_json(capsys, ["inspect", "train", "--images", str(listing), "--model", str(tmp_path / "m2.npz"),
                            "--json"])
    assert isinstance(doc, dict) and doc["n_train"] == 5


def test_errors_are_one_line_with_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"\x00" * 100)
    img = save(np.full((32, 32), 0.5), tmp_path / "x.png")
    with pytest.raises(SystemExit) as e:
        main(["inspect", "run", "--model", str(broken), str(img), "--json"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a usable fabgrid anomaly model" in err and "hint: " in err
    with pytest.raises(SystemExit):
        main(["inspect", "train", "--images", str(tmp_path / "nowhere"), "--model", str(broken)])
    assert "neither a folder nor a list file" in capsys.readouterr().err


def test_layer_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mesh = trimesh.creation.cylinder(radius=15, height=8)
    mesh.apply_translation((30, 30, 4))
    stl = tmp_path / "disc.stl"
    mesh.export(stl)
    frame = CameraFrame((240, 240), 0.25)
    m = np.roll(expected_mask(mesh, 2.0, frame), 6, axis=1)  # shifted 1.5 mm in +X
    save(np.where(m, 0.8, 0.2), tmp_path / "layer.png")
    doc = run_json(capsys, ["inspect", "layer", "--mesh", str(stl), "--image", str(tmp_path / "layer.png"),
                            "--z", "2.0", "--px-mm", "0.25", "--json"])
    assert isinstance(doc, dict) and doc["verdict"] == "fail"
    assert doc["shift_mm"] == pytest.approx([1.5, 0.0], abs=0.1)
    assert [f["kind"] for f in doc["findings"]] == ["layer_shift"]


def test_spc_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("part,bore\n" + "".join(f"p{i},{v}\n" for i, v in enumerate([10.0, 10.2, 9.9, 10.1, 10.3])))
    doc = run_json(capsys, ["inspect", "spc", "--csv", str(csv), "--feature", "bore", "--lsl", "9.5",
                            "--usl", "10.7", "--json"])
    assert isinstance(doc, dict) and doc["capability"]["cpk"] == pytest.approx(0.6 / (3 * 0.225 / 1.128))
    main(["inspect", "spc", "--csv", str(csv), "--feature", "bore", "--lsl", "9.5", "--usl", "10.7"])
    assert "Cpk" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["inspect", "spc", "--csv", str(csv), "--feature", "width", "--usl", "1"])
    assert "no column 'width'" in capsys.readouterr().err
