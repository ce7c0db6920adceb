"""Use case of simulating the network under the traditional and the fabgrid policy (SimPy) and comparing
them: validates the run's options, builds the part library, runs one task per (scenario, policy, seed) on
local processes or as `sim.run` jobs for the Celery workers, writes the HTML report and the telemetry events
of one run. Thin glue over `fabgrid.sim` with the shipped network handed in; never imports api, web or cli.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabgrid.config import Settings
from fabgrid.errors import InputError
from fabgrid.services import jobs

if TYPE_CHECKING:
    from fabgrid.domain.sim import SimDisruption
    from fabgrid.sim.model import World
    from fabgrid.sim.run import RunHook, Setup
    from fabgrid.sim.sweep import RunTask

POLICIES = ("traditional", "fabgrid", "both")
#: `--workers celery`: the runs go to the Celery workers of queue `SIM_QUEUE` as jobs of kind `SIM_JOB`.
CELERY = "celery"
SIM_JOB = "sim.run"
SIM_QUEUE = "sim"  # = services.jobs.QUEUE_OF[SIM_JOB]
#: Most scenarios one sweep runs (each is policies x seeds runs).
MAX_SCENARIOS = 64
#: How long `--workers celery` waits for a worker to take the first run, and how often it looks.
CELERY_START_TIMEOUT_S = 60.0
CELERY_POLL_S = 0.2


@dataclass(frozen=True)
class SimulationOptions:
    """What to simulate: days, seeds, policy (traditional, fabgrid or both), disruptions, sites, library;
    where (`workers`: local processes or ``celery``) and which scenarios (`sweeps`: KEY=V1,V2,...)."""

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
    workers: int | str = 1
    sweeps: Sequence[str] = field(default_factory=tuple)


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


def parse_workers(raw: int | str) -> int | str:
    """`--workers`: a count of local processes (1..64) or ``celery`` (the workers of queue `sim`)."""
    from fabgrid.sim.sweep import MAX_WORKERS

    text = str(raw).strip().lower()
    if text == CELERY:
        return CELERY
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise InputError(f"--workers must be 1..{MAX_WORKERS} or celery, got {raw!r}",
                         hint="give the number of local processes, or celery with FABGRID_BROKER_URL set",
                         code="sim.workers")
    return int(text)


def _sweep_values(item: str) -> tuple[str, list[str]]:
    key, sep, raw = item.partition("=")
    raw = raw.strip()
    if not sep or not key or not raw:
        raise InputError(f"--sweep {item!r}: expected KEY=V1,V2,...", hint="e.g. --sweep fabgrid.batch_h=2,4,8",
                         code="sim.sweep")
    if raw.startswith("["):  # a YAML list, for values that hold commas themselves
        import yaml

        try:
            values = yaml.safe_load(raw)
        except yaml.YAMLError:
            values = None
        if not isinstance(values, list):
            raise InputError(f"--sweep {item!r}: {raw} is not a YAML list", hint="e.g. --sweep 'KEY=[2, 4]'",
                             code="sim.sweep")
        texts = [yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip() for v in values]
    else:
        texts = [v.strip() for v in raw.split(",")]
    if not texts or any(not t for t in texts):
        raise InputError(f"--sweep {item!r}: an empty value", hint="e.g. --sweep fabgrid.batch_h=2,4,8",
                         code="sim.sweep")
    if len(set(texts)) != len(texts):
        raise InputError(f"--sweep {item!r}: a value is named twice", code="sim.sweep")
    return key.strip(), texts


def scenarios(overrides: Sequence[str], sweeps: Sequence[str]) -> list[tuple[str, ...]]:
    """The `--set` list of each scenario: `overrides`, then one value of each `--sweep KEY=V1,V2,...`
    (every combination, the last sweep varying fastest); one scenario without sweeps."""
    import itertools

    parsed = [_sweep_values(item) for item in sweeps]
    keys = [k for k, _ in parsed]
    if len(set(keys)) != len(keys):
        raise InputError("--sweep: a key is swept twice", hint="give all values of a key in one --sweep",
                         code="sim.sweep")
    combos = list(itertools.product(*[[f"{k}={v}" for v in vs] for k, vs in parsed]))
    if len(combos) > MAX_SCENARIOS:
        raise InputError(f"--sweep: {len(combos)} scenarios, more than {MAX_SCENARIOS}",
                         hint="sweep fewer values, or run several sweeps", code="sim.sweep")
    return [tuple(overrides) + combo for combo in combos]


def simulate(o: SimulationOptions, note: Callable[[str], None] | None = None,
             settings: Settings | None = None) -> Simulation:
    """Run the simulation of `o` and compare the policies; `note` hears progress lines (for stderr).

    One run per (scenario, policy, seed), on `o.workers` local processes or, with ``celery``, as jobs of
    queue `sim` for the Celery workers of `settings` (its broker and database); the document is the same
    for any number of workers, apart from the wall times."""
    import time

    from fabgrid.services.catalog import shipped_network
    from fabgrid.sim.config import load_params, override, parse_disruptions
    from fabgrid.sim.library import Library, build_library, library_inputs
    from fabgrid.sim.run import HEADLINE, Setup, run_policy, spawn_seeds, summarize
    from fabgrid.sim.sweep import RunTask, run_local

    _check(o)
    workers = parse_workers(o.workers)
    if workers == CELERY and (settings is None or not settings.broker_url):
        raise InputError("--workers celery needs a broker: FABGRID_BROKER_URL is not set",
                         hint="set FABGRID_BROKER_URL (e.g. redis://127.0.0.1:6379/0) and start "
                              "`fabgrid worker --queues sim`, or give a number of local processes",
                         code="sim.workers")
    say = note or (lambda _line: None)
    network = shipped_network()
    sets = scenarios(o.overrides, o.sweeps)
    if len(sets) > 1 and (o.report is not None or o.events is not None):
        raise InputError("--sweep cannot be combined with --report or --events (one report, one run)",
                         hint="run the scenario you want to see with --set KEY=VALUE and --report/--events",
                         code="sim.sweep")
    all_params = [override(load_params(), list(ov)) for ov in sets]
    chosen = _select_sites(o.sites, list(network.sites))
    dis = parse_disruptions(o.disruptions, network, o.days)
    for flag, path in (("--report", o.report), ("--events", o.events)):
        if path is not None and not path.parent.exists():
            raise InputError(f"{flag}: folder {path.parent} does not exist", hint="create it first",
                             code="sim.report")
    libraries: dict[str, Library] = {}
    setups = []
    for params in all_params:
        key = library_inputs(params)
        if key not in libraries:
            say("building the part library (costing facts once per part)...")
            libraries[key] = build_library(network, params, n_parts=o.parts, mesh_dir=o.meshes,
                                           measure_packing=not o.fast)
        setups.append(Setup(network, params, libraries[key], o.days, dis, sites=chosen, rate_scale=o.scale))
    pols = ["traditional", "fabgrid"] if o.policy == "both" else [o.policy]
    seeds = spawn_seeds(o.seed, o.seeds)
    tasks = [RunTask(i, p, s) for i in range(len(setups)) for s in seeds for p in pols]
    t0 = time.perf_counter()
    done: dict[RunTask, dict[str, Any]] = {}
    exported: dict[str, Any] = {}
    if o.events is not None:  # the exported run needs its world: it runs here, the others wherever
        first = RunTask(0, pols[-1], seeds[0])
        world, m = run_policy(setups[0], first.policy, first.seed)
        _exporter(o.events, first.policy, first.seed, exported)(first.policy, first.seed, world, m)
        done[first] = m
    rest = [t for t in tasks if t not in done]

    def progress(n: int, total: int) -> None:
        say(f"simulated {n}/{total} runs ({len(pols)} policies x {len(seeds)} seeds x {len(setups)} scenarios)")

    if workers == CELERY:
        assert settings is not None
        specs = [_spec(st, ov, o, dis, chosen) for st, ov in zip(setups, sets, strict=True)]
        metrics = run_on_celery(settings, specs, rest, progress)
    else:
        metrics = run_local(setups, rest, int(workers), progress)
    done.update(zip(rest, metrics, strict=True))
    wall_s = time.perf_counter() - t0
    timed_out = sum(1 for m in done.values() if m.get("allocations_unproven", 0) > 0)
    if timed_out:
        say(f"{timed_out} of {len(done)} runs had an allocation end at its time limit: their results depend on "
            "the machine's speed and load (another run, or another number of workers, may differ); "
            "a longer --set fabgrid.allocation_time_limit_s lets them finish")
    docs = []
    for i, st in enumerate(setups):
        runs = {p: [done[RunTask(i, p, s)] for s in seeds] for p in pols}
        d = summarize(o.days, o.seed, seeds, runs)
        d["library"] = {"parts": len(st.library.parts), "density_volume": st.library.density_volume,
                        "density_plate": st.library.density_plate, "density_source": st.library.density_source}
        d["overrides"] = list(sets[i])
        docs.append(d)
    doc = docs[0]
    if exported:
        doc["events"] = exported
        say(f"wrote {exported['events']} events of the {exported['policy']} run (seed {exported['seed']}) to "
            f"{o.events}; KPIs: fabgrid kpi {o.events} --from {exported['from']} --to {exported['to']}")
    for d in docs:
        d["disruptions"] = [x.model_dump(mode="json") for x in dis]
        d["sites"] = len(chosen) if chosen else len(network.sites)
    if o.report is not None:
        from fabgrid.sim.report import write_report

        pngs = write_report(doc, all_params[0], o.report)
        doc["report"] = {"html": str(o.report), "png": [str(p) for p in pngs]}
    for d in docs:
        runs = d.pop("runs")
        # the seeds' mean of each daily series, per policy: what the value-report page draws
        d["daily"] = {p: {k: [sum(r["daily"][k][i] for r in rs) / len(rs) for i in range(len(rs[0]["daily"][k]))]
                          for k in rs[0]["daily"]} for p, rs in runs.items()}
        d["per_seed"] = {p: [{"seed": s, **{k: v for k, v in r.items() if k != "daily"}}
                             for s, r in zip(seeds, rs, strict=True)] for p, rs in runs.items()}
    if len(docs) > 1:
        doc = {"days": o.days, "seed": o.seed, "seeds": seeds, "sweep": [_parse_key(x) for x in o.sweeps],
               "scenarios": [{"set": list(ov[len(o.overrides):]), **d} for ov, d in zip(sets, docs, strict=True)]}
    doc["runs"] = len(tasks)
    doc["runs_time_dependent"] = timed_out
    doc["wall_s"] = wall_s
    return Simulation(doc=doc, policies=pols, headline=tuple(HEADLINE))


def _parse_key(item: str) -> str:
    return item.partition("=")[0].strip()


def _spec(setup: Setup, overrides: Sequence[str], o: SimulationOptions, dis: Sequence[SimDisruption],
          sites: tuple[str, ...] | None) -> dict[str, Any]:
    """What a Celery worker needs to build `setup` again: the options, and the library this process built
    (its packing densities, measured once here, and its part names, checked there)."""
    lib = setup.library
    return {"days": o.days, "overrides": list(overrides), "sites": list(sites) if sites else None,
            "scale": o.scale, "parts": o.parts, "meshes": str(o.meshes) if o.meshes else None,
            "disruptions": [d.model_dump(mode="json") for d in dis],
            "densities": [lib.density_volume, lib.density_plate, lib.density_source],
            "library_parts": [p.name for p in lib.parts]}


@functools.lru_cache(maxsize=8)
def _setup_of(spec_json: str) -> Setup:
    """The setup of a job's spec, built once per worker process (the library takes seconds)."""
    from fabgrid.domain.sim import SimDisruption
    from fabgrid.services.catalog import shipped_network
    from fabgrid.sim.config import load_params, override
    from fabgrid.sim.library import build_library
    from fabgrid.sim.run import Setup

    spec = json.loads(spec_json)
    network = shipped_network()
    params = override(load_params(), list(spec["overrides"]))
    dv, dp, src = spec["densities"]
    lib = build_library(network, params, n_parts=spec["parts"],
                        mesh_dir=Path(spec["meshes"]) if spec["meshes"] else None, densities=(dv, dp, src))
    names = [p.name for p in lib.parts]
    if names != spec["library_parts"]:
        raise InputError(f"this worker built another part library ({len(names)} parts, the sweep has "
                         f"{len(spec['library_parts'])})",
                         hint="run the workers with the same fabgrid version and data, and the --meshes folder "
                              "at the same path on every machine", code="sim.library")
    dis = tuple(SimDisruption.model_validate(d) for d in spec["disruptions"])
    return Setup(network, params, lib, int(spec["days"]), dis,
                 sites=tuple(spec["sites"]) if spec["sites"] else None, rate_scale=float(spec["scale"]))


