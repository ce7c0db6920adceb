"""Use cases of machine data outside the server: ISO 22400-2 KPIs of an events file, a site's simulated
fleet publishing over MQTT (JSON or Sparkplug B) or into a file, and OPC UA ingest of a site's machines.
Thin glue over `fabgrid.telemetry` with the shipped network handed in; never imports api, web or cli.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabgrid.errors import InputError

if TYPE_CHECKING:
    from fabgrid.domain.catalog import Network
    from fabgrid.domain.telemetry import Kpis
    from fabgrid.services.telemetry import IngestTarget
    from fabgrid.telemetry.opcua import OpcUaStats

#: Splits of a KPI window: seconds per period; "shift" follows the site's calendar, "none" is one period.
PERIODS: dict[str, float | None] = {"none": None, "hour": 3600.0, "shift": -1.0, "day": 86400.0,
                                    "week": 7 * 86400.0}
FLEET_FORMATS = ("json", "sparkplug")


def _network() -> Network | None:
    try:
        from fabgrid.services.catalog import shipped_network

        return shipped_network()
    except (ImportError, InputError, OSError):
        return None


def parse_time(value: str | None, name: str) -> float | None:
    """Unix seconds of an ISO 8601 time (`name` is the option it came from), None when not given."""
    if value is None:
        return None
    from fabgrid.telemetry.events import parse_ts

    return parse_ts(value, name)


@dataclass(frozen=True)
class KpiReport:
    """KPI rows (machines, sites, network; per period and in total) of a window of an events file."""

    rows: list[Kpis]
    start: datetime
    end: datetime
    machines: int
    periods: int


def kpis_of_file(events: Path, *, t_from: str | None = None, t_to: str | None = None, period: str = "none",
                 site: str | None = None) -> KpiReport:
    """ISO 22400-2 KPIs of a JSON-lines events file, over [t_from, t_to] (default: its first to last event)."""
    from fabgrid.telemetry.events import read_jsonl, restrict_to_site
    from fabgrid.telemetry.kpi import compute
    from fabgrid.telemetry.state import fixed_periods, shift_periods

    if period not in PERIODS:
        raise InputError(f"--period {period!r} is not one of {', '.join(PERIODS)}", hint="e.g. --period day",
                         code="telemetry.period")
    cols = read_jsonl(events)
    network = _network()
    if site is not None:
        cols = restrict_to_site(cols, site)
    span = cols.time_range()
    lo, hi = parse_time(t_from, "--from"), parse_time(t_to, "--to")
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
    return KpiReport(rows=result.rows(factors), start=datetime.fromtimestamp(float(periods.edges[0]), UTC),
                     end=datetime.fromtimestamp(float(periods.edges[-1]), UTC), machines=len(result.machines),
                     periods=periods.n)


@dataclass(frozen=True)
class FleetRun:
    """What a fleet run published: messages, where to, how long, unacknowledged at the end, and the
    Sparkplug edge node's facts (`extra`) in that format."""

    site: str
    machines: int
    published: int
    to: str
    elapsed_s: float
    unacked: int
    extra: dict[str, Any] = field(default_factory=dict)


def run_site_fleet(site: str, *, mqtt_url: str | None = None, out: Path | None = None,
                   duration_s: float | None = None, rate_hz: float = 50.0, count: int | None = None, seed: int = 0,
                   sample_s: float = 60.0, start: str | None = None, fmt: str = "json",
                   group: str | None = None) -> FleetRun:
    """Simulate every machine of `site` (states, jobs with counts, layers, temperatures, power) and publish
    to the MQTT broker at `mqtt_url` or write JSON lines to `out`."""
    import os

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
    if fmt not in FLEET_FORMATS:
        raise InputError(f"--format {fmt!r} is not json or sparkplug", hint="e.g. --format sparkplug",
                         code="telemetry.fleet")
    if fmt == "sparkplug" and out is not None:
        raise InputError("--format sparkplug publishes over MQTT; --out writes JSON lines",
                         hint="give --mqtt URL with --format sparkplug", code="telemetry.fleet")
    t0 = parse_time(start, "--start")
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
    return FleetRun(site=site, machines=len(machines), published=stats.published, to=where,
                    elapsed_s=stats.elapsed_s, unacked=stats.unacked, extra=extra)


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


def run_opcua_ingest(opcua_url: str, site: str | None, target: IngestTarget, *,
                     duration_s: float | None = None) -> OpcUaStats:
    """Subscribe to the machines of `site` on the OPC UA server and store their events in `target` until
    `duration_s` or Ctrl-C; returns the source's statistics."""
    import asyncio

    from fabgrid.services.telemetry import make_sink
    from fabgrid.telemetry.opcua import OpcUaMachine, OpcUaSource

    network = _network()
    if site is None or network is None or site not in network.sites:
        raise InputError("--opcua needs --site with a site of the network", hint="e.g. --site <site id>",
                         code="telemetry.site")
    machines = [OpcUaMachine(site, m.id, m.model) for m in network.sites[site].machines]
    source = OpcUaSource(opcua_url, machines, make_sink(target))
    try:
        return asyncio.run(source.run(duration_s=duration_s))
    except KeyboardInterrupt:
        return source.stats
    except OSError as exc:
        raise InputError(f"cannot reach OPC UA server {opcua_url}: {exc}", hint="check the URL",
                         code="telemetry.opcua_connect") from None
