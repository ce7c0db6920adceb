"""Use cases of the factory's machine pages: each machine of the site with where its data comes from (a real
print host, telemetry over MQTT / OPC UA, the simulated demo fleet), its latest state and its ISO 22400 OEE,
utilisation and energy computed from its stored events; marking a machine down or in maintenance (a state event
entered by the factory, read back by the schedule as down-time).

Composes the telemetry engine's KPIs, the event store and services.dispatch; never imports api, web or cli.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.dispatch import MachineSource
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services.accounts import Principal

#: The window of the machine figures.
WINDOW = timedelta(hours=24)
#: Message-id prefixes of the demo's simulated machines (`services.live_fleet`: the fleet and the simulation).
SIMULATED_PREFIXES = ("embedded", "simlive")
#: Message-id prefix of the states a factory enters by hand (down, maintenance, back up).
FACTORY_PREFIX = "factory:"
#: What a factory may mark a machine as, and the telemetry state it is stored as.
MARKS = {"down": "unplanned_downtime", "maintenance": "planned_downtime", "up": "idle"}
MAX_MARK_H = 24.0 * 14


@dataclass(frozen=True)
class MachineView:
    """A machine of the site with its data source, state and figures over the window (None: no data)."""

    id: str
    model: str
    process: str
    source: MachineSource
    host: str | None
    connection_state: str | None
    state: str | None
    at: datetime | None
    down_until: datetime | None
    oee: float | None
    availability: float | None
    utilisation: float | None
    energy_kwh: float | None
    good_parts: int
    events: int


def _site(who: Principal) -> str:
    if who.role != "factory" or not who.site_id:
        raise InputError("this needs a factory account with a site", code="factory.not_factory", status=403)
    return who.site_id


def _events(settings: Settings, site_id: str, since: datetime, until: datetime,
            machine: str | None = None) -> list[dict[str, Any]]:
    from fabgrid.store.db import StoreError
    from fabgrid.store.telemetry import MachineEventStore

    try:
        return list(MachineEventStore(settings.database_url, create=False).site_events(site_id, since, until, machine))
    except StoreError:
        return []  # a database without the telemetry table: no events yet


def _source(connected: bool, ids: list[str]) -> MachineSource:
    measured = [i for i in ids if not i.startswith(FACTORY_PREFIX)]
    if connected:
        return MachineSource.CONNECTED
    if any(not i.startswith(SIMULATED_PREFIXES) for i in measured):
        return MachineSource.TELEMETRY
    return MachineSource.SIMULATED if measured else MachineSource.NO_DATA


def _figures(events: list[dict[str, Any]], lo: datetime, hi: datetime) -> dict[str, dict[str, float | None]]:
    """Per machine: OEE, availability, utilisation (APT over the window) and energy of `events`."""
    from fabgrid.telemetry.events import columns_from_events
    from fabgrid.telemetry.kpi import compute
    from fabgrid.telemetry.state import fixed_periods

    measured = [e for e in events if e.get("type") in ("state", "count", "job", "power", "energy")]
    if not measured:
        return {}
    periods = fixed_periods(lo.timestamp(), hi.timestamp(), None)
    try:
        table = compute(columns_from_events(measured), periods)
    except InputError:  # one machine sent an event the KPIs cannot read: figure the others, one by one
        out: dict[str, dict[str, float | None]] = {}
        for m in sorted({str(e["machine"]) for e in measured}):
            try:
                out |= _figures([e for e in measured if e["machine"] == m], lo, hi)
            except InputError:
                continue
        return out
    el, kp = table.elements["machine"], table.kpis["machine"]

    def opt(v: Any) -> float | None:
        f = float(v)
        return None if f != f else f

    window_s = (hi - lo).total_seconds()
    return {m: {"oee": opt(kp["oee"][i, -1]), "availability": opt(kp["availability"][i, -1]),
                "utilisation": float(el["apt_s"][i, -1]) / window_s, "energy_kwh": float(el["energy_kwh"][i, -1]),
                "good": float(el["gq"][i, -1])}
            for i, m in enumerate(table.machines)}


def _down_until(events: list[dict[str, Any]], now: datetime) -> datetime | None:
    """The end of the factory's latest down or maintenance mark when it is still in force."""
    marks = [e for e in events if str(e.get("id", "")).startswith(FACTORY_PREFIX) and e.get("type") == "state"]
    if not marks or marks[-1].get("state") == "idle" or not marks[-1].get("until"):
        return None
    until = datetime.fromisoformat(str(marks[-1]["until"]))
    return until if until > now else None


