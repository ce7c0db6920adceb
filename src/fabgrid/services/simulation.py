"""Use case of simulating the network under the traditional and the fabgrid policy (SimPy) and comparing
them: validates the run's options, builds the part library, runs the seeds, writes the HTML report and the
telemetry events of one run. Thin glue over `fabgrid.sim` with the shipped network handed in; never
imports api, web or cli.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabgrid.errors import InputError

if TYPE_CHECKING:
    from fabgrid.sim.model import World
    from fabgrid.sim.run import RunHook

POLICIES = ("traditional", "fabgrid", "both")


@dataclass(frozen=True)
class SimulationOptions:
    """What to simulate: days, seeds, policy (traditional, fabgrid or both), disruptions, sites, library."""

    days: int = 30
    seed: int = 0
    policy: str = "both"
    seeds: int = 1
    disruptions: str | None = None
    sites: str | None = None
    parts: int | None = None
    scale: float = 1.0
    meshes: Path | None = None
    fast: bool = False
    overrides: Sequence[str] = field(default_factory=tuple)
    report: Path | None = None
    events: Path | None = None


@dataclass(frozen=True)
class Simulation:
    """The comparison document (policies, change, per-seed runs, library, report, events) and its keys."""

    doc: dict[str, Any]
    policies: list[str]
    headline: tuple[str, ...]


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


def _check(o: SimulationOptions) -> None:
    if o.policy not in POLICIES:
        raise InputError(f"unknown policy {o.policy!r}", hint="use traditional, fabgrid or both", code="sim.policy")
    if not 1 <= o.days <= 366:
        raise InputError(f"--days must be 1..366, got {o.days}", code="sim.days")
    if not 1 <= o.seeds <= 100:
        raise InputError(f"--seeds must be 1..100, got {o.seeds}", code="sim.seeds")
    if o.scale <= 0:
        raise InputError(f"--scale must be > 0, got {o.scale}", code="sim.scale")


def simulate(o: SimulationOptions, note: Callable[[str], None] | None = None) -> Simulation:
    """Run the simulation of `o` and compare the policies; `note` hears progress lines (for stderr)."""
    from fabgrid.services.catalog import shipped_network
    from fabgrid.sim.config import load_params, override, parse_disruptions
    from fabgrid.sim.library import build_library
    from fabgrid.sim.run import HEADLINE, Setup, compare

    _check(o)
    say = note or (lambda _line: None)
    network = shipped_network()
    params = override(load_params(), list(o.overrides))
    chosen = _select_sites(o.sites, list(network.sites))
    dis = parse_disruptions(o.disruptions, network, o.days)
    for flag, path in (("--report", o.report), ("--events", o.events)):
        if path is not None and not path.parent.exists():
            raise InputError(f"{flag}: folder {path.parent} does not exist", hint="create it first",
                             code="sim.report")
    say("building the part library (costing facts once per part)...")
    lib = build_library(network, params, n_parts=o.parts, mesh_dir=o.meshes, measure_packing=not o.fast)
    setup = Setup(network, params, lib, o.days, dis, sites=chosen, rate_scale=o.scale)
    pols = ["traditional", "fabgrid"] if o.policy == "both" else [o.policy]
    exported: dict[str, Any] = {}
    doc = compare(setup, pols, o.seed, o.seeds,
                  on_run=None if o.events is None else _exporter(o.events, pols[-1], o.seed, exported))
    if exported:
        doc["events"] = exported
        say(f"wrote {exported['events']} events of the {exported['policy']} run (seed {o.seed}) to {o.events}; "
            f"KPIs: fabgrid kpi {o.events} --from {exported['from']} --to {exported['to']}")
    doc["library"] = {"parts": len(lib.parts), "density_volume": lib.density_volume,
                      "density_plate": lib.density_plate, "density_source": lib.density_source}
    doc["disruptions"] = [d.model_dump(mode="json") for d in dis]
    doc["sites"] = len(chosen) if chosen else len(network.sites)
    doc["overrides"] = list(o.overrides)
    if o.report is not None:
        from fabgrid.sim.report import write_report

        pngs = write_report(doc, params, o.report)
        doc["report"] = {"html": str(o.report), "png": [str(p) for p in pngs]}
    runs = doc.pop("runs")
    doc["per_seed"] = {p: [{k: v for k, v in r.items() if k != "daily"} for r in rs] for p, rs in runs.items()}
    return Simulation(doc=doc, policies=pols, headline=tuple(HEADLINE))


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
