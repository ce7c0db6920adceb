"""CLI commands of machine data: `kpi` (ISO 22400-2 KPIs from an events file), `fleet` (simulated
machines publishing over MQTT or into a file) and `ingest` (MQTT / OPC UA into the database or a file).

Engines and the MQTT/OPC UA clients are imported inside the commands so that `fabgrid --help` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fabgrid.cli._common import emit_json, err_console, table
from fabgrid.errors import InputError

if TYPE_CHECKING:
    from fabgrid.domain.catalog import Network

PERIODS = {"none": None, "hour": 3600.0, "shift": -1.0, "day": 86400.0, "week": 7 * 86400.0}
_KPI_COLUMNS = ("availability", "effectiveness", "quality_ratio", "oee", "nee", "technical_efficiency",
                "setup_rate", "scrap_ratio", "first_pass_yield", "throughput_rate_per_h",
                "energy_kwh_per_good_unit")


def _network() -> Network | None:
    try:
        from fabgrid.data import load_network

        return load_network()
    except (ImportError, InputError, OSError):
        return None


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    from fabgrid.telemetry.events import parse_ts

    return parse_ts(value, name)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def kpi(
    events: Path | None = typer.Argument(None, help="JSON-lines events file (see --schema)"),
    t_from: str | None = typer.Option(None, "--from", help="window start, ISO 8601 (default: first event)"),
    t_to: str | None = typer.Option(None, "--to", help="window end, ISO 8601 (default: last event)"),
    period: str = typer.Option("none", "--period", help="split the window: none, hour, shift, day, week"),
    site: str | None = typer.Option(None, "--site", help="only this site (needed by --period shift)"),
    schema: bool = typer.Option(False, "--schema", help="print the JSON Schema of one event line and exit"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """ISO 22400-2 KPIs (availability, effectiveness, quality, OEE, NEE, ...) per machine, site, network."""
    from fabgrid.domain.telemetry import event_json_schema

    if schema:
        emit_json(event_json_schema())
        return
    if events is None:
        raise InputError("no events file given", hint="fabgrid kpi EVENTS.jsonl (format: --schema)",
                         code="telemetry.file")
    if period not in PERIODS:
        raise InputError(f"--period {period!r} is not one of {', '.join(PERIODS)}", hint="e.g. --period day",
                         code="telemetry.period")
    from fabgrid.telemetry.events import read_jsonl, restrict_to_site
    from fabgrid.telemetry.kpi import compute
    from fabgrid.telemetry.state import fixed_periods, shift_periods

    cols = read_jsonl(events)
    network = _network()
    if site is not None:
        cols = restrict_to_site(cols, site)
    span = cols.time_range()
    lo, hi = _time(t_from, "--from"), _time(t_to, "--to")
    if span is None and (lo is None or hi is None):
        raise InputError(f"{events} has no events", hint="give --from and --to, or a file with events",
                         code="telemetry.empty")
    lo = span[0] if lo is None and span else lo
    hi = span[1] if hi is None and span else hi
    assert lo is not None and hi is not None
    if period == "shift":
        if site is None or network is None or site not in network.sites:
            raise InputError("--period shift needs --site with a site of the network (its shift calendar)",
                             hint="e.g. --period shift --site <site id>", code="telemetry.period")
        periods = shift_periods(network.sites[site].calendar, lo, hi)
    else:
        periods = fixed_periods(lo, hi, PERIODS[period])
    result = compute(cols, periods)
    factors = {s.id: s.grid_co2_kg_per_kwh for s in network.sites.values()} if network else None
    rows = result.rows(factors)
    if as_json:
        from datetime import UTC, datetime

        doc: dict[str, Any] = {"from": datetime.fromtimestamp(float(periods.edges[0]), UTC),
                               "to": datetime.fromtimestamp(float(periods.edges[-1]), UTC),
                               "period": period, "machines": [], "sites": [], "network": []}
        for r in rows:
            doc[{"machine": "machines", "site": "sites", "network": "network"}[r.scope]].append(r)
        emit_json(doc)
        return
    _kpi_table(rows, periods.edges[0], periods.edges[-1], len(result.machines), periods.n)


def _kpi_table(rows: list[Any], lo: float, hi: float, n_machines: int, n_periods: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from fabgrid.cli._common import console

    t = Table(title=f"ISO 22400-2 KPIs, % ({n_machines} machines, {n_periods} period(s))")
    for c in ("scope", "key", "period", "A", "E", "Q", "OEE", "NEE", "TE", "setup", "scrap", "FPY",
              "units/h", "kWh/good", "CO2 kg"):
        t.add_column(c, no_wrap=True, justify="left" if c in ("scope", "key", "period") else "right")
    for r in rows:
        whole = (r.period_start.timestamp(), r.period_end.timestamp()) == (lo, hi)
        t.add_row(r.scope, r.key, "all" if whole else r.period_start.strftime("%Y-%m-%d %H:%M"),
                  *(_pct(getattr(r, c)) for c in _KPI_COLUMNS[:9]),
                  _fmt(r.throughput_rate_per_h), _fmt(r.energy_kwh_per_good_unit), _fmt(r.co2_kg))
    # a pipe gets the whole table rather than 80 columns of ellipses
    (console if console.is_terminal else Console(width=240)).print(t)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def fleet(
    site: str = typer.Option(..., "--site", help="site id of the network whose machines publish"),
    mqtt_url: str | None = typer.Option(None, "--mqtt", envvar="FABGRID_MQTT_URL", help="broker, mqtt://host:port"),
    out: Path | None = typer.Option(None, "--out", help="write the events to this JSON-lines file instead"),
    duration_s: float | None = typer.Option(None, "--duration", help="stop after this many seconds"),
    rate_hz: float = typer.Option(50.0, "--rate", help="messages/s in total (0: no pacing)"),
    count: int | None = typer.Option(None, "--count", help="stop after this many messages"),
    seed: int = typer.Option(0, "--seed", help="random seed (same seed, same stream)"),
    sample_s: float = typer.Option(60.0, "--sample-s", help="simulated seconds between sensor samples"),
    start: str | None = typer.Option(None, "--start", help="simulated start time (default: now)"),
    fmt: str = typer.Option("json", "--format",
                            help="json (fabgrid/<site>/<machine>/<kind>) or sparkplug (Sparkplug B: the site "
                                 "is the group, an edge node <group>-edge, the machines its devices)"),
    group: str | None = typer.Option(None, "--group", help="Sparkplug group id (default: the site id)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Simulate every machine of a site: states, jobs with counts, layers, temperatures, power."""
    from fabgrid.telemetry.fleet import SimMachine, fleet_events, run_fleet
    from fabgrid.telemetry.mqtt import Broker, Publisher

    network = _network()
    if network is None:
        raise InputError("the network data could not be loaded", hint="check src/fabgrid/data",
                         code="telemetry.network")
    if site not in network.sites:
        raise InputError(f"unknown site {site!r}", hint=f"known sites: {', '.join(sorted(network.sites))}",
                         code="telemetry.site")
    s = network.sites[site]
    machines = [SimMachine(s.id, m.id, network.machine_model(m)) for m in s.machines]
    if duration_s is None and count is None and out is not None:
        raise InputError("--out needs --count or --duration", hint="e.g. --count 100000",
                         code="telemetry.fleet")
    if fmt not in ("json", "sparkplug"):
        raise InputError(f"--format {fmt!r} is not json or sparkplug", hint="e.g. --format sparkplug",
                         code="telemetry.fleet")
    if fmt == "sparkplug" and out is not None:
        raise InputError("--format sparkplug publishes over MQTT; --out writes JSON lines",
                         hint="give --mqtt URL with --format sparkplug", code="telemetry.fleet")
    t0 = _time(start, "--start")
    t0 = time.time() if t0 is None else t0
    events = fleet_events(machines, seed=seed, sample_s=sample_s, start_s=t0)
    extra: dict[str, Any] = {}
    if out is not None:
        with out.open("w", encoding="utf-8") as fh:

            def write(e: dict[str, Any]) -> None:
                fh.write(json.dumps(e, separators=(",", ":")) + "\n")

            stats = run_fleet(events, write, rate_hz=rate_hz if duration_s is not None else 0.0,
                              duration_s=duration_s, count=count)
        where = str(out)
    else:
        if mqtt_url is None:
            raise InputError("no MQTT broker given", hint="--mqtt mqtt://127.0.0.1:1883 (or --out FILE)",
                             code="telemetry.mqtt_url")
        import os

        from fabgrid.telemetry.mqtt_wire import ConnectionLost

        try:
            pub = Publisher(Broker.from_url(mqtt_url), f"fabgrid-fleet-{site}-{os.getpid()}")
        except ConnectionLost as exc:
            raise InputError(f"could not connect to the MQTT broker at {mqtt_url}: {exc}",
                             hint="check the URL and that the broker runs (e.g. mosquitto -p 1883)",
                             code="telemetry.mqtt_connect") from None
        try:  # publish() waits while the broker has not acknowledged `max_inflight` messages
            if fmt == "sparkplug":
                stats, extra = _sparkplug_fleet(pub, group or site, machines, events, t0, rate_hz=rate_hz,
                                                duration_s=duration_s, count=count, wait=pub.wait)
            else:
                stats = run_fleet(events, lambda e: pub.publish(e["site"], e["machine"], e), rate_hz=rate_hz,
                                  duration_s=duration_s, count=count, wait=pub.wait)
        finally:
            ok = pub.close()
        stats.unacked = 0 if ok else pub.backlog()
        where = mqtt_url
    doc = {"site": site, "machines": len(machines), "published": stats.published, "to": where,
           "elapsed_s": round(stats.elapsed_s, 3), "unacked": stats.unacked,
           "rate_hz": round(stats.published / stats.elapsed_s, 1) if stats.elapsed_s else None, **extra}
    if as_json:
        emit_json(doc)
    else:
        table("fleet", ("key", "value"), doc.items())


