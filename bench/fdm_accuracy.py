"""FDM estimate accuracy: our print time and filament mass against PrusaSlicer's G-code estimate.

Data set: every watertight mesh of ../shared/benchmarks/meshes (trimesh's test models, MIT) that
fits the largest FDM printer of the catalog, in mm, and that our DFM analysis finds orderable on FDM
(the rows it rejects, e.g. 2 mm test fixtures with walls under 0.8 mm, are listed with the reason);
the same solid saved in several formats is counted once.
Reference: Debian's `prusa-slicer` run headless
with the profile printed by `fabgrid estimate --slicer-config MODEL` (same machine, same settings).
Usage: python -m bench fdm_accuracy, or python -m bench.fdm_accuracy [--machine MODEL] [--material M]
[--jobs N] [--keep DIR] (--keep reuses the G-code of an earlier run when the profile is the same).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import bench

TIME_TARGET = 0.10
MASS_TARGET = 0.05
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass
class Row:
    name: str
    triangles: int
    ours_s: float
    ref_s: float | None
    ours_g: float
    ref_g: float | None
    note: str = ""


def _parse_time(text: str) -> float:
    return float(sum(int(v) * _UNITS[u] for v, u in re.findall(r"(\d+)([dhms])", text)))


def _reference(slicer: str, ini: Path, stl: Path, out: Path) -> tuple[float, float] | str:
    """(time_s, filament_g) from PrusaSlicer, or the reason it gave none."""
    key = hashlib.sha256(ini.read_bytes() + stl.read_bytes()).hexdigest()
    stamp = out.with_suffix(".key")
    if out.is_file() and stamp.is_file() and stamp.read_text() == key:
        return _read_gcode(out)
    out.unlink(missing_ok=True)
    try:
        proc = subprocess.run([slicer, "--load", str(ini), "--export-gcode", str(stl), "--output", str(out)],
                              capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return "slicer timed out"
    if proc.returncode != 0 or not out.is_file():
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "error" in ln.lower()]
        return "slicer failed: " + (lines[-1][-80:] if lines else f"exit {proc.returncode}")
    stamp.write_text(key)
    return _read_gcode(out)


def _read_gcode(out: Path) -> tuple[float, float] | str:
    """(time_s, filament mm3) from the G-code footer; the volume from the filament length (2 decimals
    of mm, far finer than the rounded grams)."""
    text = out.read_text(errors="replace")
    t = re.search(r"; estimated printing time \(normal mode\) = (.*)", text)
    mm = re.search(r"; filament used \[mm\] = ([\d.]+)", text)
    dia = re.search(r"; filament_diameter = ([\d.]+)", text)
    if not t or not mm or not dia:
        return "no estimate in the G-code"
    return _parse_time(t.group(1)), float(mm.group(1)) * math.pi * (float(dia.group(1)) / 2.0) ** 2


def _candidates(folder: Path, bed: tuple[float, float, float]
                ) -> tuple[list[tuple[Path, object]], list[tuple[str, str]], int]:
    """(path, trimesh) of every watertight mesh that fits `bed` and passes FDM DFM, the skipped
    (name, reason) and how many files were looked at."""
    import numpy as np
    import trimesh

    from fabgrid.errors import InputError
    from fabgrid.geometry.load import load_path
    from fabgrid.services.analysis import analyze_file

    out: list[tuple[Path, object]] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[tuple[float, ...], str] = {}
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        try:
            loaded = load_path(path)
        except (InputError, Exception):  # unreadable / unsupported files are not part of this bench
            continue
        mesh = trimesh.Trimesh(loaded.vertices, loaded.faces, process=False)
        if not mesh.is_watertight or mesh.volume <= 0:
            continue
        ext = np.asarray(mesh.extents)
        fits = ext[2] <= bed[2] and ((ext[0] <= bed[0] and ext[1] <= bed[1]) or (ext[1] <= bed[0] and ext[0] <= bed[1]))
        if not fits:
            continue
        # the folder holds the same test solid in several formats: count each geometry once
        key = tuple(float(f"{v:.4g}") for v in (mesh.volume, mesh.area, *sorted(ext)))
        if key in seen:
            skipped.append((path.name, f"same geometry as {seen[key]}"))
            continue
        seen[key] = path.name
        report = analyze_file(path, process="fdm")
        if not report.orderable.get("fdm", False):
            codes = sorted({f.code for f in report.findings if f.severity.value == "error"})
            skipped.append((path.name, "DFM: " + ", ".join(codes)))
            continue
        out.append((path, mesh))
    return out, skipped, len(files)


def main(argv: list[str]) -> int:
    """Run the comparison and print one table; rc 1 when a target is missed."""
    ap = argparse.ArgumentParser(prog="bench fdm_accuracy")
    ap.add_argument("--machine", default=None, help="FDM machine model id (default: the largest FDM printer)")
    ap.add_argument("--material", default="fdm_pla")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", default=None, help="keep the G-code files in this folder")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    data = bench.shared_benchmarks()
    if data is None:
        return 0
    slicer = shutil.which("prusa-slicer")
    if slicer is None:
        print("skipped: prusa-slicer not found (apt-get install prusa-slicer)")
        return 0

    from fabgrid.costing.fdm import fdm_profile, simulate, slicer_ini
    from fabgrid.costing.part import from_mesh
    from fabgrid.costing.rates import load_rates
    from fabgrid.data import load_catalog

    catalog = load_catalog()
    fdm = [m for m in catalog.machine_models.values() if m.process.value == "fdm"]
    machine = (catalog.machine_models[args.machine] if args.machine
               else max(fdm, key=lambda m: (m.build_volume_mm[0] * m.build_volume_mm[1] * m.build_volume_mm[2], m.id)))
    material = catalog.materials[args.material]
    prof = fdm_profile(machine, material, load_rates())
    parts, skipped, looked = _candidates(data / "meshes", machine.build_volume_mm)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fdm_accuracy_"))
    work.mkdir(parents=True, exist_ok=True)
    ini = work / f"{machine.id}.ini"
    ini.write_text(slicer_ini(prof))
    print(f"data: {data / 'meshes'} (trimesh test models, MIT): {len(parts)} watertight meshes fit "
          f"{machine.id} {machine.build_volume_mm} and pass FDM DFM, of {looked} files")
    print(f"reference: {slicer} (PrusaSlicer 2.5, Debian) with {ini.name} from `fabgrid estimate --slicer-config "
          f"{machine.id}`; material {material.id}")

    def run(item: tuple[Path, object]) -> Row:
        path, mesh = item
        stl = work / (path.stem + ".stl")
        mesh.export(stl)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        res = simulate(from_mesh(mesh, name=path.name), prof)  # type: ignore[arg-type]
        ours_ms = (time.perf_counter() - t0) * 1000
        ref = _reference(slicer, ini, stl, work / (path.stem + ".gcode"))
        row = Row(path.name, len(mesh.faces), res.print_time_s, None,  # type: ignore[attr-defined]
                  res.mass_g(material.density_g_cm3), None, f"{ours_ms:.0f} ms")
        if isinstance(ref, str):
            row.note = ref
        else:
            row.ref_s, row.ref_g = ref[0], ref[1] * material.density_g_cm3 / 1000.0
            if row.ref_g <= 0:
                row.note = "the slicer printed nothing"
        return row

    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        rows = list(pool.map(run, parts))

    print(f"\n{'part':32s} {'tris':>7s} {'ours s':>9s} {'slicer s':>9s} {'ratio':>6s} {'ours g':>8s} "
          f"{'slicer g':>8s} {'ratio':>6s}  note")
    t_err: list[float] = []
    g_err: list[float] = []
    for r in rows:
        if r.ref_s is None or r.ref_g is None or r.ref_s <= 0 or r.ref_g <= 0:
            print(f"{r.name:32s} {r.triangles:7d} {r.ours_s:9.0f} {'-':>9s} {'-':>6s} {r.ours_g:8.2f} {'-':>8s} "
                  f"{'-':>6s}  {r.note}")
            continue
        tr, gr = r.ours_s / r.ref_s, r.ours_g / r.ref_g
        t_err.append(abs(tr - 1))
        g_err.append(abs(gr - 1))
        print(f"{r.name:32s} {r.triangles:7d} {r.ours_s:9.0f} {r.ref_s:9.0f} {tr:6.3f} {r.ours_g:8.2f} "
              f"{r.ref_g:8.2f} {gr:6.3f}  {r.note}")
    for name, why in skipped:
        print(f"{name:32s} skipped: {why}")
    if not t_err:
        print("no part could be compared")
        return 1
    mt, mg = statistics.median(t_err), statistics.median(g_err)
    print(f"\n{len(t_err)} parts: time median |error| {mt:.1%} (worst {max(t_err):.1%}, target <= {TIME_TARGET:.0%}); "
          f"mass median |error| {mg:.1%} (worst {max(g_err):.1%}, target <= {MASS_TARGET:.0%})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if (mt <= TIME_TARGET and mg <= MASS_TARGET) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
