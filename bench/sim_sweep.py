"""Benchmark of simulation sweeps: 8 seeds x 2 policies on 1 and on 2 local worker processes (`fabgrid
simulate --seeds 8 --workers W`), with the tables asserted identical (apart from wall times).

Reference: the 1-worker sweep of the same run (one process, runs one after the other). Data set: the shipped
network (data/sites.yaml), a part library of generated parts (trimesh.creation, sim.yaml packing densities),
demand of data/sim.yaml over a short horizon so the whole bench takes about two minutes on 2 cores.
Usage: python -m bench sim_sweep [--days=3] [--parts=20] [--seeds=8] [--workers=1,2] [--seed=0]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any


def _timeless(doc: Any) -> Any:
    from fabgrid.sim.run import TIMED

    if isinstance(doc, dict):
        return {k: _timeless(v) for k, v in doc.items() if k not in TIMED}
    if isinstance(doc, list):
        return [_timeless(v) for v in doc]
    return doc


def main(argv: list[str]) -> int:
    """Run the sweep once per worker count; print wall time, runs per second and speed-up against 1 worker."""
    ap = argparse.ArgumentParser(prog="bench sim_sweep")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--parts", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts; the first is the reference")
    args = ap.parse_args(argv)
    from fabgrid.services.simulation import SimulationOptions, simulate

    counts = [int(w) for w in args.workers.split(",")]
    load0 = os.getloadavg()
    rows = []
    tables = []
    for w in counts:
        opts = SimulationOptions(days=args.days, seed=args.seed, seeds=args.seeds, policy="both", parts=args.parts,
                                 fast=True, workers=w)
        t0 = time.perf_counter()
        doc = simulate(opts).doc
        total_s = time.perf_counter() - t0
        run_s = sum(r["wall_s"] for rs in doc["per_seed"].values() for r in rs)
        rows.append((w, doc["runs"], doc["wall_s"], total_s, run_s))
        tables.append(json.dumps(_timeless(doc), sort_keys=True))
    load1 = os.getloadavg()
    same = all(t == tables[0] for t in tables)
    print(f"simulate {args.days} days of the shipped network, {args.parts} generated parts (sim.yaml densities), "
          f"{args.seeds} seeds spawned from seed {args.seed} x 2 policies; {os.cpu_count()} cores, load average "
          f"{load0[0]:.2f} before, {load1[0]:.2f} after")
    print("(sweep s: the runs, from the first task to the last result; total s: with the part library; "
          "run s: the runs' own wall times added up)")
    print(f"{'workers':>7} {'runs':>5} {'sweep s':>8} {'total s':>8} {'run s':>7} {'runs/s':>7} {'speed-up':>8}")
    ref = rows[0][2]
    for w, runs, sweep_s, total_s, run_s in rows:
        print(f"{w:>7} {runs:>5} {sweep_s:>8.1f} {total_s:>8.1f} {run_s:>7.1f} {runs / sweep_s:>7.2f} "
              f"{ref / sweep_s:>8.2f}")
    print(f"tables identical for {', '.join(map(str, counts))} workers: {'yes' if same else 'NO'}")
    return 0 if same else 1
