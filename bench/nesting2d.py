"""2D irregular strip packing (ESICUP instances): our density against the best recorded layouts.

Data: ../shared/benchmarks/nesting2d (JeroenGar/sparrow, MIT): ESICUP instances as JSON; the best
published layouts are data/records/final_best_*.svg (strip length = x extent of the first path,
density in a <title>). Packed by `fabgrid.nesting.strip2d.pack_strip` (sparrow, through spyrrow)
with the instance's allowed rotations; the layout is checked in exact geometry by `strip2d.verify`
and the overlap area is measured again here with shapely.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

import bench
from fabgrid.nesting.strip2d import Piece, pack_strip, placed_polygons

ESICUP = ("albano", "blaz1", "dagli", "fu", "jakobs1", "jakobs2", "mao", "marques", "shapes0", "shapes1",
          "shirts", "swim", "trousers")


def record(svg: Path) -> tuple[float, float]:
    """(strip length, density) of a recorded best layout."""
    text = svg.read_text()
    density = float(re.search(r"(?:density|usage):\s*([\d.]+)%", text).group(1)) / 100  # type: ignore[union-attr]
    path = re.search(r'<path d="([^"]+)"', text).group(1)  # type: ignore[union-attr]
    xs = [float(v) for v in re.findall(r"[ML]\s*(-?[\d.eE+-]+),", path)]
    return max(xs) - min(xs), density


def run_instance(path: Path, time_limit_s: float, seed: int = 0,
                 workers: int | None = None) -> tuple[int, float, float, float, float]:
    """Pack one instance: (items, our length, our density, overlap area, seconds)."""
    t0 = time.perf_counter()
    data = json.loads(path.read_text())
    pieces = [Piece(Polygon(i["shape"]["data"]), tuple(float(a) for a in i["allowed_orientations"]),
                    int(i["demand"])) for i in data["items"]]
    height = float(data["strip_height"])
    layout = pack_strip(pieces, height, time_limit_s=time_limit_s, seed=seed, workers=workers)
    secs = time.perf_counter() - t0
    polys = placed_polygons(pieces, layout)
    assert len(polys) == sum(p.demand for p in pieces), f"{path.stem}: items left out"
    length = max(p.bounds[2] for p in polys) - min(p.bounds[0] for p in polys)
    area = sum(p.area for p in polys)
    overlap = area - shapely.union_all(polys).area
    assert min(p.bounds[1] for p in polys) >= -1e-6 * height
    assert max(p.bounds[3] for p in polys) <= height + 1e-6 * height
    return len(polys), length, area / (length * height), overlap, secs


def main(argv: list[str]) -> int:
    """Run the ESICUP instances (or those named) and print one table."""
    ap = argparse.ArgumentParser(prog="bench nesting2d")
    ap.add_argument("--time-limit", type=float, default=50.0, help="seconds per instance")
    ap.add_argument("--quick", action="store_true", help="3 s per instance")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="solver threads (default: one per core)")
    args = ap.parse_args(argv)
    root = bench.shared_benchmarks()
    if root is None:
        return 0
    data = root / "nesting2d" / "data"
    tl = 3.0 if args.quick else args.time_limit
    print("data: ../shared/benchmarks/nesting2d (ESICUP instances via JeroenGar/sparrow, MIT); reference = "
          "density of data/records/final_best_<name>.svg (best recorded layout)")
    print(f"{'instance':10s} {'items':>5s} {'length':>10s} {'best len':>10s} {'density':>7s} {'best':>6s} "
          f"{'ratio':>6s} {'overlap':>7s} {'time_s':>6s}")
    ratios = []
    for name in ESICUP:
        if args.only and name not in args.only:
            continue
        n, length, dens, overlap, secs = run_instance(data / "input" / f"{name}.json", tl, seed=args.seed,
                                                      workers=args.workers)
        best_len, best = record(data / "records" / f"final_best_{name}.svg")
        ratios.append(dens / best)
        print(f"{name:10s} {n:5d} {length:10.3f} {best_len:10.3f} {dens:7.3f} {best:6.3f} {dens / best:6.3f} "
              f"{overlap:7.1e} {secs:6.1f}", flush=True)
    if ratios:
        print(f"mean density ratio ours/best over {len(ratios)} instances: {float(np.mean(ratios)):.3f} "
              f"(target >= 0.90); worst {min(ratios):.3f}")
    return 0
