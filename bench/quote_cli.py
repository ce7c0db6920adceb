"""`fabgrid quote` as a person runs it (issue 15): one process per quote, a 100k-triangle STL over the shipped network.

Part: the torus of bench/quote.py (trimesh.creation.torus, 500 x 100 sections = 100,000 triangles, 80 mm across).
Each repeat runs `fabgrid quote PART --material M --json` as a new process (imports, the shipped data, load, DFM
analysis, slicing, 79 sites with price breaks) and, in the same run, the reference process
`python -c "import trimesh; trimesh.load(PART)"` (reading the file with the usual mesh library). Prints median wall
and CPU seconds (user + system of the process), the ratio to the reference and the issue's target (1.0 s wall).
`--before SRC` adds rows for another version of the code in the same run (SRC: its `src` directory, first on
PYTHONPATH), e.g. `git archive HEAD~3 src | tar -x -C /tmp/before` then `--before /tmp/before/src`.
Usage: python -m bench quote_cli [--repeat N] [--material M ...] [--before SRC].
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.0


def _run(cmd: list[str], src: str | None = None) -> tuple[float, float]:
    """(wall s, CPU s) of one process run to its end (with `src` first on PYTHONPATH); its output is dropped."""
    env = dict(os.environ, PYTHONPATH=src) if src else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _fabgrid() -> list[str]:
    """The `fabgrid` script beside this interpreter (what a person runs), else `python -m fabgrid.cli`."""
    script = Path(sys.executable).with_name("fabgrid")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "fabgrid.cli"]


def main(argv: list[str]) -> int:
    """Print one row per material and the reference row; rc 1 when a median wall time misses the target."""
    ap = argparse.ArgumentParser(prog="bench quote_cli")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--material", action="append", default=None, help="default: fdm_pla and sla_standard")
    ap.add_argument("--before", default=None, help="src directory of another version, quoted in the same run")
    args = ap.parse_args(argv)
    materials = args.material or ["fdm_pla", "sla_standard"]
    versions = [("", None)] + ([("before: ", args.before)] if args.before else [])

    import trimesh

    mesh = trimesh.creation.torus(major_radius=30.0, minor_radius=10.0, major_sections=500, minor_sections=100)
    with tempfile.TemporaryDirectory() as tmp:
        stl = Path(tmp) / "torus100k.stl"
        mesh.export(stl)
        reference = [sys.executable, "-c", f"import trimesh; trimesh.load({str(stl)!r})"]
        rows = [(label + m, m, src) for label, src in versions for m in materials]
        runs: dict[str, list[tuple[float, float]]] = {"reference": []}
        runs.update({name: [] for name, _, _ in rows})
        loads = []
        _run(reference)  # warm the file cache and the bytecode once, for every version
        for _, m, src in rows:
            _run([*_fabgrid(), "quote", str(stl), "--material", m, "--json"], src)
        for _ in range(args.repeat):  # interleaved, so that other work on the machine weighs on all alike
            runs["reference"].append(_run(reference))
            for name, m, src in rows:
                runs[name].append(_run([*_fabgrid(), "quote", str(stl), "--material", m, "--json"], src))
            loads.append(os.getloadavg()[0])
    ref_wall = statistics.median(w for w, _ in runs["reference"])
    ref_cpu = statistics.median(c for _, c in runs["reference"])
    print(f"part: generated torus, {len(mesh.faces):,} triangles, bbox {mesh.extents.round(1).tolist()} mm; "
          f"{args.repeat} runs each, medians; load average {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: every process compiles fabgrid's modules again (an installed package "
              "reads their bytecode); unset it, e.g. with PYTHONPYCACHEPREFIX=/tmp/pyc, to time that")
    print(f"{'process':58s} {'wall s':>7s} {'cpu s':>7s} {'wall/ref':>9s} {'cpu/ref':>8s} {'target s':>9s}")
    print(f"{'python -c import trimesh; trimesh.load(part)':58s} {ref_wall:7.3f} {ref_cpu:7.3f} {1.0:9.2f} {1.0:8.2f}")
    worst = 0
    for name, m, src in rows:
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        if src is None:
            worst = max(worst, 0 if wall <= TARGET_S else 1)
        label = name.removesuffix(m) + f"fabgrid quote part --material {m} --json"
        print(f"{label:58s} {wall:7.3f} {cpu:7.3f} {wall / ref_wall:9.2f} {cpu / ref_cpu:8.2f} {TARGET_S:9.1f}")
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
