"""Lights-out printing in a site's planned week (issue 20, item 2): the site's generated demo week
(services.planning.demo_workload: builds filling its machines, one maintenance window per machine; not real
orders) planned by the scheduling engine in calendar time with the site's shifts, once with lights-out (a print
starts inside staffed hours and runs unattended overnight) and once without (a print starts and ends inside one
shift; a build longer than the longest shift cannot be planned). Prints the machines' utilisation over the week
and how many lines' promised dates each plan keeps.
Usage: python -m bench lights_out [--site S] [--seed N] [--time-limit SECONDS] [--json].
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv: list[str]) -> int:
    """Plan the week both ways and print the table (or one JSON document)."""
    ap = argparse.ArgumentParser(prog="bench lights_out")
    ap.add_argument("--site", default="cs-tianxin-01")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=10.0, help="planner seconds per plan")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from fabgrid.services.site_plan import compare_lights_out

    t0 = time.perf_counter()
    r = compare_lights_out(args.site, seed=args.seed, time_limit_s=args.time_limit)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"site {r['site']}, seed {r['seed']}, {r['builds']} builds; workload: {r['workload']}")
    print(f"{'rule':<22}{'utilisation':>12}{'lines kept':>14}{'refused builds':>16}{'status':>10}")
    for name, key in (("with lights-out", "with_lights_out"), ("without lights-out", "without_lights_out")):
        d = r[key]
        print(f"{name:<22}{d['utilisation']:>12.1%}{d['lines_kept']:>8} / {d['lines']:<4}{len(d['refused']):>16}"
              f"{d['status']:>10}")
    on, off = r["with_lights_out"]["utilisation"], r["without_lights_out"]["utilisation"]
    print(f"utilisation ratio with/without: {on / off:.2f}" if off else "without lights-out nothing was planned")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0
