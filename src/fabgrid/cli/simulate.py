"""`fabgrid simulate`: the network simulator comparing the traditional and the fabgrid policy.

Calls services.simulation (imported inside the command with SimPy, trimesh, HiGHS, matplotlib, so that
`fabgrid --help` stays fast); never an engine. With `--workers celery` it routes this process's jobs to the
Celery queue `sim` (fabgrid.workers).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fabgrid.cli._common import emit_json, err_console, table

if TYPE_CHECKING:
    from fabgrid.config import Settings


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


def _sim_dispatcher(settings: Settings) -> None:
    """Send this process's jobs (the sweep's runs, kind `sim.run`) to Celery: they go to the queue `sim`."""
    from fabgrid.workers import install_dispatcher

    install_dispatcher(settings)


def _print_table(title: str, doc: dict[str, Any], pols: list[str], headline: tuple[str, ...]) -> None:
    keys = list(headline) + [k for k in doc["policies"][pols[0]] if k not in headline]
    rows = [[k, *(_fmt(doc["policies"][p][k]) for p in pols),
             *([_pct(doc["change"][k])] if doc["change"] else [])] for k in keys]
    cols = ["metric", *pols, *(["change fabgrid vs traditional"] if doc["change"] else [])]
    table(title, cols, rows)


def simulate(days: int, seed: int, policy: str, seeds: int, disruptions: str | None, report: Path | None,
             as_json: bool, sites: str | None, parts: int | None, scale: float, meshes: Path | None,
             fast: bool, settings: list[str] | None = None, events: Path | None = None, workers: str = "1",
             sweeps: list[str] | None = None) -> None:
    """Run the simulation and print the comparison; `events`: write the telemetry events of one run;
    `workers`: local processes or celery; `sweeps`: KEY=V1,V2,... scenarios."""
    from fabgrid.config import load_settings
    from fabgrid.services.simulation import CELERY, SimulationOptions, parse_workers
    from fabgrid.services.simulation import simulate as run

    options = SimulationOptions(days=days, seed=seed, policy=policy, seeds=seeds, disruptions=disruptions,
                                sites=sites, parts=parts, scale=scale, meshes=meshes, fast=fast,
                                overrides=tuple(settings or []), report=report, events=events,
                                workers=parse_workers(workers), sweeps=tuple(sweeps or []))
    config = None
    if options.workers == CELERY:
        config = load_settings()
        if config.broker_url:
            _sim_dispatcher(config)
    result = run(options, note=None if as_json else err_console.print, settings=config)
    doc = _clean(result.doc)
    if as_json:
        emit_json(doc)
        return
    pols = result.policies
    title = f"fabgrid simulate: {days} days, {seeds} seed(s) from {seed}"
    for sc in doc.get("scenarios", [doc]):
        label = f" | {', '.join(sc['set'])}" if "set" in sc else ""
        _print_table(title + label, sc, pols, result.headline)
    err_console.print(f"{doc['runs']} runs in {doc['wall_s']:.1f} s")


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
        workers: str = typer.Option(
            "1", "--workers", help="run the seeds and policies on this many local processes (1..64), or "
            "'celery': on the Celery workers of queue sim (FABGRID_BROKER_URL; `fabgrid worker --queues sim`); "
            "the result is the same for any number"),
        sweeps: list[str] = typer.Option(
            [], "--sweep", help="scenarios: KEY=V1,V2,... (keys of data/sim.yaml, e.g. fabgrid.batch_h=2,4,8; "
            "repeatable: every combination), each run for every seed and policy"),
    ) -> None:
        """Simulate the network under the traditional and the fabgrid policy (SimPy) and compare them."""
        simulate(days, seed, policy, seeds, disruptions, report, as_json, sites, parts, scale, meshes, fast,
                 settings, events, workers, sweeps)