@jobs.register(SIM_JOB)
def _sim_run(_settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """Job handler: one (policy, seed) run of a sweep; its metrics with NaN as null (JSON has no NaN)."""
    from fabgrid.sim.run import run_policy

    setup = _setup_of(json.dumps(params["spec"], sort_keys=True))
    _, m = run_policy(setup, str(params["policy"]), int(params["seed"]))
    return {"metrics": {k: _no_nan(v) for k, v in m.items()}}


def _no_nan(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_no_nan(x) for x in v]
    return v


def _nan(v: Any) -> Any:
    """The inverse of `_no_nan` for the scalars of a run's metrics (lists of the daily series never hold NaN)."""
    return math.nan if v is None else v


def run_on_celery(settings: Settings, specs: Sequence[dict[str, Any]], tasks: Sequence[RunTask],
                  progress: Callable[[int, int], None]) -> list[dict[str, Any]]:
    """Run `tasks` as jobs (kind `sim.run`) through the installed dispatcher (the entry point routes them to
    queue `sim`) and wait for them in the database; InputError names a failed run, or the missing worker."""
    import time

    from fabgrid.services.platform import migrate_database
    from fabgrid.store.uow import UnitOfWork

    if not tasks:
        return []
    migrate_database(settings.database_url)
    with UnitOfWork(settings.database_url) as uow:
        ids = [jobs.enqueue(uow, SIM_JOB, {"spec": specs[t.scenario], "policy": t.policy, "seed": t.seed},
                            organisation_id=None, user_id=None).id for t in tasks]
        uow.commit()
    for job_id in ids:
        jobs.submit(settings, job_id)
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    claimed = False
    while len(results) < len(ids):
        time.sleep(CELERY_POLL_S)
        with UnitOfWork(settings.database_url) as uow:
            for job_id in ids:
                if job_id in results:
                    continue
                row = uow.jobs.get(job_id, None)
                if row is None:
                    continue
                claimed = claimed or row.status != "queued"
                if row.status == "failed":
                    detail = (row.problem or {}).get("detail", "no detail")
                    t = tasks[ids.index(job_id)]
                    raise InputError(f"simulation run {t.policy} seed {t.seed} (job {job_id}) failed: {detail}",
                                     hint=(row.problem or {}).get("hint") or "see the worker's log",
                                     code="sim.run_failed")
                if row.status == "succeeded" and row.result is not None:
                    results[job_id] = {k: _nan(v) for k, v in row.result["metrics"].items()}
                    progress(len(results), len(ids))
        if not claimed and time.monotonic() - started > CELERY_START_TIMEOUT_S:
            raise InputError(f"no Celery worker took a simulation run within {CELERY_START_TIMEOUT_S:.0f} s",
                             hint=f"start `fabgrid worker --queues {SIM_QUEUE}` with the same FABGRID_BROKER_URL "
                                  "and FABGRID_DATABASE_URL", code="sim.no_worker")
    return [results[j] for j in ids]


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
