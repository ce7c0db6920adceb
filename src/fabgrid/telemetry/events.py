"""Telemetry events as columns (numpy arrays per event type), read from JSON lines or built in code.

The KPI engine works on `EventColumns`; this module turns the documented JSON-lines format
(`fabgrid.domain.telemetry`) into them, naming the line and field of any bad input.
Depends on numpy and domain only (no MQTT, no database).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.telemetry import EVENT_KINDS, MachineState
from fabgrid.errors import InputError, NotFoundError
from fabgrid.telemetry.state import STATE_CODE

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_STATES = {s.value: STATE_CODE[s] for s in MachineState}


@dataclass(frozen=True)
class EventColumns:
    """Events of many machines as arrays; ``*_m`` are indices into `machines`, ``*_ts`` epoch seconds."""

    machines: tuple[str, ...]
    sites: tuple[str | None, ...]
    state_m: I64
    state_ts: F64
    state_code: I64
    count_m: I64
    count_ts: F64
    good: F64
    scrap: F64
    rework: F64
    planned_s: F64 = field(metadata={"doc": "PRU x PQ of each count event, s"})
    energy_m: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    energy_ts: F64 = field(default_factory=lambda: np.zeros(0))
    energy_kwh: F64 = field(default_factory=lambda: np.zeros(0))
    power_m: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    power_ts: F64 = field(default_factory=lambda: np.zeros(0))
    power_w: F64 = field(default_factory=lambda: np.zeros(0))
    count_start: F64 | None = None  # when known (job start), counts are spread over [start, ts]
    value_cny: F64 | None = None  # value added of the counted parts, CNY (optional)

    def count_interval(self) -> tuple[F64, F64]:
        """Start and end of each count event's production interval (start == end: a point)."""
        start = self.count_ts if self.count_start is None else self.count_start
        return start, self.count_ts

    @property
    def n_machines(self) -> int:
        """Number of machines."""
        return len(self.machines)

    def time_range(self) -> tuple[float, float] | None:
        """Earliest and latest event time, or None without events."""
        arrays = [a for a in (self.state_ts, self.count_ts, self.energy_ts, self.power_ts) if a.size]
        if not arrays:
            return None
        return min(float(a.min()) for a in arrays), max(float(a.max()) for a in arrays)


def restrict_to_site(cols: EventColumns, site: str) -> EventColumns:
    """Only the events of machines at `site` (machine indices renumbered)."""
    keep = np.array([s == site for s in cols.sites], dtype=bool)
    if not keep.any():
        known = sorted({s for s in cols.sites if s})
        raise InputError(f"no machine of site {site!r} in the events",
                         hint=f"sites in the file: {', '.join(known) or 'none (events carry no site)'}",
                         code="telemetry.site")
    new_index = np.cumsum(keep) - 1

    fields: dict[str, Any] = {}
    for group in (("state_m", "state_ts", "state_code"),
                  ("count_m", "count_ts", "good", "scrap", "rework", "planned_s"),
                  ("energy_m", "energy_ts", "energy_kwh"), ("power_m", "power_ts", "power_w")):
        m = getattr(cols, group[0])
        ok = keep[m]
        fields[group[0]] = new_index[m[ok]].astype(np.int64)
        fields.update({name: getattr(cols, name)[ok] for name in group[1:]})
        if group[0] == "count_m":
            for name in ("count_start", "value_cny"):
                if getattr(cols, name) is not None:
                    fields[name] = getattr(cols, name)[ok]
    return EventColumns(
        machines=tuple(n for n, k in zip(cols.machines, keep, strict=True) if k),
        sites=tuple(s for s, k in zip(cols.sites, keep, strict=True) if k), **fields)


