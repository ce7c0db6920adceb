"""Simulated fleet: machines reporting like real ones (states, jobs with counts, layers, temperatures, power).

Seeded and deterministic in simulated time; each machine follows its process family's profile
(`data/telemetry/fleet_profiles.yaml`) and its model's power per state. Publishing is paced in
wall time by `run_fleet`. Depends on domain and the MQTT publisher only (no store, no services).
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fabgrid.domain.catalog import MachineModel, PowerDraw, ProcessFamily
from fabgrid.domain.telemetry import MachineState
from fabgrid.errors import InputError

Event = dict[str, Any]


class FleetProfile(BaseModel):
    """How machines of one process family behave in the simulation (hours, minutes, rates)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_h: tuple[float, float]
    parts: tuple[int, int]
    scrap_rate: float = Field(ge=0, le=1)
    rework_rate: float = Field(ge=0, le=1)
    setup_min: tuple[float, float]
    idle_min: tuple[float, float]
    mtbf_h: float = Field(gt=0)
    mttr_min: tuple[float, float]
    maintenance_every_jobs: int = Field(ge=1)
    maintenance_h: float = Field(gt=0)
    layer_s: float = Field(ge=0)
    speed_factor: tuple[float, float]
    temperatures: dict[str, tuple[float, float]]


