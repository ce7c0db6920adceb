"""3D irregular strip packing: our height against the published benchmark heights.

Data: ../shared/benchmarks/packing3d (Yifuwei/3D_irregular_packing_stream, MIT; instances of
Lamas-Fernandez, Martinez-Sykora & Bennell, "Voxel-based solution approaches to the 3D irregular
packing problem"). Pieces are packed as voxels with the 24 axis-aligned rotations by
`fabgrid.nesting.heightmap.pack`; every layout is checked voxel by voxel (inside, no voxel shared:
column `check`). Also the density of a mixed powder-bed build of the real meshes
of ../shared/benchmarks/meshes packed by `fabgrid.nesting.volume.pack_parts`.

Units: the voxel length of a piece folder is read from its normalinfo.txt (Liu2015, Stoyan2004,
Stoyan2005), from the binvox header scale/dim (Merged, Blobs); Chess, Engine and Shapes are defined
in voxels (the results CSV lists their container in voxels: 50x50, 83x83, 20x20). The container
footprint in voxels is floor(W / voxel), floor(D / voxel); heights are compared in instance units.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import re
import time
from pathlib import Path

import numpy as np

import bench
from fabgrid.domain.catalog import MachineModel, PowerDraw, ProcessFamily
from fabgrid.errors import InputError
from fabgrid.nesting.heightmap import PackResult, Piece, pack
from fabgrid.nesting.parts import NestPart
from fabgrid.nesting.volume import pack_parts
from fabgrid.services.nesting import load_part

VOXEL_UNIT_FOLDERS = ("Chess", "Engine", "Shapes")


def _published(root: Path) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for f in sorted((root / "result" / "numerical").glob("*.csv")):
        with f.open(newline="") as fh:
            for r in csv.DictReader(fh):
                rows[r["dataset"]] = r
    return rows


def _binvox_header(path: Path) -> tuple[int, float]:
    with path.open("rb") as fh:
        head = fh.read(256).decode("ascii", "replace")
    dim = int(re.search(r"dim\s+(\d+)", head).group(1))  # type: ignore[union-attr]
    scale = float(re.search(r"scale\s+([-\d.eE]+)", head).group(1))  # type: ignore[union-attr]
    return dim, scale


def _voxel_length(piece_path: Path) -> float:
    folder = piece_path.parent
    if any(part in VOXEL_UNIT_FOLDERS for part in folder.parts):
        return 1.0
    info = folder / "normalinfo.txt"
    if info.exists():
        return float(re.search(r"([\d.]+)", info.read_text()).group(1))  # type: ignore[union-attr]
    dim, scale = _binvox_header(piece_path)
    return scale / dim


def _load_piece(path: Path, quick: bool) -> Piece:
    import trimesh

    grid = trimesh.load(path)
    m = np.asarray(grid.matrix, dtype=bool)
    idx = np.argwhere(m)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    m = m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    from fabgrid.nesting.heightmap import rotations24

    return Piece(np.ascontiguousarray(m), rotations=rotations24()[:6] if quick else rotations24())


def _instances(root: Path) -> list[Path]:
    desc = root / "data" / "InstanceDescription"
    return sorted(desc.glob("*.txt")) + sorted((desc / "blobs").glob("*.txt"))


def check_layout(pieces: list[Piece], res: PackResult, footprint: tuple[int, int]) -> bool:
    """Independent voxel check: every placed voxel inside the container and below the height, none
    shared. Voxel centres are turned by the placement's rotation matrix directly (not by the packer's
    rotate/crop code) and moved so that the lowest centre lands in the placement's corner voxel."""
    cells: list[np.ndarray] = []
    for pl in res.placements:
        pc = pieces[pl.piece]
        rot = pc.orientations[pl.orientation].rot
        c = (np.argwhere(pc.voxels) + 0.5) @ rot.T
        cells.append(np.floor(c - c.min(axis=0)).astype(np.int64) + np.asarray(pl.offset))
    if not cells:
        return True
    idx = np.concatenate(cells)
    inside = bool((idx >= 0).all() and (idx[:, 0] < footprint[0]).all() and (idx[:, 1] < footprint[1]).all()
                  and (idx[:, 2] < res.height).all())
    flat = np.ravel_multi_index(tuple(idx.T), (footprint[0], footprint[1], res.height + 1)) if inside else idx[:, 0]
    return inside and len(np.unique(flat)) == len(idx)