class _Builder:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.job_start: dict[tuple[int, str], float] = {}
        self.sites: list[str | None] = []
        self.cols: dict[str, list[float]] = {k: [] for k in (
            "state_m", "state_ts", "state_code", "count_m", "count_ts", "good", "scrap", "rework",
            "planned_s", "count_start", "value_cny", "energy_m", "energy_ts", "energy_kwh", "power_m", "power_ts",
            "power_w")}

    def machine(self, name: str, site: str | None) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.sites)
            self.sites.append(site)
        elif site is not None and self.sites[i] is None:
            self.sites[i] = site
        return i

    def add(self, ev: Mapping[str, Any], where: str) -> None:
        kind = ev.get("type")
        if kind not in EVENT_KINDS:
            raise InputError(f"{where}: unknown event type {kind!r}",
                             hint=f"use one of {', '.join(EVENT_KINDS)}; see `fabgrid kpi --schema`",
                             code="telemetry.event_type")
        name = ev.get("machine")
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: field 'machine' is missing or not a string",
                             hint="every event names its machine", code="telemetry.event_field")
        site = ev.get("site")
        m = self.machine(name, site if isinstance(site, str) else None)
        ts = parse_ts(ev.get("ts"), where)
        c = self.cols
        if kind == "state":
            code = _STATES.get(ev.get("state"))  # type: ignore[arg-type]
            if code is None:
                raise InputError(f"{where}: unknown state {ev.get('state')!r}",
                                 hint=f"use one of {', '.join(_STATES)}", code="telemetry.state")
            c["state_m"].append(m)
            c["state_ts"].append(ts)
            c["state_code"].append(code)
        elif kind == "count" or (kind == "job" and ev.get("event") == "end"):
            good, scrap, rework = (_number(ev, k, where, 0) for k in ("good", "scrap", "rework"))
            if rework > good:
                raise InputError(f"{where}: rework ({rework:g}) exceeds good ({good:g})",
                                 hint="'good' includes reworked parts; rework <= good",
                                 code="telemetry.event_field")
            pq = good + scrap
            pru = _number(ev, "planned_unit_s", where, None if pq > 0 and kind == "count" else 0.0)
            if pq > 0 and pru <= 0:
                raise InputError(f"{where}: 'planned_unit_s' must be > 0 when parts are counted",
                                 hint="give the planned run time per unit in seconds",
                                 code="telemetry.event_field")
            start = self.job_start.pop((m, str(ev.get("job"))), ts) if kind == "job" else ts
            c["count_m"].append(m)
            c["count_ts"].append(ts)
            c["count_start"].append(min(start, ts))
            c["good"].append(good)
            c["scrap"].append(scrap)
            c["rework"].append(rework)
            c["planned_s"].append(pru * pq)
            c["value_cny"].append(_number(ev, "value_cny", where, 0.0))
        elif kind == "job" and ev.get("event") == "start":
            self.job_start[(m, str(ev.get("job")))] = ts
        elif kind == "energy":
            c["energy_m"].append(m)
            c["energy_ts"].append(ts)
            c["energy_kwh"].append(_number(ev, "kwh", where, None))
        elif kind == "power":
            c["power_m"].append(m)
            c["power_ts"].append(ts)
            c["power_w"].append(_number(ev, "power_w", where, None))

    def build(self) -> EventColumns:
        c = self.cols

        def f(k: str) -> F64:
            return np.asarray(c[k], dtype=np.float64)

        def i(k: str) -> I64:
            return np.asarray(c[k], dtype=np.int64)

        return EventColumns(
            machines=tuple(self.index), sites=tuple(self.sites),
            state_m=i("state_m"), state_ts=f("state_ts"), state_code=i("state_code"),
            count_m=i("count_m"), count_ts=f("count_ts"), good=f("good"), scrap=f("scrap"),
            rework=f("rework"), planned_s=f("planned_s"), count_start=f("count_start"),
            value_cny=f("value_cny"),
            energy_m=i("energy_m"), energy_ts=f("energy_ts"), energy_kwh=f("energy_kwh"),
            power_m=i("power_m"), power_ts=f("power_ts"), power_w=f("power_w"))


def parse_ts(value: object, where: str) -> float:
    """Epoch seconds of an ISO 8601 time with offset (``Z`` accepted); InputError names `where`."""
    if not isinstance(value, str):
        raise InputError(f"{where}: field 'ts' is missing or not an ISO 8601 string",
                         hint='write e.g. "2026-11-20T08:00:00Z"', code="telemetry.ts")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{where}: 'ts' {value!r} is not an ISO 8601 time",
                         hint='write e.g. "2026-11-20T08:00:00Z"', code="telemetry.ts") from None
    if dt.tzinfo is None:
        raise InputError(f"{where}: 'ts' {value!r} has no UTC offset",
                         hint="append Z (UTC) or an offset like +08:00", code="telemetry.ts")
    return dt.timestamp()


def _number(ev: Mapping[str, Any], key: str, where: str, default: float | None) -> float:
    v = ev.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or v != v:
        raise InputError(f"{where}: field {key!r} must be a number >= 0, got {v!r}",
                         hint="see `fabgrid kpi --schema`", code="telemetry.event_field")
    return float(v)


def columns_from_events(events: Iterable[Mapping[str, Any]]) -> EventColumns:
    """Columns from event dicts (the JSON-lines objects)."""
    b = _Builder()
    for n, ev in enumerate(events, 1):
        b.add(ev, f"event {n}")
    return b.build()


def read_jsonl(path: Path) -> EventColumns:
    """Read an events file (one JSON object per line; blank lines and ``#`` comments skipped)."""
    if not path.is_file():
        raise NotFoundError(f"events file {path} not found", hint="give the path of a .jsonl file",
                            code="telemetry.file")
    b = _Builder()
    with path.open("r", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            try:
                ev = json.loads(s)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})",
                                 hint="one JSON object per line; see `fabgrid kpi --schema`",
                                 code="telemetry.json") from None
            if not isinstance(ev, dict):
                raise InputError(f"{path}:{n}: a line must be a JSON object",
                                 hint="see `fabgrid kpi --schema`", code="telemetry.json")
            b.add(ev, f"{path}:{n}")
    return b.build()