def _sparkplug_fleet(pub: Any, group: str, machines: list[Any], events: Any, t0: float,
                     **run: Any) -> tuple[Any, dict[str, Any]]:
    """Publish the fleet's events as one Sparkplug B edge node (NBIRTH, DBIRTHs, DDATA, NDEATH)."""
    from fabgrid.telemetry.fleet import load_profiles, run_fleet
    from fabgrid.telemetry.sparkplug_edge import SparkplugEdge

    profiles = load_profiles()
    devices = {m.machine: tuple(profiles[m.model.process].temperatures) if m.model.process in profiles else ()
               for m in machines}
    edge = SparkplugEdge(pub.publish_raw, group, f"{group}-edge", devices)
    edge.start(int(t0 * 1000))
    last: list[str] = []

    def send(e: dict[str, Any]) -> None:
        edge.publish(e)
        last[:] = [str(e["ts"])]

    try:
        stats = run_fleet(events, send, **run)
    finally:
        from fabgrid.telemetry.sparkplug import iso_to_ms

        edge.close(iso_to_ms(last[0]) if last else None)
    return stats, {"format": "sparkplug", "group": group, "edge_node": edge.node, "messages": edge.messages}


def ingest(
    mqtt_url: str | None = typer.Option(None, "--mqtt", envvar="FABGRID_MQTT_URL", help="broker, mqtt://host:port"),
    opcua_url: str | None = typer.Option(None, "--opcua", help="OPC UA server opc.tcp://host:port"),
    site: str | None = typer.Option(None, "--site", help="site whose machines the OPC UA server serves"),
    database_url: str | None = typer.Option(None, "--database-url", help="default: FABGRID_DATABASE_URL"),
    out: Path | None = typer.Option(None, "--out", help="write JSON lines (too)"),
    duration_s: float | None = typer.Option(None, "--duration", help="stop after this many seconds"),
    idle_exit_s: float | None = typer.Option(None, "--idle-exit", help="stop after N s without messages"),
    expect: int | None = typer.Option(None, "--expect", help="stop once this many new events are stored"),
    client_id: str = typer.Option("fabgrid-ingest", "--client-id", help="MQTT client id (session)"),
    batch_size: int = typer.Option(5000, "--batch-size", help="events per database transaction (1..65535)"),
    sparkplug: bool = typer.Option(True, "--sparkplug/--no-sparkplug",
                                   help="also read Sparkplug B (spBv1.0/#) besides fabgrid/# JSON"),
    sparkplug_mapping: Path | None = typer.Option(
        None, "--sparkplug-mapping", help="Sparkplug metric -> event mapping (YAML; default: the shipped one, "
                                          "data/telemetry/sparkplug_mapping.yaml)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Ingest machine events (QoS 1, persistent session, deduplicated by message id) into the database."""
    from dataclasses import asdict

    from fabgrid.config import load_settings
    from fabgrid.services.telemetry import IngestTarget, make_sink, run_ingest

    if (mqtt_url is None) == (opcua_url is None):
        raise InputError("give exactly one source: --mqtt URL or --opcua URL",
                         hint="e.g. fabgrid ingest --mqtt mqtt://127.0.0.1:1883", code="telemetry.source")
    db = database_url or (None if out is not None else load_settings().database_url)
    target = IngestTarget(database_url=db, out=out)
    if mqtt_url is not None:
        err_console.print(f"ingesting {mqtt_url} -> {db or out} (Ctrl-C to stop)")
        stats: Any = run_ingest(mqtt_url, target, client_id=client_id, duration_s=duration_s,
                                idle_exit_s=idle_exit_s, batch_size=batch_size, expect=expect,
                                sparkplug=sparkplug, sparkplug_mapping=sparkplug_mapping)
        if stats.connects == 0:
            raise InputError(f"could not connect to the MQTT broker at {mqtt_url}",
                             hint="check the URL and that the broker runs (e.g. mosquitto -p 1883)",
                             code="telemetry.mqtt_connect")
    else:
        import asyncio

        from fabgrid.telemetry.opcua import OpcUaMachine, OpcUaSource

        network = _network()
        if site is None or network is None or site not in network.sites:
            raise InputError("--opcua needs --site with a site of the network", hint="e.g. --site <site id>",
                             code="telemetry.site")
        machines = [OpcUaMachine(site, m.id, m.model) for m in network.sites[site].machines]
        source = OpcUaSource(str(opcua_url), machines, make_sink(target))
        try:
            stats = asyncio.run(source.run(duration_s=duration_s))
        except KeyboardInterrupt:
            stats = source.stats
        except OSError as exc:
            raise InputError(f"cannot reach OPC UA server {opcua_url}: {exc}", hint="check the URL",
                             code="telemetry.opcua_connect") from None
    doc = asdict(stats)
    if as_json:
        emit_json(doc)
    else:
        rows = [(k, v) for k, v in doc.items() if not isinstance(v, list | dict)]
        rows += [(f"{name}.{k}", v) for name, fam in doc.get("families", {}).items() for k, v in fam.items()
                 if not isinstance(v, list)]
        table("ingest", ("key", "value"), rows)
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add `kpi`, `fleet` and `ingest` to the fabgrid app."""
    app.command("kpi")(kpi)
    app.command("fleet")(fleet)
    app.command("ingest")(ingest)
