"""Hostile-input benchmark: the attack corpus of tests/hostile (every case, heavy ones too) analysed one per
fresh process, with its answer, wall time and peak memory; and the cost per upload of analysing in a
limited child process (`services.analysis.analyze_isolated`) against the in-process path, same run.

Data: tests/hostile/hostile_corpus.py (generated in code); a 12-triangle box and a 40,000-triangle torus
(2 MiB binary STL, the inline-upload threshold). Reference: `analyze_with_part` in this process.
Targets: every case answered (a part or its InputError code), none over 30 CPU s or 1.5 GB peak; isolation
adds < 100 ms per upload. CPU seconds are the figures to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fabgrid.services.analysis import CHILD_NICE

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "hostile"

_RUN_ONE = """
import json, sys, time
from fabgrid.errors import InputError
from fabgrid.services.analysis import analyze_with_part
from fabgrid.data import load_catalog
def kib(key):  # VmHWM / VmRSS of this process (ru_maxrss would carry the parent's over the exec)
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0
catalog = load_catalog()
data = open(sys.argv[1], "rb").read()
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) counts from here: the analysis alone
base = kib("VmRSS")
t, c = time.perf_counter(), time.process_time()
try:
    analyze_with_part(data, sys.argv[2], catalog=catalog)
    code = None
except InputError as exc:
    code = exc.code
except BaseException as exc:
    code = "UNCAUGHT " + type(exc).__name__
peak = kib("VmHWM")
print(json.dumps({"code": code, "s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "peak_mb": peak / 1024, "growth_mb": max(0, peak - base) / 1024, "base_mb": base / 1024}))
"""


def corpus(quick: bool) -> tuple[list[dict[str, object]], int]:
    """Every corpus case in its own process: answer, seconds, peak RSS and its growth during analysis."""
    sys.path.insert(0, str(CORPUS))
    from hostile_corpus import CASES

    rows: list[dict[str, object]] = []
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for c in CASES:
            if c.status == 415 or (quick and c.heavy):
                continue
            path = Path(tmp) / c.filename
            path.write_bytes(c.make())
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _RUN_ONE, str(path), c.filename], capture_output=True,
                                 text=True, timeout=300, cwd=ROOT)
            wall = time.perf_counter() - t
            try:
                doc = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                doc = {"code": f"DIED rc={out.returncode}", "s": wall, "cpu_s": 0.0, "peak_mb": 0.0,
                       "growth_mb": 0.0}
            ok = doc["code"] == c.code and doc["cpu_s"] < 30 and doc["peak_mb"] < 1536
            bad += not ok
            rows.append({"case": c.id, "bytes": path.stat().st_size, "expected": c.code or "ready",
                         "got": doc["code"] or "ready", "s": doc["s"], "cpu_s": doc["cpu_s"], "peak_mb": doc["peak_mb"],
                         "growth_mb": doc["growth_mb"], "ok": ok})
            path.unlink()
    return rows, bad


def upload_cost(repeat: int) -> list[dict[str, object]]:
    """Median wall seconds of one analysis in a limited child vs in this process, same files, same run."""
    import trimesh

    from fabgrid.data import load_catalog
    from fabgrid.services.analysis import analyze_isolated, analyze_with_part

    catalog = load_catalog()
    files = {"box 12 tri": trimesh.creation.box((20, 30, 10)).export(file_type="stl"),
             "torus 40k tri (2 MiB)": trimesh.creation.torus(40, 10, major_sections=200,
                                                              minor_sections=100).export(file_type="stl")}
    analyze_isolated(files["box 12 tri"], "warm.stl", catalog=catalog)  # the forkserver starts once
    rows: list[dict[str, object]] = []
    for label, data in files.items():
        inproc, child, inner = [], [], []
        for _ in range(repeat):
            t = time.perf_counter()
            analyze_with_part(data, "p.stl", catalog=catalog)
            inproc.append(time.perf_counter() - t)
            t = time.perf_counter()
            report, _ = analyze_isolated(data, "p.stl", catalog=catalog)
            child.append(time.perf_counter() - t)
            inner.append(report.timings_s["total"])  # the analysis itself, timed inside the child
        a, b = statistics.median(inproc), statistics.median(child)
        # what isolation adds: fork, hand-over of file and catalog, limits, sending report and part back
        overhead = statistics.median([c - i for c, i in zip(child, inner, strict=True)])
        rows.append({"file": label, "bytes": len(data), "in_process_s": a, "child_s": b, "ratio": b / a,
                     "overhead_ms": overhead * 1e3})
    return rows


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench hostile")
    ap.add_argument("--quick", action="store_true", help="skip the heavy cases; fewer repeats")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cost-only", action="store_true", help="only the per-upload cost of the child")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows, bad = ([], 0) if args.cost_only else corpus(args.quick)
    cost = upload_cost(5 if args.quick else 15)
    if args.json:
        print(json.dumps({"corpus": rows, "upload_cost": cost}, indent=1))
    else:
        print(f"{'case':34} {'bytes':>11} {'answer':22} {'s':>7} {'cpu s':>7} {'peak MB':>8} {'+MB':>7}  ok")
        for r in rows:
            print(f"{r['case']:34} {r['bytes']:>11,} {r['got']!s:22} {r['s']:7.3f} {r['cpu_s']:7.3f} "
                  f"{r['peak_mb']:8.0f} "
                  f"{r['growth_mb']:7.0f}  {'yes' if r['ok'] else 'NO (expected ' + str(r['expected']) + ')'}")
        print(f"{len(rows)} cases, {bad} wrong, {time.perf_counter() - t0:.0f} s in all (peak: RSS of the case's "
              "process, +MB: its growth during the analysis)")
        print(f"\n{'upload (median)':24} {'in process s':>12} {'child s':>8} {'ratio':>6} {'isolation ms':>13}")
        for c in cost:
            print(f"{c['file']:24} {c['in_process_s']:12.3f} {c['child_s']:8.3f} {c['ratio']:6.2f} "
                  f"{c['overhead_ms']:13.1f}")
        print(f"(isolation ms: child wall minus the analysis timed inside it; the child runs at nice "
              f"{CHILD_NICE}, so on a busy machine its wall time also waits for the CPU; load average "
              f"{os.getloadavg()[0]:.1f})")
    worst_added = max(float(c["overhead_ms"]) for c in cost)  # type: ignore[arg-type]
    return 1 if bad or worst_added > 100 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
