"""`fabgrid nest`: the JSON contract, the files it writes, and bad input as error/hint with exit 2."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh

from fabgrid.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def part_files(tmp_path: Path) -> list[Path]:
    box = tmp_path / "bracket.stl"
    trimesh.creation.box((30, 20, 10)).export(box)
    ring = tmp_path / "ring.stl"
    trimesh.creation.annulus(r_min=8, r_max=14, height=6).export(ring)
    return [box, ring]


def test_nest_json_contract_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      part_files: list[Path]) -> None:
    out3mf, outpng = tmp_path / "build.3mf", tmp_path / "build.png"
    code, out, err = _run(capsys, "nest", *map(str, part_files), "--machine", "hp_mjf5200", "--spacing", "3",
                          "--copies", "2", "--copies", "ring:3", "--time-limit", "0.5", "--json",
                          "--out", str(out3mf), "--png", str(outpng))
    assert code == 0, err
    doc = json.loads(out)
    builds = doc["builds"]
    assert len(builds) == 1
    b = builds[0]
    assert b["height_mm"] > 0 and 0 < b["density"] <= 1
    places = b["placements"]
    assert sorted(p["part"] for p in places) == ["bracket"] * 2 + ["ring"] * 3
    for p in places:
        assert {"part", "x", "y", "z", "rotation"} <= set(p)
        r = np.asarray(p["rotation"])
        assert r.shape == (3, 3) and np.allclose(r @ r.T, np.eye(3))
        assert min(p["x"], p["y"], p["z"]) >= 3.0 - 1e-9
    assert out3mf.is_file() and outpng.is_file()
    scene = trimesh.load(out3mf)
    assert isinstance(scene, trimesh.Scene)
    assert len(scene.graph.nodes_geometry) == 5


def test_nest_table_on_a_bed(capsys: pytest.CaptureFixture[str], part_files: list[Path]) -> None:
    code, out, _ = _run(capsys, "nest", str(part_files[0]), "--machine", "prusa_mk4", "-n", "3",
                        "--time-limit", "0.2")
    assert code == 0
    assert "bracket" in out and "build 1" in out


def test_nest_json_on_a_bed_keeps_spacing(capsys: pytest.CaptureFixture[str], part_files: list[Path]) -> None:
    code, out, err = _run(capsys, "nest", *map(str, part_files), "--machine", "prusa_mk4", "--spacing", "4",
                          "-n", "bracket:5", "-n", "ring:4", "--time-limit", "0.5", "--json")
    assert code == 0, err
    builds = json.loads(out)["builds"]
    assert len(builds) == 1
    b = builds[0]
    bw, bd, _ = b["build_volume_mm"]
    meshes = {f.stem: trimesh.load(f) for f in part_files}
    outlines = []
    for p in b["placements"]:
        m = meshes[p["part"]].copy()
        m.apply_transform(np.asarray(p["transform"]))
        assert m.bounds[0][2] == pytest.approx(0.0, abs=1e-9)  # on the bed
        assert m.bounds[0][0] >= 4 - 1e-6 and m.bounds[0][1] >= 4 - 1e-6  # spacing to the walls
        assert m.bounds[1][0] <= bw - 4 + 1e-6 and m.bounds[1][1] <= bd - 4 + 1e-6
        outlines.append(shapely.MultiPoint(m.vertices[:, :2]).convex_hull)  # both parts are convex in XY
    assert len(outlines) == 9
    for a, c in itertools.combinations(outlines, 2):
        assert a.distance(c) >= 4 - 1e-6


@pytest.mark.parametrize(("args", "needle"), [
    (["--machine", "no_such_printer"], "unknown machine model"),
    (["--machine", "hp_mjf5200", "--copies", "x:y"], "--copies"),
    (["--machine", "hp_mjf5200", "--copies", "nothere:2"], "names no given part"),
    (["--machine", "hp_mjf5200", "--copies", "0"], "must be >= 1"),
    (["--machine", "dmgmori_cmx600v"], "no builds"),
    (["--machine", "hp_mjf5200", "--out", "/no/such/dir/b.3mf"], "does not exist"),
])
def test_bad_flags(capsys: pytest.CaptureFixture[str], part_files: list[Path], args: list[str],
                   needle: str) -> None:
    code, out, err = _run(capsys, "nest", str(part_files[0]), *args, "--time-limit", "0.2")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err and "Traceback" not in err


def test_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.stl"
    code, _, err = _run(capsys, "nest", str(missing), "--machine", "hp_mjf5200")
    assert code == 2 and "does not exist" in err
    junk = tmp_path / "junk.stl"
    junk.write_bytes(b"\x00\x01 not a mesh at all")
    code, _, err = _run(capsys, "nest", str(junk), "--machine", "hp_mjf5200")
    assert code == 2 and "junk.stl" in err and "Traceback" not in err
    empty = tmp_path / "empty.obj"
    empty.write_text("# nothing\n")
    code, _, err = _run(capsys, "nest", str(empty), "--machine", "hp_mjf5200")
    assert code == 2 and "empty.obj" in err
    huge = tmp_path / "huge.stl"
    trimesh.creation.box((900, 900, 900)).export(huge)
    code, _, err = _run(capsys, "nest", str(huge), "--machine", "hp_mjf5200")
    assert code == 2 and "does not fit" in err and "hint:" in err


def test_same_stem_twice_gets_numbered_names(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                               part_files: list[Path]) -> None:
    other = tmp_path / "sub"
    other.mkdir()
    twin = other / "bracket.stl"
    trimesh.creation.box((10, 10, 10)).export(twin)
    code, out, err = _run(capsys, "nest", str(part_files[0]), str(twin), "--machine", "prusa_mk4",
                          "--copies", "bracket#2:2", "--time-limit", "0.2", "--json")
    assert code == 0, err
    names = sorted(p["part"] for p in json.loads(out)["builds"][0]["placements"])
    assert names == ["bracket", "bracket#2", "bracket#2"]
