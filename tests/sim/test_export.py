"""Telemetry export of a simulated run: valid kpi format, unique ids, KPIs equal to the sim's own."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fabgrid.cli import app
from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import SimParams
from fabgrid.domain.telemetry import EVENT_ADAPTER
from fabgrid.errors import InputError
from fabgrid.sim.config import parse_disruptions
from fabgrid.sim.export import EventExport, live_events, write_jsonl
from fabgrid.sim.library import Library
from fabgrid.sim.model import World
from fabgrid.sim.run import Setup, run_policy, spawn_seeds
from fabgrid.telemetry.events import read_jsonl

DAYS = 3
# A closure interrupts builds and puts machines offline; it starts mid-run so every state occurs.
CLOSURE = "site:cs-jingkai-01:closed:day1-1"
# Relative tolerance of the KPI comparison: event times are rounded to the millisecond, which moves
# each state's duration by < 1 ms (runs of many machine-days: differences of order 1e-9).
RTOL = 1e-6


@pytest.fixture(scope="module")
def run(network: Network, params: SimParams, library: Library, sites: tuple[str, ...],
        tmp_path_factory: pytest.TempPathFactory) -> tuple[World, dict[str, object], Path, int]:
    setup = Setup(network, params, library, DAYS, parse_disruptions(CLOSURE, network, DAYS), sites=sites,
                  rate_scale=0.2)
    world, metrics = run_policy(setup, "fabgrid", 2)
    path = tmp_path_factory.mktemp("export") / "events.jsonl"
    n = write_jsonl(world, path, "t")
    return world, metrics, path, n


def test_every_line_is_a_valid_event_with_a_unique_id(run: tuple[World, dict[str, object], Path, int]) -> None:
    world, _, path, n = run
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == n > 0
    events = [EVENT_ADAPTER.validate_json(line) for line in lines]  # the schema of `fabgrid kpi --schema`
    ids = [e.id for e in events]
    assert None not in ids and len(set(ids)) == len(ids)
    assert {e.type for e in events} == {"state", "power", "count"}
    assert {e.state.value for e in events if e.type == "state"} >= {"producing", "idle", "setup", "offline",
                                                                   "planned_downtime"}
    stamps = [e.ts for e in events]
    assert stamps == sorted(stamps) and stamps[0] == world.start
    assert {e.machine for e in events} == set(world.machine_ids)
    cols = read_jsonl(path)  # the reader of `fabgrid kpi` accepts the file too
    assert cols.good.sum() == sum(world.rec.good)
    # a state event per change only: no machine repeats its state in consecutive events
    last: dict[str, str] = {}
    for e in events:
        if e.type == "state":
            assert last.get(e.machine) != e.state.value
            last[e.machine] = e.state.value
    assert write_jsonl(world, path.with_name("again.jsonl"), "t") == n
    assert path.with_name("again.jsonl").read_bytes() == path.read_bytes()  # stable ids and order


def _kpi(path: Path, *window: str) -> dict[str, object]:
    res = CliRunner().invoke(app, ["kpi", str(path), "--json", *window])
    assert res.exit_code == 0, res.output
    net: dict[str, object] = json.loads(res.stdout)["network"][0]
    return net


def test_kpi_of_the_export_matches_the_sim(run: tuple[World, dict[str, object], Path, int]) -> None:
    """`fabgrid kpi` on the export over the run's window gives the sim's own figures. Definitions:
    the sim's `availability`, `effectiveness`, `quality_ratio` and `oee` are the ISO 22400 KPIs of the
    same engine (availability = APT / PBT); its `utilisation` is AUPT / all time (offline included)."""
    world, m, path, _ = run
    start = world.start.isoformat().replace("+00:00", "Z")
    end = (world.start.timestamp() + world.end_h * 3600.0)
    from datetime import UTC, datetime

    net = _kpi(path, "--from", start, "--to", datetime.fromtimestamp(end, UTC).isoformat())
    for k in ("availability", "effectiveness", "quality_ratio", "oee"):
        assert math.isclose(float(net[k]), float(m[k]), rel_tol=RTOL), k  # type: ignore[arg-type]
    el = net["elements"]
    assert isinstance(el, dict)
    total = sum(el[k] for k in ("apt_s", "asut_s", "adet_s", "idle_s", "pdot_s", "offline_s"))
    assert math.isclose((el["apt_s"] + el["asut_s"]) / total, float(m["utilisation"]),  # type: ignore[arg-type]
                        rel_tol=RTOL)
    assert el["gq"] == m["parts_good"] and el["sq"] == m["parts_scrap"]
    assert math.isclose(el["energy_kwh"], float(m["energy_kwh"]), rel_tol=RTOL)  # type: ignore[arg-type]
    # Without --from/--to the window ends at the last event, before the run's end: same OEE within 2 %.
    whole = _kpi(path)
    assert math.isclose(float(whole["oee"]), float(m["oee"]), rel_tol=0.02)  # type: ignore[arg-type]


def test_simulate_cli_writes_events(tmp_path: Path, sites: tuple[str, ...]) -> None:
    out = tmp_path / "ev.jsonl"
    res = CliRunner().invoke(app, ["simulate", "--days", "1", "--policy", "both", "--fast", "--parts", "6",
                                   "--sites", ",".join(sites[:4]), "--scale", "0.1", "--events", str(out),
                                   "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    first = spawn_seeds(0, 1)[0]  # the first seed spawned from --seed 0
    assert doc["events"]["policy"] == "fabgrid" and doc["events"]["seed"] == doc["seeds"][0] == first
    assert doc["events"]["events"] == len(out.read_text(encoding="utf-8").splitlines()) > 0
    ids = {e.split(":")[0] for e in (json.loads(x)["id"] for x in out.read_text().splitlines())}
    assert ids == {f"sim-fabgrid-{first}"}
    bad = CliRunner().invoke(app, ["simulate", "--days", "1", "--events", str(tmp_path / "no" / "e.jsonl")])
    assert isinstance(bad.exception, InputError) and "does not exist" in str(bad.exception)


def test_live_events_start_at_the_cut_with_every_machine(network: Network, params: SimParams,
                                                         library: Library, sites: tuple[str, ...]) -> None:
    small = network.model_copy(update={"sites": {s: network.sites[s] for s in sites[:3]}})
    cut = 1_780_000_000.0  # a Thursday afternoon, local time
    it = live_events(small, params, library, cut_s=cut, run_id="live", days=2, warmup_h=6)
    evs = []
    for ev in it:  # until the second run (seed + 1) follows the first
        evs.append(ev)
        if ev["id"].startswith("live.1:") or len(evs) > 50_000:
            break
    machines = {m.id for s in small.sites.values() for m in s.machines}
    first = [e for e in evs if e["ts"] == evs[0]["ts"]]
    assert {e["machine"] for e in first if e["type"] == "state"} == machines  # the snapshot at the cut
    stamps = [EVENT_ADAPTER.validate_python(e).ts.timestamp() for e in evs]
    assert stamps[0] == pytest.approx(cut, abs=1e-3) and stamps == sorted(stamps)
    assert evs[-1]["id"].startswith("live.1:")
    with pytest.raises(InputError):
        next(live_events(small, params, library, cut_s=cut, run_id="x", days=1))
    assert len({e["id"] for e in evs}) == len(evs)
    assert any(e["type"] == "count" for e in evs)


def test_export_is_incremental(network: Network, params: SimParams, library: Library,
                               sites: tuple[str, ...]) -> None:
    setup = Setup(network, params, library, 1, sites=sites[:3], rate_scale=0.2)
    world, _ = run_policy(setup, "fabgrid", 1)
    whole = EventExport(world, "x").take()
    part = EventExport(world, "x")
    chunks = [part.take(until_h=h) for h in (0.0, 5.5, 12.0, 23.9)] + [part.take()]
    assert [e for c in chunks for e in c] == whole