def run_instance(path: Path, published: dict[str, dict[str, str]], time_limit_s: float,
                 quick: bool) -> tuple[str, int, float, float | None, float, float, bool]:
    """Pack one instance: (name, pieces, our height, published height, density, seconds, layout ok)."""
    t_start = time.perf_counter()
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    width, depth = float(lines[0][1]), float(lines[0][2])
    cache: dict[Path, Piece] = {}
    pieces: list[Piece] = []
    unit = 1.0
    for name, qty in lines[1:]:
        p = (path.parent / name).resolve()
        if p not in cache:
            cache[p] = _load_piece(p, quick)
            unit = _voxel_length(p)
        pieces += [cache[p]] * int(qty)
    row = published.get(path.stem)
    if unit == 1.0 and row is not None:  # defined in voxels: the CSV names the voxel container
        nums = [float(v) for v in re.findall(r"[\d.]+", row["Original bin size"])]
        width, depth = nums[0], nums[-1]
    fw, fd = math.floor(width / unit + 1e-6), math.floor(depth / unit + 1e-6)
    budget = max(0.0, time_limit_s - (time.perf_counter() - t_start))  # loading counts in the limit
    res = pack(pieces, (fw, fd), time_limit_s=budget)
    secs = time.perf_counter() - t_start
    vol = sum(pieces[p.piece].volume for p in res.placements)
    density = vol / (fw * fd * res.height)
    ref = float(row["Benchmark"]) if row and row.get("Benchmark") else None
    ok = not res.unplaced and check_layout(pieces, res, (fw, fd))
    return path.stem, len(pieces), res.height * unit, ref, density, secs, ok


def main(argv: list[str]) -> int:
    """Run every instance (or those named) and print one table."""
    ap = argparse.ArgumentParser(prog="bench packing3d")
    ap.add_argument("--time-limit", type=float, default=50.0,
                    help="seconds per instance, loading included (a construction under way finishes)")
    ap.add_argument("--quick", action="store_true", help="6 rotations, 2 s per instance")
    ap.add_argument("--only", nargs="*", default=None, help="instance names")
    ap.add_argument("--no-meshes", action="store_true", help="skip the mixed mesh build")
    args = ap.parse_args(argv)
    root = bench.shared_benchmarks()
    if root is None:
        return 0
    data = root / "packing3d"
    published = _published(data)
    tl = 2.0 if args.quick else args.time_limit
    print("data: ../shared/benchmarks/packing3d (Yifuwei/3D_irregular_packing_stream, MIT; "
          "Lamas-Fernandez, Martinez-Sykora & Bennell); reference = column 'Benchmark' of "
          "result/numerical/*.csv (best published height)")
    print(f"{'instance':24s} {'pieces':>6s} {'ours':>9s} {'published':>9s} {'ratio':>6s} "
          f"{'density':>7s} {'time_s':>6s} check")
    ratios: list[float] = []
    failed = 0
    for path in _instances(data):
        if args.only and path.stem not in args.only:
            continue
        name, n, ours, ref, dens, secs, ok = run_instance(path, published, tl, args.quick)
        ratio = ours / ref if ref else None
        if ratio is not None:
            ratios.append(ratio)
        print(f"{name:24s} {n:6d} {ours:9.3f} {ref if ref else '-':>9} "
              f"{(f'{ratio:.3f}' if ratio else '-'):>6s} {dens:7.3f} {secs:6.1f} {'ok' if ok else 'FAIL'}",
              flush=True)
        failed += not ok
    if ratios:
        print(f"mean ratio ours/published over {len(ratios)} instances with a published height: "
              f"{float(np.mean(ratios)):.3f} (target <= 1.10)")
    if not args.no_meshes:
        _mesh_build(root, tl)
    return 1 if failed else 0


def _mesh_build(root: Path, time_limit_s: float) -> None:
    logging.getLogger("trimesh").setLevel(logging.CRITICAL)  # textures missing beside test models
    t0 = time.perf_counter()
    print(mixed_build_density(root / "meshes", time_limit_s=time_limit_s),
          f"({time.perf_counter() - t0:.1f} s, loading and voxelising included)")


def mixed_build_density(mesh_dir: Path, *, time_limit_s: float = 20.0) -> str:
    """Bench helper: pack 4 copies of every watertight mesh of `mesh_dir` (2 to 150 mm) into a
    165 x 165 x 300 mm SLS chamber with 2 mm spacing; returns a one-line summary."""
    machine = MachineModel(id="bench_sls", vendor="bench", model="165x165x300", process=ProcessFamily.SLS,
                           build_volume_mm=(165.0, 165.0, 300.0), power=PowerDraw(
                               producing_w=1, idle_w=1, setup_w=1, standby_w=1),
                           price_cny=1, lifetime_h=1, maintenance_cny_per_year=0, materials=(), source="bench")
    parts: list[NestPart] = []
    for f in sorted(mesh_dir.iterdir()):
        if f.suffix.lower() not in (".stl", ".obj", ".ply", ".3mf", ".off"):
            continue
        try:
            p = load_part(f, copies=4)
        except InputError:
            continue
        ext = sorted(p.mesh.extents)
        if not p.mesh.is_watertight or ext[0] < 2.0 or ext[2] > 150 or p.mesh.volume <= 0:
            continue
        parts.append(p)
    builds = pack_parts(parts, machine, spacing_mm=2.0, time_limit_s=time_limit_s)
    first = builds[0]
    return (f"mixed SLS build of {len(parts)} watertight meshes x4 from ../shared/benchmarks/meshes "
            f"(trimesh test models, MIT) in 165x165x300 mm, 2 mm spacing: {len(builds)} build(s); first: "
            f"{len(first.placements)} parts, height {first.height_mm:.1f} mm, density {first.density:.3f}")
