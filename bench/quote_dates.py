"""Promised dates against the sites' schedules: a week of random quotes on the shipped network, each ordered at one
of its offers and tiers, then every site holding an order planned (services.planning) and every line's end held
against the dispatch cut-off of its promised ship date. Prints the share kept (target 100 %) and the median days
from quote to delivery per tier. Parts are generated in code (brackets, bars, plates, cylinders, a torus).
Usage: python -m bench quote_dates [--quotes N] [--seed S] [--time-limit SECONDS].
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

KEPT_TARGET = 1.0


def _parts() -> list[tuple[str, object]]:
    import trimesh

    from fabgrid.costing.part import from_mesh
    from fabgrid.services.quotes import PreparedPart

    meshes = {
        "bracket 60x30x20": trimesh.creation.box((60.0, 30.0, 20.0)),
        "bar 600x40x40": trimesh.creation.box((600.0, 40.0, 40.0)),
        "plate 120x80x6": trimesh.creation.box((120.0, 80.0, 6.0)),
        "cylinder d30x50": trimesh.creation.cylinder(radius=15.0, height=50.0, sections=64),
        "torus 80": trimesh.creation.torus(major_radius=30.0, minor_radius=10.0, major_sections=64,
                                           minor_sections=32),
        "cube 20": trimesh.creation.box((20.0, 20.0, 20.0)),
    }
    return [(name, PreparedPart(from_mesh(m), name)) for name, m in meshes.items()]


def main(argv: list[str]) -> int:
    """Quote, order, plan, check; print the table and return 1 when a promise is broken."""
    ap = argparse.ArgumentParser(prog="bench quote_dates")
    ap.add_argument("--quotes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--time-limit", type=float, default=2.0, help="planner seconds per site")
    args = ap.parse_args(argv)

    import numpy as np

    from fabgrid.costing import leadtime
    from fabgrid.costing.quote import quote_network
    from fabgrid.costing.rates import load_rates
    from fabgrid.data import load_network
    from fabgrid.domain.catalog import ProcessFamily
    from fabgrid.domain.quote import QuoteRequest
    from fabgrid.network.geo import load_logistics
    from fabgrid.services.promises import PromisedLine, check_sites, line_of, occupancy_hours, station_hours
    from fabgrid.services.quotes import routing

    rng = np.random.default_rng(args.seed)
    network, rates, logistics, route = load_network(), load_rates(), load_logistics(), routing()
    cutoff = float(rates.shipping["dispatch_cutoff_h"])
    parts = _parts()
    materials = ["fdm_pla", "fdm_petg", "fdm_abs", "sla_standard", "sls_pa12", "mjf_pa12", "cnc_al6061",
                 "cnc_steel_45", "metal_316l"]
    cities = ["Changsha", "Zhuzhou", "Xiangtan", "Wuhan", "Guangzhou", "Shenzhen", "Shanghai", "Beijing", "Chengdu"]
    # a working week from Monday 2026-12-07 00:00 site time: quotes at random minutes of Monday to Friday
    week0 = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    times = sorted(week0 + timedelta(minutes=int(m)) for m in rng.integers(0, 5 * 1440, args.quotes))
    lines: list[PromisedLine] = []
    station_of: dict[str, dict[str, float]] = {}
    held_of: dict[str, float] = {}
    quoted: list[tuple[str, int]] = []  # (tier, days from quote to delivery)
    no_offer = 0
    versus: dict[str, list[tuple[int, float]]] = {}  # per tier: (days earlier than standard, price ratio)
    t0 = time.perf_counter()
    for i, now in enumerate(times):
        _name, prepared = parts[int(rng.integers(len(parts)))]
        mat = materials[int(rng.integers(len(materials)))]
        qty = int(rng.choice([1, 2, 5, 10, 20, 50, 100]))
        dest = cities[int(rng.integers(len(cities)))]
        # the queue ahead as services.network.open_machine_hours counts it: lines still at their site
        queued: dict[tuple[str, ProcessFamily], float] = {}
        priority: dict[tuple[str, ProcessFamily], float] = {}
        stations: dict[tuple[str, str], float] = {}
        due: dict[tuple[str, ProcessFamily], list[tuple[datetime, float]]] = {}
        held: dict[tuple[str, ProcessFamily], float] = {}
        for ln in lines:
            if leadtime.ship_deadline(ln.ship_date, cutoff) > now:
                key = (ln.site_id, ln.process)
                queued[key] = queued.get(key, 0.0) + ln.machine_h
                h = held_of[ln.id]
                held[key] = held.get(key, 0.0) + h
                if ln.tier == "express":
                    priority[key] = priority.get(key, 0.0) + h
                else:
                    due.setdefault(key, []).append((leadtime.ship_deadline(ln.ship_date, cutoff), h))
                for step, h in station_of[ln.id].items():
                    stations[(ln.site_id, step)] = stations.get((ln.site_id, step), 0.0) + h
        req = QuoteRequest(material=mat, quantity=qty, destination=dest)
        offers, _ = quote_network(prepared.part, network, req, rates, now, queued, {}, logistics, route,  # type: ignore[attr-defined]
                                  priority, stations, queued_due=due, occupancy_h=held)
        if not offers:
            no_offer += 1
            continue
        offer = offers[int(rng.integers(min(3, len(offers))))]
        want = str(rng.choice(["economy", "standard", "standard", "express"]))
        tier = next((t for t in offer.tiers if t.tier == want), None) or next(t for t in offer.tiers
                                                                                if t.tier == "standard")
        lines.append(line_of(f"l{i:03d}", offer, tier.tier, now, tier.ship_date))
        station_of[lines[-1].id] = station_hours(offer)
        held_of[lines[-1].id] = occupancy_hours(offer)
        quoted.append((tier.tier, (tier.delivery_date - leadtime.local_today(now)).days))
        std = next(t for t in offer.tiers if t.tier == "standard")
        for t in offer.tiers:
            if t.tier != "standard":
                versus.setdefault(t.tier, []).append(((std.delivery_date - t.delivery_date).days,
                                                      t.unit_price_cny / std.unit_price_cny))
    quote_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    checks = check_sites(network, lines, cutoff, time_limit_s=args.time_limit)
    plan_s = time.perf_counter() - t1
    kept = sum(c.kept for c in checks)
    share = kept / max(len(checks), 1)
    print(f"network: {len(network.sites)} sites (shipped); {args.quotes} quotes over Mon-Fri of the week of "
          f"2026-12-07, seed {args.seed}; parts: {', '.join(n for n, _ in parts)}")
    print(f"{len(lines)} ordered ({no_offer} quotes without offers), at {len({ln.site_id for ln in lines})} sites; "
          f"quoting {quote_s:.1f} s, planning {plan_s:.1f} s ({args.time_limit:g} s per site)\n")
    print(f"{'tier':10s} {'lines':>5s} {'kept':>5s} {'median days quote->delivery':>28s} {'min':>4s} {'max':>4s}")
    for tier in ("economy", "standard", "express"):
        days = [d for t, d in quoted if t == tier]
        k = [c for c in checks if c.tier == tier]
        if days:
            print(f"{tier:10s} {len(days):5d} {sum(c.kept for c in k):5d} {statistics.median(days):28.1f} "
                  f"{min(days):4d} {max(days):4d}")
    for tier, v in sorted(versus.items()):
        d = statistics.median(d for d, _ in v)
        print(f"{tier} where offered ({len(v)} chosen offers): delivery a median {abs(d):.1f} days "
              f"{'earlier' if d >= 0 else 'later'} than the same offer's standard, price x"
              f"{statistics.median(r for _, r in v):.2f}")
    print(f"\npromises kept by the sites' schedules: {kept}/{len(checks)} = {share:.1%} "
          f"(target {KEPT_TARGET:.0%}, ratio {share / KEPT_TARGET:.3f})")
    late = sorted((c for c in checks if not c.kept), key=lambda c: c.completion - c.deadline, reverse=True)
    for c in late[:10]:
        print(f"  late: {c.line_id} at {c.site_id} ({c.tier}) promised {c.ship_date}, schedule ends "
              f"{c.completion.astimezone(leadtime.SITE_TZ):%Y-%m-%d %H:%M} site time "
              f"({(c.completion - c.deadline).total_seconds() / 3600:.1f} h after the cut-off)")
    return 0 if share >= KEPT_TARGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
