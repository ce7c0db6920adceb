"""A simulated run's machines as telemetry events: the `fabgrid kpi` JSON-lines format
(`fabgrid.domain.telemetry`), written to a file (`fabgrid simulate --events`) or followed live
(`live_events`, the web platform's demo data with ``FABGRID_DEMO_SOURCE=simulation``).

Events come from the run's record (`sim.model.Record`), vectorised per chunk of records:
- ``state``: each change of a machine's ISO 22400 state (repeats of the same state dropped),
- ``power``: the machine's electrical power, at each state change (held until the next one),
- ``count``: the parts of each build at its end (good, scrap, planned_unit_s = planned time / units,
  value_cny); the sim's own KPIs spread a build's count over the build, a count event is a point.
Ids are ``<run_id>:<machine>:<s|p|c><record index>``: stable for a run, unique within it.
Times are the sim's hours from its start (local midnight of ``start_date``), in ISO 8601 UTC to the
millisecond. Depends on numpy, orjson and the simulator; never on store, services, api or web.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import SimParams
from fabgrid.domain.telemetry import STATE_ORDER
from fabgrid.errors import InputError
from fabgrid.sim.library import Library
from fabgrid.sim.model import World
from fabgrid.telemetry.state import SITE_TZ

Event = dict[str, Any]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

#: State name of each state code (`telemetry.state.STATE_CODE` order).
STATE_NAMES: tuple[str, ...] = tuple(s.value for s in STATE_ORDER)
MS_PER_H = 3_600_000


def _iso(ms: I64) -> list[str]:
    """ISO 8601 UTC text (millisecond precision, ``Z``) of epoch milliseconds."""
    return [s + "Z" for s in np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()]


class EventExport:
    """Turns the records a `World` has added since the last call into events, in time order.

    Records are appended in simulated-time order, so calls after each ``env.run(until=...)`` give a
    time-ordered stream; each machine's last state is kept across calls to drop repeated states.
    """

    def __init__(self, world: World, run_id: str) -> None:
        self.world, self.run_id = world, run_id
        self.t0_ms = round(world.start.timestamp() * 1000)
        self.machines, self.sites = world.machine_ids, world.machine_site
        self.last_code = np.full(len(self.machines), -1, dtype=np.int64)
        self.last_power = np.zeros(len(self.machines))
        self.s = self.c = 0  # next state / count record

    def _ms(self, t_h: F64) -> I64:
        return self.t0_ms + np.rint(t_h * MS_PER_H).astype(np.int64)

    def _states(self, s1: int) -> tuple[I64, F64, I64, F64, I64]:
        """State records ``s..s1`` that change their machine's state: machine, hour, code, W, index."""
        r, s0 = self.world.rec, self.s
        m = np.asarray(r.state_m[s0:s1], dtype=np.int64)
        t = np.asarray(r.state_t[s0:s1], dtype=np.float64)
        c = np.asarray(r.state_c[s0:s1], dtype=np.int64)
        w = np.asarray(r.power_w[s0:s1], dtype=np.float64)
        self.s = s1
        if not m.size:
            return m, t, c, w, m
        order = np.argsort(m, kind="stable")  # by machine, record order kept
        ms, cs = m[order], c[order]
        first = np.ones(ms.size, dtype=bool)
        first[1:] = ms[1:] != ms[:-1]
        prev = np.empty_like(cs)
        prev[1:] = cs[:-1]
        prev[first] = self.last_code[ms[first]]
        keep = np.empty(ms.size, dtype=bool)
        keep[order] = cs != prev
        last = np.ones(ms.size, dtype=bool)
        last[:-1] = ms[:-1] != ms[1:]
        self.last_code[ms[last]] = cs[last]
        self.last_power[ms[last]] = w[order][last]
        idx = np.flatnonzero(keep) + s0
        return m[keep], t[keep], c[keep], w[keep], idx

    def skip(self) -> None:
        """Consume the records so far without events (each machine's state is still tracked)."""
        self._states(len(self.world.rec.state_m))
        self.c = len(self.world.rec.count_m)

    def snapshot(self, t_h: float) -> list[Event]:
        """A state and a power event at `t_h` for every machine that has a state: where a stream cut
        at `t_h` starts."""
        ts = _iso(self._ms(np.array([t_h])))[0]
        out: list[Event] = []
        for m in np.flatnonzero(self.last_code >= 0).tolist():
            base = {"ts": ts, "site": self.sites[m], "machine": self.machines[m]}
            pre = f"{self.run_id}:{self.machines[m]}:"
            out.append({"id": pre + "s-cut", **base, "type": "state", "state": STATE_NAMES[self.last_code[m]]})
            out.append({"id": pre + "p-cut", **base, "type": "power", "power_w": float(self.last_power[m])})
        return out

    def take(self, until_h: float | None = None) -> list[Event]:
        """Events of the records added since the last call (only those at or before `until_h`)."""
        r = self.world.rec
        if until_h is None:
            s1, c1 = len(r.state_m), len(r.count_m)
        else:
            s1 = bisect.bisect_right(r.state_t, until_h, lo=self.s)
            c1 = bisect.bisect_right(r.count_t1, until_h, lo=self.c)
        sm, st, sc, sw, sidx = self._states(s1)
        c0, self.c = self.c, c1
        cm = np.asarray(r.count_m[c0:c1], dtype=np.int64)
        ct = np.asarray(r.count_t1[c0:c1], dtype=np.float64)
        ns, nc = sm.size, cm.size
        ms = np.concatenate((self._ms(st), self._ms(st), self._ms(ct)))
        kind = np.concatenate((np.zeros(ns, np.int64), np.ones(ns, np.int64), np.full(nc, 2, np.int64)))
        pos = np.concatenate((np.arange(ns), np.arange(ns), np.arange(nc)))
        order = np.lexsort((pos, kind, ms))  # time, then state before power before count, then record
        return self._events(kind[order].tolist(), pos[order].tolist(), _iso(ms[order]),
                            (sm.tolist(), sc.tolist(), sw.tolist(), sidx.tolist()), c0,
                            (cm.tolist(), r.good[c0:c1], r.scrap[c0:c1], r.planned_s[c0:c1], r.value_cny[c0:c1]))

    def _events(self, kinds: list[int], pos: list[int], stamps: list[str], states: tuple[list[Any], ...],
                c0: int, counts: tuple[list[Any], ...]) -> list[Event]:
        names, sites, rid = self.machines, self.sites, self.run_id
        sm, sc, sw, sidx = states
        cm, good, scrap, planned, value = counts
        out: list[Event] = []
        for k, p, ts in zip(kinds, pos, stamps, strict=True):
            m = sm[p] if k < 2 else cm[p]
            name = names[m]
            if k == 0:
                out.append({"id": f"{rid}:{name}:s{sidx[p]}", "ts": ts, "site": sites[m], "machine": name,
                            "type": "state", "state": STATE_NAMES[sc[p]]})
            elif k == 1:
                out.append({"id": f"{rid}:{name}:p{sidx[p]}", "ts": ts, "site": sites[m], "machine": name,
                            "type": "power", "power_w": sw[p]})
            else:
                g, b = int(good[p]), int(scrap[p])
                out.append({"id": f"{rid}:{name}:c{c0 + p}", "ts": ts, "site": sites[m], "machine": name,
                            "type": "count", "good": g, "scrap": b, "planned_unit_s": planned[p] / (g + b),
                            "value_cny": round(float(value[p]), 2)})
        return out


