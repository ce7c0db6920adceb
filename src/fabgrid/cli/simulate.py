"""`fabgrid simulate`: the network simulator comparing the traditional and the fabgrid policy.

Imports the simulator (SimPy, trimesh, HiGHS, matplotlib) inside the command so `fabgrid --help` stays fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fabgrid.cli._common import emit_json, err_console, table
from fabgrid.errors import InputError

if TYPE_CHECKING:
    from fabgrid.sim.model import World
    from fabgrid.sim.run import RunHook


def _select_sites(spec: str | None, known: list[str]) -> tuple[str, ...] | None:
    if not spec:
        return None
    if spec.isdigit():
        n = int(spec)
        if n < 1:
            raise InputError("--sites must be >= 1 or a list of site ids", code="sim.sites")
        return tuple(sorted(known)[:n])
    ids = tuple(s.strip() for s in spec.split(",") if s.strip())
    bad = [s for s in ids if s not in known]
    if bad:
        raise InputError(f"--sites: unknown site(s) {', '.join(bad)}",
                         hint=f"use site ids such as {', '.join(sorted(known)[:3])}, or a count", code="sim.sites")
    return ids


def _clean(v: Any) -> Any:
    """NaN and infinities become null (JSON has no NaN); numpy scalars become Python numbers."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def _pct(v: Any) -> str:
    m = v["mean"] if isinstance(v, dict) else v
    if m is None:
        return "n/a"
    if isinstance(v, dict) and v.get("n", 0) > 1 and v["low"] is not None:
        return f"{100 * m:+.1f} % [{100 * v['low']:+.1f}, {100 * v['high']:+.1f}]"
    return f"{100 * m:+.1f} %"


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, dict):
        if v["mean"] is None:
            return "n/a"
        return f"{v['mean']:.4g} ± {v['half_width']:.2g}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def simulate(days: int, seed: int, policy: str, seeds: int, disruptions: str | None, report: Path | None,
             as_json: bool, sites: str | None, parts: int | None, scale: float, meshes: Path | None,
             fast: bool, settings: list[str] | None = None, events: Path | None = None) -> None:
    """Run the simulation and print the comparison; `events`: write the telemetry events of one run."""
    from fabgrid.data import load_network
    from fabgrid.sim.config import load_params, override, parse_disruptions
    from fabgrid.sim.library import build_library
    from fabgrid.sim.run import HEADLINE, Setup, compare

    if policy not in ("traditional", "fabgrid", "both"):
        raise InputError(f"unknown policy {policy!r}", hint="use traditional, fabgrid or both", code="sim.policy")
    if not 1 <= days <= 366:
        raise InputError(f"--days must be 1..366, got {days}", code="sim.days")
    if not 1 <= seeds <= 100:
        raise InputError(f"--seeds must be 1..100, got {seeds}", code="sim.seeds")
    if scale <= 0:
        raise InputError(f"--scale must be > 0, got {scale}", code="sim.scale")
    network = load_network()
    params = override(load_params(), settings or [])
    chosen = _select_sites(sites, list(network.sites))
    dis = parse_disruptions(disruptions, network, days)
    for flag, path in (("--report", report), ("--events", events)):
        if path is not None and not path.parent.exists():
            raise InputError(f"{flag}: folder {path.parent} does not exist", hint="create it first",
                             code="sim.report")
    if not as_json:
        err_console.print("building the part library (costing facts once per part)...")
    lib = build_library(network, params, n_parts=parts, mesh_dir=meshes, measure_packing=not fast)
    setup = Setup(network, params, lib, days, dis, sites=chosen, rate_scale=scale)
    pols = ["traditional", "fabgrid"] if policy == "both" else [policy]
    exported: dict[str, Any] = {}
    doc = compare(setup, pols, seed, seeds,
                  on_run=None if events is None else _exporter(events, pols[-1], seed, exported))
    if exported:
        doc["events"] = exported
        if not as_json:
            err_console.print(f"wrote {exported['events']} events of the {exported['policy']} run (seed {seed}) "
                              f"to {events}; KPIs: fabgrid kpi {events} --from {exported['from']} "
                              f"--to {exported['to']}")
    doc["library"] = {"parts": len(lib.parts), "density_volume": lib.density_volume,
                      "density_plate": lib.density_plate, "density_source": lib.density_source}
    doc["disruptions"] = [d.model_dump(mode="json") for d in dis]
    doc["sites"] = len(chosen) if chosen else len(network.sites)
    doc["overrides"] = list(settings or [])
    if report is not None:
        from fabgrid.sim.report import write_report

        pngs = write_report(doc, params, report)
        doc["report"] = {"html": str(report), "png": [str(p) for p in pngs]}
    runs = doc.pop("runs")
    doc["per_seed"] = {p: [{k: v for k, v in r.items() if k != "daily"} for r in rs] for p, rs in runs.items()}
    doc = _clean(doc)
    if as_json:
        emit_json(doc)
        return
    keys = list(HEADLINE) + [k for k in doc["policies"][pols[0]] if k not in HEADLINE]
    rows = [[k, *(_fmt(doc["policies"][p][k]) for p in pols),
             *([_pct(doc["change"][k])] if doc["change"] else [])] for k in keys]
    cols = ["metric", *pols, *(["change fabgrid vs traditional"] if doc["change"] else [])]
    table(f"fabgrid simulate: {days} days, {seeds} seed(s) from {seed}", cols, rows)


