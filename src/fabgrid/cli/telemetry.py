"""CLI commands of machine data: `kpi` (ISO 22400-2 KPIs from an events file), `fleet` (simulated
machines publishing over MQTT or into a file) and `ingest` (MQTT / OPC UA into the database or a file).

Calls services.machine_data and services.telemetry (imported inside the commands so that `fabgrid --help`
stays fast); never an engine.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from fabgrid.cli._common import emit_json, err_console, table
from fabgrid.errors import InputError

_KPI_COLUMNS = ("availability", "effectiveness", "quality_ratio", "oee", "nee", "technical_efficiency",
                "setup_rate", "scrap_ratio", "first_pass_yield", "throughput_rate_per_h",
                "energy_kwh_per_good_unit")


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
    from fabgrid.services.machine_data import kpis_of_file

    rep = kpis_of_file(events, t_from=t_from, t_to=t_to, period=period, site=site)
    rows = rep.rows
    if as_json:
        doc: dict[str, Any] = {"from": rep.start, "to": rep.end, "period": period,
                               "machines": [], "sites": [], "network": []}
        for r in rows:
            doc[{"machine": "machines", "site": "sites", "network": "network"}[r.scope]].append(r)
        emit_json(doc)
        return
    _kpi_table(rows, rep.start.timestamp(), rep.end.timestamp(), rep.machines, rep.periods)


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
    mqtt_url: str | None = typer.Option(None, "--mqtt", help="broker, mqtt://host:port; default: FABGRID_MQTT_URL"),
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
    from fabgrid.config import load_settings
    from fabgrid.services.machine_data import run_site_fleet

    mqtt_url = mqtt_url or load_settings().mqtt_url
    run = run_site_fleet(site, mqtt_url=mqtt_url, out=out, duration_s=duration_s, rate_hz=rate_hz, count=count,
                         seed=seed, sample_s=sample_s, start=start, fmt=fmt, group=group)
    doc = {"site": run.site, "machines": run.machines, "published": run.published, "to": run.to,
           "elapsed_s": round(run.elapsed_s, 3), "unacked": run.unacked,
           "rate_hz": round(run.published / run.elapsed_s, 1) if run.elapsed_s else None, **run.extra}
    if as_json:
        emit_json(doc)
    else:
        table("fleet", ("key", "value"), doc.items())


def ingest(
    mqtt_url: str | None = typer.Option(None, "--mqtt", help="broker, mqtt://host:port; default: FABGRID_MQTT_URL"),
    opcua_url: str | None = typer.Option(None, "--opcua", help="OPC UA server opc.tcp://host:port"),
    site: str | None = typer.Option(None, "--site", help="site whose machines the OPC UA server serves"),
    database_url: str | None = typer.Option(None, "--database-url", help="default: FABGRID_DATABASE_URL"),
    out: Path | None = typer.Option(None, "--out", help="write JSON lines (too)"),
    duration_s: float | None = typer.Option(None, "--duration", help="stop after this many seconds"),
    idle_exit_s: float | None = typer.Option(None, "--idle-exit", help="stop after N s without messages"),
    expect: int | None = typer.Option(None, "--expect", help="stop once this many new events are stored"),
    client_id: str = typer.Option("fabgrid-ingest", "--client-id", help="MQTT client id (session); each "
                                  "process of a --share group needs its own"),
    share: str | None = typer.Option(None, "--share", help="join the MQTT 5 shared subscription "
                                     "$share/GROUP/fabgrid/+/+/+ : the processes of a group split the messages"),
    batch_size: int = typer.Option(5000, "--batch-size", help="events per database transaction (1..65535)"),
    sparkplug: bool = typer.Option(True, "--sparkplug/--no-sparkplug",
                                   help="also read Sparkplug B (spBv1.0/#) besides fabgrid/# JSON"),
    sparkplug_mapping: Path | None = typer.Option(
        None, "--sparkplug-mapping", help="Sparkplug metric -> event mapping (YAML; default: the shipped one, "
                                          "data/telemetry/sparkplug_mapping.yaml)"),
    rollup_every: float | None = typer.Option(
        None, "--rollup-every", help="also roll up the closed hours into machine_hours every S seconds (>= 10; "
                                     "the KPI pages read them)"),
    retention_days: float | None = typer.Option(
        None, "--retention-days", help="with --rollup-every: delete raw events older than D days (1..3650) once "
                                       "rolled up"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Ingest machine events (QoS 1, persistent session, deduplicated by message id) into the database."""
    from dataclasses import asdict

    from fabgrid.config import load_settings
    from fabgrid.services.telemetry import IngestTarget, run_ingest

    settings = load_settings()
    mqtt_url = mqtt_url or settings.mqtt_url
    if (mqtt_url is None) == (opcua_url is None):
        raise InputError("give exactly one source: --mqtt URL or --opcua URL",
                         hint="e.g. fabgrid ingest --mqtt mqtt://127.0.0.1:1883", code="telemetry.source")
    db = database_url or (None if out is not None else settings.database_url)
    target = IngestTarget(database_url=db, out=out)
    if mqtt_url is not None:
        err_console.print(f"ingesting {mqtt_url} -> {db or out} (Ctrl-C to stop)")
        stats: Any = run_ingest(mqtt_url, target, client_id=client_id, duration_s=duration_s,
                                idle_exit_s=idle_exit_s, batch_size=batch_size, expect=expect,
                                sparkplug=sparkplug, sparkplug_mapping=sparkplug_mapping, share=share,
                                rollup_every_s=rollup_every, retention_days=retention_days)
        if stats.connects == 0:
            raise InputError(f"could not connect to the MQTT broker at {mqtt_url}",
                             hint="check the URL and that the broker runs (e.g. mosquitto -p 1883)",
                             code="telemetry.mqtt_connect")
    else:
        from fabgrid.services.machine_data import run_opcua_ingest

        stats = run_opcua_ingest(str(opcua_url), site, target, duration_s=duration_s)
    doc = asdict(stats)
    if as_json:
        emit_json(doc)
    else:
        rows = [(k, v) for k, v in doc.items() if not isinstance(v, list | dict)]
        rows += [(f"{name}.{k}", v) for name, fam in doc.get("families", {}).items() for k, v in fam.items()
                 if not isinstance(v, list)]
        table("ingest", ("key", "value"), rows)
    if doc.get("parked"):
        where = "telemetry_dead_letters" if db else f"{out}.dead-letters.jsonl"
        err_console.print(f"parked {doc['parked']} message(s) that could not be stored in {where}; first reasons:\n  "
                          + "\n  ".join(doc.get("parked_reasons", [])[:5]))
    sys.stdout.flush()


def rollup(
    database_url: str | None = typer.Option(None, "--database-url", help="default: FABGRID_DATABASE_URL"),
    lag_h: int = typer.Option(48, "--lag-hours", help="hours recomputed behind the last roll-up (1..744)"),
    retention_days: float | None = typer.Option(
        None, "--retention-days", help="then delete raw events older than D days (1..3650) that are rolled up"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Roll up the stored machine events of closed hours into hourly KPI elements (machine_hours)."""
    from dataclasses import asdict

    from fabgrid.config import load_settings
    from fabgrid.services.telemetry_rollups import roll_up

    run = roll_up(database_url or load_settings().database_url, lag_h=lag_h, retention_days=retention_days)
    doc = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(run).items()}
    if as_json:
        emit_json(doc)
    else:
        table("rollup", ("key", "value"), doc.items())


def register(app: typer.Typer) -> None:
    """Add `kpi`, `fleet`, `ingest` and `rollup` to the fabgrid app."""
    app.command("kpi")(kpi)
    app.command("fleet")(fleet)
    app.command("ingest")(ingest)
    app.command("rollup")(rollup)
