"""Benchmark of the network simulator: 30 days of the whole shipped network, >= 20,000 orders, per policy.

Reference: the performance contract of issue 9 (<= 180 s per policy on the 2-core machine). Data set:
the shipped network (data/sites.yaml) and a part library generated with trimesh.creation, plus the
watertight meshes of ../shared/benchmarks/meshes (trimesh test models, MIT) when present.
Usage: python -m bench sim [--days 30] [--parts 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from bench import shared_benchmarks

LIMIT_S = 180.0


def main(argv: list[str]) -> int:
    """Run both policies once and print wall time against the contract."""
    ap = argparse.ArgumentParser(prog="bench sim")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--parts", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from fabgrid.data import load_network
    from fabgrid.sim.config import load_params
    from fabgrid.sim.library import build_library
    from fabgrid.sim.run import Setup, run_policy

    network = load_network()
    params = load_params()
    shared = shared_benchmarks()
    meshes = shared / "meshes" if shared is not None else None
    t0 = time.perf_counter()
    lib = build_library(network, params, n_parts=args.parts, mesh_dir=meshes)
    lib_s = time.perf_counter() - t0
    print(f"part library: {len(lib.parts)} parts ({args.parts} generated + watertight meshes of "
          f"{meshes if meshes else 'none'}), costing facts and packing density in {lib_s:.1f} s; "
          f"density: {lib.density_source}")
    setup = Setup(network, params, lib, args.days)
    rows = []
    for policy in ("traditional", "fabgrid"):
        _, m = run_policy(setup, policy, args.seed)
        rows.append((policy, m["orders"], m["parts_good"], m["allocation_s"], m["sequencing_plans"],
                     m["sequencing_s"], m["wall_s"]))
    print(f"\nsimulate {args.days} days, {len(network.sites)} sites, "
          f"{sum(len(s.machines) for s in network.sites.values())} machines, seed {args.seed}")
    print("(alloc s: time in network.solve.allocate; plans / seq s: calls of scheduling.pool and their time)")
    print(f"{'policy':<12} {'orders':>8} {'good parts':>11} {'alloc s':>8} {'plans':>7} {'seq s':>7} {'wall s':>8} "
          f"{'limit s':>8} {'ratio':>6}")
    for policy, orders, parts, alloc, plans, seq, wall in rows:
        print(f"{policy:<12} {orders:>8} {parts:>11.0f} {alloc:>8.1f} {plans:>7} {seq:>7.1f} {wall:>8.1f} "
              f"{LIMIT_S:>8.0f} {wall / LIMIT_S:>6.2f}")
    ok = all(r[1] >= 20_000 for r in rows) or args.days < 30
    return 0 if ok else 1