def site_machines(settings: Settings, who: Principal, now: datetime | None = None,
                  only: str | None = None) -> list[MachineView]:
    """The site's machines (or the one `only`) with source, state and figures over the last 24 hours."""
    from fabgrid.services.dispatch import list_machines
    from fabgrid.services.network import network_of

    site_id = _site(who)
    network = network_of(settings)
    site = network.site(site_id)
    now = now or datetime.now(UTC)
    lo = now - WINDOW
    events = _events(settings, site_id, lo - timedelta(days=1), now, only)  # a state held from before counts
    figures = _figures(events, lo, now)
    conns = {c.machine_id: c for c in list_machines(settings, site_id)}
    by_machine: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_machine.setdefault(str(e["machine"]), []).append(e)
    out = []
    for m in site.machines:
        if only is not None and m.id != only:
            continue
        model = network.machine_model(m)
        evs = by_machine.get(m.id, [])
        states = [e for e in evs if e.get("type") == "state"]
        last = states[-1] if states else None
        f = figures.get(m.id, {})
        c = conns.get(m.id)
        out.append(MachineView(
            id=m.id, model=f"{model.vendor} {model.model}", process=model.process.value,
            source=_source(c is not None, [str(e["id"]) for e in evs]), host=c.host if c else None,
            connection_state=c.state.value if c else None, state=str(last["state"]) if last else None,
            at=datetime.fromisoformat(str(last["ts"])) if last else None, down_until=_down_until(evs, now),
            oee=f.get("oee"), availability=f.get("availability"), utilisation=f.get("utilisation"),
            energy_kwh=f.get("energy_kwh"), good_parts=int(f.get("good") or 0),
            events=sum(1 for e in evs if datetime.fromisoformat(str(e["ts"])) >= lo)))
    if only is not None and not out:
        raise NotFoundError(f"machine {only!r} is not at your site", hint="open a machine from your factory page",
                            code="machine.not_found")
    return out


def machine(settings: Settings, who: Principal, machine_id: str, now: datetime | None = None) -> MachineView:
    """One machine of the caller's site (404 for another site's machine)."""
    return site_machines(settings, who, now, only=machine_id)[0]


def mark_machine(settings: Settings, who: Principal, machine_id: str, mark: str, hours: float = 8.0,
                 note: str = "", now: datetime | None = None) -> MachineView:
    """Mark a machine of the site `down` or in `maintenance` for `hours` (or back `up`): a state event in the
    machine's events (id ``factory:...``, so it never counts as a data source), which the schedule plans around."""
    from fabgrid.services.telemetry import SqlEventSink

    if mark not in MARKS:
        raise InputError(f"unknown machine mark {mark!r}", hint=f"use one of {', '.join(MARKS)}", code="machine.mark")
    if not 0 < hours <= MAX_MARK_H:
        raise InputError(f"hours {hours:g} is out of range", hint=f"give 0 < hours <= {MAX_MARK_H:g}",
                         code="machine.hours")
    view = machine(settings, who, machine_id, now)
    at = now or datetime.now(UTC)
    event: dict[str, Any] = {"id": f"{FACTORY_PREFIX}{machine_id}:{uuid.uuid4().hex[:12]}", "ts": at.isoformat(),
                             "site": _site(who), "machine": machine_id, "type": "state", "state": MARKS[mark],
                             "note": note[:200], "by": who.email}
    if mark != "up":
        event["until"] = (at + timedelta(hours=hours)).isoformat()
    SqlEventSink(settings.database_url)([event])
    del view
    return machine(settings, who, machine_id, at + timedelta(seconds=1))


def down_windows(settings: Settings, site_id: str, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(machine, from, until) of the site's machines marked down or in maintenance and still so at `now`."""
    events = _events(settings, site_id, now - timedelta(days=15), now + timedelta(seconds=1))
    by_machine: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_machine.setdefault(str(e["machine"]), []).append(e)
    out = []
    for m, evs in by_machine.items():
        until = _down_until(evs, now)
        if until is not None:
            out.append((m, now, until))
    return out