@cache
def load_profiles() -> dict[ProcessFamily, FleetProfile]:
    """The shipped fleet profiles per process family."""
    text = resources.files("fabgrid.data").joinpath("telemetry/fleet_profiles.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {ProcessFamily(k): FleetProfile.model_validate(v) for k, v in raw["profiles"].items()}


@dataclass(frozen=True)
class SimMachine:
    """One simulated machine: where it is and what model it is."""

    site: str
    machine: str
    model: MachineModel


def iso(t: float) -> str:
    """ISO 8601 UTC text of epoch seconds, millisecond precision."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _power_w(p: PowerDraw, state: MachineState) -> float:
    return {
        MachineState.PRODUCING: p.producing_w, MachineState.IDLE: p.idle_w, MachineState.SETUP: p.setup_w,
        MachineState.PLANNED_DOWNTIME: p.standby_w, MachineState.UNPLANNED_DOWNTIME: p.standby_w,
        MachineState.OFFLINE: 0.0,
    }[state]


class _MachineRun:
    """Event generator of one machine; `events()` yields ``(t, event)`` in time order, forever."""

    def __init__(self, m: SimMachine, profile: FleetProfile, seed: int, start_s: float, sample_s: float,
                 run_id: str) -> None:
        self.m, self.p, self.sample_s = m, profile, sample_s
        self.rng = random.Random(f"{seed}:{m.site}:{m.machine}")
        self.t = start_s
        self.seq = 0
        self.prefix = f"{run_id}:{m.machine}:"
        self.state = MachineState.IDLE
        self.job: str | None = None
        self.layer_s = profile.layer_s
        self._layers: int | None = None

    def _ev(self, t: float, kind: str, **fields: Any) -> tuple[float, Event]:
        self.seq += 1
        return t, {"id": f"{self.prefix}{self.seq}", "ts": iso(t), "site": self.m.site,
                   "machine": self.m.machine, "type": kind, **fields}

    def _enter(self, state: MachineState) -> Iterator[tuple[float, Event]]:
        self.state = state
        yield self._ev(self.t, "state", state=state.value)
        yield self._ev(self.t, "power", power_w=round(self._power(), 1))

    def _power(self) -> float:
        base = _power_w(self.m.model.power, self.state)
        return max(0.0, base * self.rng.gauss(1.0, 0.03))

    def _hold(self, duration_s: float, job_t0: float | None = None) -> Iterator[tuple[float, Event]]:
        """Stay in the current state for `duration_s`, sampling power, temperatures and layers."""
        end = self.t + duration_s
        t = self.t + self.sample_s
        while t < end:
            yield self._ev(t, "power", power_w=round(self._power(), 1))
            heating = self.state in (MachineState.PRODUCING, MachineState.SETUP)
            for sensor, (mean, sd) in self.p.temperatures.items():
                value = mean if heating else 0.35 * mean + 15.0
                reading = round(self.rng.gauss(value, sd), 2)
                yield self._ev(t, "temperature", sensor=sensor, temperature_c=reading)
            if job_t0 is not None and self.layer_s > 0 and self.state is MachineState.PRODUCING:
                yield self._ev(t, "layer", job=self.job, layer=int((t - job_t0) / self.layer_s),
                               layers=self._layers)
            t += self.sample_s
        self.t = end

    def events(self) -> Iterator[tuple[float, Event]]:
        p, rng = self.p, self.rng
        yield from self._enter(MachineState.IDLE)
        yield from self._hold(rng.uniform(0, 30 * 60))
        jobs = 0
        while True:
            yield from self._enter(MachineState.SETUP)
            yield from self._hold(rng.uniform(*p.setup_min) * 60)
            jobs += 1
            self.job = f"{self.m.machine}-J{jobs}"
            planned_s = rng.uniform(*p.job_h) * 3600
            actual_s = planned_s / rng.uniform(*p.speed_factor)
            parts = rng.randint(*p.parts)
            self._layers = max(1, int(actual_s / self.layer_s)) if self.layer_s > 0 else None
            yield self._ev(self.t, "job", event="start", job=self.job)
            job_t0, remaining = self.t, actual_s
            yield from self._enter(MachineState.PRODUCING)
            while remaining > 0:
                run = min(remaining, rng.expovariate(1.0 / (p.mtbf_h * 3600)))
                yield from self._hold(run, job_t0)
                remaining -= run
                if remaining > 0:
                    yield from self._enter(MachineState.UNPLANNED_DOWNTIME)
                    repair = rng.uniform(*p.mttr_min) * 60
                    yield from self._hold(repair)
                    job_t0 += repair
                    yield from self._enter(MachineState.PRODUCING)
            scrap = sum(rng.random() < p.scrap_rate for _ in range(parts))
            good = parts - scrap
            rework = sum(rng.random() < p.rework_rate for _ in range(good))
            yield self._ev(self.t, "job", event="end", job=self.job, good=good, scrap=scrap, rework=rework,
                           planned_unit_s=round(planned_s / parts, 3))
            if jobs % p.maintenance_every_jobs == 0:
                yield from self._enter(MachineState.PLANNED_DOWNTIME)
                yield from self._hold(p.maintenance_h * 3600)
            yield from self._enter(MachineState.IDLE)
            yield from self._hold(rng.uniform(*p.idle_min) * 60)


def fleet_events(machines: Sequence[SimMachine], *, seed: int = 0, start_s: float | None = None,
                 sample_s: float = 60.0, run_id: str | None = None,
                 profiles: Mapping[ProcessFamily, FleetProfile] | None = None) -> Iterator[Event]:
    """Events of every machine merged in time order (infinite; slice it). Same seed, same stream.

    Message ids are ``<run_id>:<machine>:<seq>``; `run_id` defaults to the start time so that two
    runs never share ids.
    """
    if not machines:
        raise InputError("the fleet has no machines", hint="pick a site with machines",
                         code="telemetry.fleet")
    if sample_s <= 0:
        raise InputError("sample interval must be > 0 s", code="telemetry.fleet")
    profiles = profiles or load_profiles()
    t0 = time.time() if start_s is None else start_s
    rid = run_id or f"r{int(t0 * 1000):x}"
    runs = []
    for m in machines:
        if m.model.process not in profiles:
            raise InputError(f"no fleet profile for process {m.model.process.value!r} of {m.machine}",
                             hint="add it to data/telemetry/fleet_profiles.yaml", code="telemetry.fleet")
        runs.append(_MachineRun(m, profiles[m.model.process], seed, t0, sample_s, rid).events())
    for _t, ev in heapq.merge(*runs, key=lambda te: te[0]):
        yield ev


@dataclass
class FleetStats:
    """What a fleet run published."""

    published: int = 0
    elapsed_s: float = 0.0
    unacked: int = 0


def run_fleet(events: Iterator[Event], publish: Callable[[Event], None], *, rate_hz: float = 0.0,
              duration_s: float | None = None, count: int | None = None,
              backlog: Callable[[], int] | None = None, max_backlog: int = 200,
              wait: Callable[[float], None] = time.sleep) -> FleetStats:
    """Publish `events` at `rate_hz` messages/s in total (0: as fast as possible) until `duration_s`
    seconds or `count` messages; waits while the broker has not acknowledged `max_backlog` messages.
    `wait(seconds)` paces the stream (e.g. `Publisher.wait`, which sends and takes acknowledgements
    meanwhile, so that no message sits in a buffer while the fleet sleeps)."""
    if rate_hz < 0:
        raise InputError("--rate must be >= 0 messages/s", code="telemetry.fleet")
    stats = FleetStats()
    t0 = time.monotonic()
    for ev in events:
        if count is not None and stats.published >= count:
            break
        now = time.monotonic()
        if duration_s is not None and now - t0 >= duration_s:
            break
        if rate_hz > 0:
            ahead = t0 + stats.published / rate_hz - now
            if ahead > 0.002:
                wait(ahead)
        while backlog is not None and backlog() >= max_backlog:
            time.sleep(0.0005)
        publish(ev)
        stats.published += 1
    stats.elapsed_s = time.monotonic() - t0
    return stats


def run_live(events: Iterator[Event], sink: Callable[[list[Event]], int], *, stop: threading.Event,
             speed: float = 1.0, batch_s: float = 1.0) -> int:
    """Hand `events` to `sink` as their simulated time comes due (wall clock x `speed`), in batches
    every `batch_s`; for the embedded default without a broker. Returns how many were handed over.
    `events` must start at about now (``fleet_events(start_s=time.time())``)."""
    if speed <= 0:
        raise InputError("speed must be > 0", code="telemetry.fleet")
    wall0 = time.time()
    handed = 0
    pending: list[Event] = []
    it = iter(events)
    nxt = next(it, None)
    sim0 = None if nxt is None else datetime.fromisoformat(str(nxt["ts"])).timestamp()
    while nxt is not None and sim0 is not None and not stop.is_set():
        due = sim0 + (time.time() - wall0) * speed
        while nxt is not None and datetime.fromisoformat(str(nxt["ts"])).timestamp() <= due:
            pending.append(nxt)
            nxt = next(it, None)
        if pending:
            sink(pending)
            handed += len(pending)
            pending = []
        stop.wait(batch_s)
    return handed