def _exporter(path: Path, policy: str, seed: int, out: dict[str, Any]) -> RunHook:
    """A `compare` hook writing the events of run (`policy`, `seed`) to `path`; fills `out`."""
    import time
    from datetime import timedelta

    from fabgrid.sim.export import write_jsonl

    def hook(p: str, s: int, world: World, _metrics: dict[str, Any]) -> None:
        if p != policy or s != seed:
            return
        t0 = time.perf_counter()
        n = write_jsonl(world, path, run_id=f"sim-{p}-{s}")
        end = world.start + timedelta(hours=world.end_h)
        out.update({"file": str(path), "policy": p, "seed": s, "events": n,
                    "from": world.start.isoformat().replace("+00:00", "Z"),
                    "to": end.isoformat().replace("+00:00", "Z"), "wall_s": time.perf_counter() - t0})

    return hook


def register(app: typer.Typer) -> None:
    """Add `simulate`."""

    @app.command("simulate")
    def simulate_cmd(
        days: int = typer.Option(30, "--days", help="simulated days"),
        seed: int = typer.Option(0, "--seed", help="first random seed"),
        policy: str = typer.Option("both", "--policy", help="traditional, fabgrid or both"),
        seeds: int = typer.Option(1, "--seeds", help="number of seeds (>= 5 gives 95 % confidence intervals)"),
        disruptions: str | None = typer.Option(
            None, "--disruptions",
            help="KIND:TARGET:EFFECT:dayA-B,... e.g. site:cs-jingkai-01:closed:day3-6,"
                 "province:Guangdong:logistics:day10-12,material:pa12:short:day5-9, or a JSON file"),
        report: Path | None = typer.Option(None, "--report", help="write an HTML report (and its chart PNGs)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
        sites: str | None = typer.Option(None, "--sites", help="simulate only these site ids (or the first N)"),
        parts: int | None = typer.Option(None, "--parts", help="generated parts in the library (sim.yaml default)"),
        scale: float = typer.Option(1.0, "--scale", help="demand multiplier on sim.yaml orders_per_day"),
        meshes: Path | None = typer.Option(None, "--meshes", help="folder of extra watertight meshes for the library"),
        fast: bool = typer.Option(False, "--fast", help="skip the nesting run; use sim.yaml packing densities"),
        settings: list[str] = typer.Option([], "--set", help="override an assumption: KEY=VALUE, e.g. "
                                           "fabgrid.batch_h=2 (repeatable; keys of data/sim.yaml)"),
        events: Path | None = typer.Option(
            None, "--events", help="write the machines' telemetry events (states, power, part counts) of one "
            "run as JSON lines for `fabgrid kpi`: the --policy given (fabgrid with both), the first seed"),
    ) -> None:
        """Simulate the network under the traditional and the fabgrid policy (SimPy) and compare them."""
        simulate(days, seed, policy, seeds, disruptions, report, as_json, sites, parts, scale, meshes, fast,
                 settings, events)
