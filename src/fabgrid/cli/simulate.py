"""`fabgrid simulate`: the network simulator comparing the traditional and the fabgrid policy.

Calls services.simulation (imported inside the command with SimPy, trimesh, HiGHS, matplotlib, so that
`fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from fabgrid.cli._common import emit_json, err_console, table


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
    from fabgrid.services.simulation import SimulationOptions
    from fabgrid.services.simulation import simulate as run

    options = SimulationOptions(days=days, seed=seed, policy=policy, seeds=seeds, disruptions=disruptions,
                                sites=sites, parts=parts, scale=scale, meshes=meshes, fast=fast,
                                overrides=tuple(settings or []), report=report, events=events)
    result = run(options, note=None if as_json else err_console.print)
    doc = _clean(result.doc)
    if as_json:
        emit_json(doc)
        return
    pols = result.policies
    keys = list(result.headline) + [k for k in doc["policies"][pols[0]] if k not in result.headline]
    rows = [[k, *(_fmt(doc["policies"][p][k]) for p in pols),
             *([_pct(doc["change"][k])] if doc["change"] else [])] for k in keys]
    cols = ["metric", *pols, *(["change fabgrid vs traditional"] if doc["change"] else [])]
    table(f"fabgrid simulate: {days} days, {seeds} seed(s) from {seed}", cols, rows)


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
