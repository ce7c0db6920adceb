"""Mesh weld and automatic repair over the benchmark meshes: which files changed from "open surface" to
watertight, and that no truly open mesh became "watertight".

For every part file under ../shared/benchmarks/meshes (test models of mikedh/trimesh, MIT) the same
triangles are welded three ways: exactly (bit-identical points only: the loader before issue 17), by
`geometry.load` (plus `merge_close`, points within 2**-32 of the part's size), and by trimesh itself
(`Trimesh(process=False).merge_vertices()`, its 1e-8 rounding), the reference verdict. The automatic
repair (`geometry.repair.auto_repair`) then runs on the loaded mesh. Reported: files watertight under each
weld, files that changed from open to watertight, files whose verdict differs from trimesh's (must be
none in the "we say watertight, trimesh says open" direction), and what the repair did.
Exit status 1 when a truly open mesh is called watertight by the weld.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

import bench


def _soup(path: Path) -> tuple[np.ndarray, float] | None:  # type: ignore[type-arg]
    """The file's triangles (k, 3) in its own unit and the scale to mm, or None (not a mesh file)."""
    from fabgrid.errors import InputError
    from fabgrid.geometry.load import LOADERS, read_part_file, sniff_format
    from fabgrid.geometry.units import UNIT_TO_MM, normalise_unit

    try:
        data = read_part_file(path)
        if not data.strip():
            return None
        soup, unit = LOADERS[sniff_format(data, path.name)](data, path.name)
    except InputError:
        return None
    tris = [np.asarray(t, dtype=np.float64).reshape(-1, 3) for _, t in soup if len(t)]
    if not tris:
        return None
    return np.concatenate(tris), UNIT_TO_MM[normalise_unit(unit)] if unit else 1.0


def _closed(vertices: np.ndarray, faces: np.ndarray) -> bool:  # type: ignore[type-arg]
    from fabgrid.geometry.repair import defects

    d = defects(vertices, faces)
    return d["boundary_edges"] == 0 and d["nonmanifold_edges"] == 0


def one(path: Path) -> dict[str, Any] | None:
    """The verdicts of one file (None when it is not a readable mesh)."""
    import trimesh

    from fabgrid.geometry.load import _unit_guess, merge_close, weld
    from fabgrid.geometry.repair import auto_repair

    got = _soup(path)
    if got is None:
        return None
    points, scale = got
    pts_mm = points * scale
    guessed = _unit_guess(points) if scale == 1.0 else None  # only files without a unit are guessed
    t = time.perf_counter()
    v0, inv0 = weld(pts_mm)
    exact = _closed(v0, inv0.reshape(-1, 3))
    v1, inv1 = merge_close(v0, inv0)
    f1 = inv1.reshape(-1, 3)
    ours = _closed(v1, f1)
    weld_s = time.perf_counter() - t
    ref = trimesh.Trimesh(vertices=points, faces=np.arange(len(points)).reshape(-1, 3), process=False)
    ref.merge_vertices()
    theirs = bool(ref.is_watertight)
    t = time.perf_counter()
    _, _, outcome = auto_repair(v1, f1)
    return {"file": path.name, "triangles": len(f1), "exact": exact, "ours": ours, "trimesh": theirs,
            "weld_s": weld_s, "repair_needed": outcome.needed, "repaired": outcome.applied,
            "repair_reason": outcome.reason, "repair_s": time.perf_counter() - t,
            "boundary_before": outcome.before["boundary_edges"], "guessed": guessed,
            "extent": float(np.ptp(points, axis=0).max()),
            "defects": ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in outcome.before.items() if n)}


def main(argv: list[str]) -> int:
    """`python -m bench mesh_repair [--limit N]`."""
    ap = argparse.ArgumentParser(prog="bench mesh_repair")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (0: all)")
    args, _ = ap.parse_known_args(argv)
    root = bench.shared_benchmarks()
    if root is None:
        return 0
    folder = root / "meshes"
    logging.getLogger("trimesh").setLevel(logging.CRITICAL)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if args.limit:
        files = files[:args.limit]
    rows = [r for r in (one(p) for p in files) if r is not None]
    opened = [r for r in rows if r["ours"] and not r["exact"]]
    false_closed = [r for r in rows if r["ours"] and not r["trimesh"]]
    missed = [r for r in rows if r["trimesh"] and not r["ours"]]
    repaired = [r for r in rows if r["repaired"]]
    refused = [r for r in rows if r["repair_needed"] and not r["repaired"]]
    print(f"data: {folder} ({len(files)} files, {len(rows)} readable meshes; test models of mikedh/trimesh, MIT)")
    print(f"reference: trimesh {__import__('trimesh').__version__} Trimesh(process=False).merge_vertices()"
          ".is_watertight on the same triangles")
    print(f"{'weld':<34}{'watertight':>11}")
    print(f"{'exact (bit-identical points)':<34}{sum(r['exact'] for r in rows):>11}")
    print(f"{'fabgrid (merge_close, 2**-32)':<34}{sum(r['ours'] for r in rows):>11}")
    print(f"{'trimesh merge_vertices':<34}{sum(r['trimesh'] for r in rows):>11}")
    print(f"\nopen surface -> watertight by the weld: {len(opened)} files")
    for r in opened:
        print(f"  {r['file']:<40} {r['triangles']:>8} triangles, {r['boundary_before'] if not r['ours'] else 0} "
              f"boundary edges left")
    print(f"watertight for fabgrid but open for trimesh (must be 0): {len(false_closed)}"
          + "".join(f"\n  {r['file']}" for r in false_closed))
    print(f"watertight for trimesh but open for fabgrid: {len(missed)}" + "".join(f"\n  {r['file']}" for r in missed))
    print(f"\nautomatic repair applied (closed, consistently wound, outward): {len(repaired)} files")
    for r in repaired:
        print(f"  {r['file']:<40} before: {r['defects']}")
    print(f"repair needed but not applied (not safe): {len(refused)} files")
    for r in refused:
        print(f"  {r['file']:<40} {r['repair_reason']}")
    guessed = [r for r in rows if r["guessed"]]
    print(f"\nunit-less files read in another unit by the guess (tiny and thinner than any wall in mm): "
          f"{len(guessed)}")
    for r in guessed:
        print(f"  {r['file']:<40} largest side {r['extent']:.4g} -> read in {r['guessed']}")
    print(f"\nweld time (all files): {sum(r['weld_s'] for r in rows):.2f} s; "
          f"repair: {sum(r['repair_s'] for r in rows):.2f} s")
    return 1 if false_closed else 0