def write_jsonl(world: World, path: Path, run_id: str) -> int:
    """Write the events of a finished run to `path` (one day of records at a time); returns how many."""
    export = EventExport(world, run_id)
    n = 0
    with path.open("wb") as fh:
        for day in range(1, world.days + 1):
            evs = export.take(until_h=day * 24.0)
            evs += export.take() if day == world.days else []
            fh.write(b"".join(orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE) for ev in evs))
            n += len(evs)
    return n


def follow(world: World, export: EventExport, chunk_h: float = 0.25) -> Iterator[Event]:
    """Run `world` to its end `chunk_h` hours at a time, yielding the events of each step."""
    while world.env.now < world.end_h:
        world.env.run(until=min(world.env.now + chunk_h, world.end_h))
        yield from export.take()


def live_events(network: Network, params: SimParams, library: Library, *, cut_s: float, run_id: str,
                policy: str = "fabgrid", seed: int = 0, days: int = 30, warmup_h: float = 12.0,
                chunk_h: float = 0.25) -> Iterator[Event]:
    """Events of the simulated network from epoch second `cut_s` on, computed as they are pulled
    (infinite: a new run of `days` days with seed + 1 starts where a run ends).

    The sim's clock starts at a local midnight (demand's hourly pattern, shifts and pick-ups are
    local hours), so the first run starts at the local midnight at least `warmup_h` before `cut_s`,
    runs silently to `cut_s` and begins with every machine's state there (`EventExport.snapshot`).
    """
    from fabgrid.sim.run import Setup, build_world

    if days * 24.0 <= warmup_h + 24.0:
        raise InputError(f"a live run of {days} day(s) cannot hold the warm-up of {warmup_h:g} h and a day",
                         hint="give more days or a shorter warm-up", code="sim.days")
    day = datetime.fromtimestamp(cut_s - warmup_h * 3600.0, SITE_TZ).date()
    for k in range(10**6):
        world = build_world(Setup(network, params.model_copy(update={"start_date": day}), library, days),
                            policy, seed + k)
        export = EventExport(world, f"{run_id}.{k}")
        cut_h = (cut_s - world.start.timestamp()) / 3600.0
        if k == 0 and cut_h > 0:
            world.env.run(until=cut_h)
            export.skip()
            yield from export.snapshot(cut_h)
        yield from follow(world, export, chunk_h)
        day += timedelta(days=days)

