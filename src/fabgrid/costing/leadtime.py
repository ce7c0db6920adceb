"""Lead time from a site's calendar and queued work: when a job is done, its ship date per tier, delivery.

`completion` runs a job through the site the way its planner does (`scheduling.site`): builds on the
machines that run the material after the queue ahead, each build started by an operator inside a shift,
on-machine and off-machine cool-down, then every follow-up step and the inspection at the stations
(steps that need an operator lie inside one shift). The step rules are handed in (`Routing`). Attended
processes (CNC) cut only within shifts unless a tier buys overtime. A machine in a maintenance window
(`down_windows`) works neither its queue nor a build then. Depends on domain only.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from fabgrid.domain.catalog import Calendar, Catalog, ProcessFamily, Site
from fabgrid.domain.schedule import CoolDown

SITE_TZ = ZoneInfo("Asia/Shanghai")
_MAX_DAYS = 3660
#: Longest time a job may take before the calendar gives up (a year of minutes).
_MAX_MIN = 366 * 1440
#: Figures kept per clock before its memo starts again.
_MEMO_MAX = 20_000


@lru_cache(maxsize=65536)
def next_workday(calendar: Calendar, day: date) -> date:
    """The first working day strictly after `day`."""
    d = day + timedelta(days=1)
    for _ in range(_MAX_DAYS):
        if calendar.is_workday(d):
            return d
        d += timedelta(days=1)
    raise ValueError("the site calendar has no working day in ten years")


@lru_cache(maxsize=65536)
def add_workdays(calendar: Calendar, day: date, n: int) -> date:
    """The n-th working day after `day` (n = 0 gives `day`)."""
    d = day
    for _ in range(max(n, 0)):
        d = next_workday(calendar, d)
    return d


def production_days(calendar: Calendar, machine_h: float, operator_h: float, unattended: bool) -> int:
    """Working days needed for `machine_h` machine hours and `operator_h` operator hours (>= 1): a rough
    figure (the simulator's); quotes use `completion`."""
    shift_h = max(calendar.hours_per_workday(), 1e-6)
    machine_day_h = 24.0 if unattended else shift_h
    return max(math.ceil(machine_h / machine_day_h + operator_h / shift_h - 1e-9), 1)


def ship_date(calendar: Calendar, now: datetime, days: int, extra_days: int, cutoff_h: float) -> date:
    """Ship date after `days` working days counted from today (before the cut-off on a working day) or the
    next working day, then `extra_days` more: the rough rule of `production_days`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(SITE_TZ)
    today = local.date()
    start = today if (calendar.is_workday(today) and local.hour < cutoff_h) else next_workday(calendar, today)
    return add_workdays(calendar, start, days - 1 + extra_days)


def local_today(now: datetime) -> date:
    """The date at the sites (Asia/Shanghai) at instant `now`."""
    return now.astimezone(SITE_TZ).date()


def delivery_date(ship: date, transit_days: int) -> date:
    """Delivery date: calendar days of transit after shipping."""
    return ship + timedelta(days=int(transit_days))


# ---------------------------------------------------------------- the site's clock


class Clock:
    """The shift windows of a calendar as minutes from `origin` (UTC), extended as far as asked."""

    def __init__(self, calendar: Calendar, origin: datetime) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        self.calendar = calendar
        self.origin = origin
        self._day = origin.astimezone(SITE_TZ).date() - timedelta(days=1)
        self.lo: list[int] = []
        self.hi: list[int] = []
        self.longest = 0
        #: results of pure functions of this clock (`completion`), kept for the repeated figures of one quote
        self.memo: dict[object, object] = {}
        self._extend(14 * 1440)

    def _extend(self, until: int) -> None:
        while (not self.hi or self.hi[-1] < until) and (self._day - self.origin.date()).days < _MAX_DAYS:
            day = self._day
            self._day += timedelta(days=1)
            if not self.calendar.is_workday(day):
                continue
            for s in self.calendar.shifts:
                a = datetime.combine(day, s.start, tzinfo=SITE_TZ)
                b = datetime.combine(day, s.end, tzinfo=SITE_TZ)
                if b <= a:
                    b += timedelta(days=1)
                lo = int((a - self.origin).total_seconds() // 60)
                hi = int((b - self.origin).total_seconds() // 60)
                if hi <= 0:
                    continue
                lo = max(lo, 0)
                if self.hi and lo <= self.hi[-1]:  # touching shifts (16:00-24:00, 00:00-08:00) are one window
                    self.hi[-1] = max(self.hi[-1], hi)
                else:
                    self.lo.append(lo)
                    self.hi.append(hi)
                self.longest = max(self.longest, self.hi[-1] - self.lo[-1])

    def _window_from(self, t: int, need: int) -> int:
        """The earliest s >= t inside a window with at least `need` minutes left after s."""
        for _ in range(_MAX_DAYS * 4):
            self._extend(t + 14 * 1440)
            i = bisect.bisect_right(self.hi, t)
            while i < len(self.lo):
                s = max(t, self.lo[i])
                if self.hi[i] - s >= need:
                    return s
                i += 1
            if t > _MAX_MIN:
                break
            t = self.hi[-1] if self.hi else t + 1440
        raise ValueError("the site calendar has no shift long enough in a year")

    def start(self, t: int) -> int:
        """Earliest start >= t for work an operator starts (inside a shift)."""
        return self._window_from(t, 1)

    def staffed(self, t: int, minutes: int) -> tuple[int, int]:
        """(start, end) of work that needs an operator throughout: inside one shift when it fits the longest
        shift, else started in a shift and carried over the following ones (`attended`)."""
        if minutes <= self.longest:
            s = self._window_from(t, minutes)
            return s, s + minutes
        s = self.start(t)
        return s, self.attended(s, minutes)

    def attended(self, t: int, minutes: int) -> int:
        """End of `minutes` of work done only inside shifts, starting at t (split over shifts)."""
        left = minutes
        s = t
        while left > 0:
            s = self._window_from(s, 1)
            i = bisect.bisect_right(self.hi, s)
            take = min(left, self.hi[i] - s)
            left -= take
            s += take
        return s

    def worked(self, a: int, b: int) -> int:
        """Minutes inside shift windows between minute a and minute b."""
        if b <= a:
            return 0
        self._extend(b + 1440)
        total = 0
        i = bisect.bisect_right(self.hi, a)
        while i < len(self.lo) and self.lo[i] < b:
            total += max(0, min(self.hi[i], b) - max(self.lo[i], a))
            i += 1
        return total

    def at(self, minute: int) -> datetime:
        """The UTC instant of a minute offset."""
        return self.origin + timedelta(minutes=minute)


# ---------------------------------------------------------------- a job at a site


@dataclass(frozen=True)
class Routing:
    """What happens to a build after the machine, as the site's planner models it (data/scheduling/routes.yaml):
    cool-down per process, each step's staffing ("full" or "start") and shortest cycle, the inspection, and
    the station kinds that perform each step (finishes.yaml station_kinds)."""

    cool_down: Mapping[str, CoolDown] = field(default_factory=dict)
    attended: Mapping[str, str] = field(default_factory=dict)
    min_h: Mapping[str, float] = field(default_factory=dict)
    default_min_h: float = 0.25
    inspection_s_per_part: float = 60.0
    inspection_min_h: float = 0.25
    station_kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """A follow-up step of every build: minutes, staffing, and the parallel units (0: a pure wait)."""

    name: str
    minutes: int
    staffed: bool
    units: int


@dataclass(frozen=True)
class Job:
    """A line as the site makes it: `builds` machine runs of `build_min` minutes each (on-machine cool-down
    included) on any of `machines` machines, then `steps` per build."""

    builds: int
    build_min: int
    machines: int
    attended: bool
    steps: tuple[Step, ...]
    #: machine hours of one build, without cool-down (what the site's workload plans)
    build_h: float = 0.0

    def station_hours(self) -> dict[str, float]:
        """Hours of station work of all builds per step (what this job adds to the stations' queue)."""
        out: dict[str, float] = {}
        for st in self.steps:
            if st.units:
                out[st.name] = out.get(st.name, 0.0) + st.minutes * self.builds / 60.0
        return out


def _minutes(hours: float) -> int:
    return max(1, math.ceil(hours * 60 - 1e-9))


def build_hours(job_time_s: float, builds: int) -> float:
    """Machine hours of one build as the planner's workload rounds it (0.1 h up, at least 0.1 h)."""
    return max(0.1, math.ceil(job_time_s / 3600.0 / max(builds, 1) * 10 - 1e-9) / 10)


def _units(site: Site, step: str, routing: Routing) -> int:
    n = sum(st.count for st in site.stations if st.kind == step or step in routing.station_kinds.get(st.kind, ()))
    return max(n, 1)


def site_job(site: Site, catalog: Catalog, process: ProcessFamily, machines: int, job_time_s: float, builds: int,
             quantity: int, steps: Sequence[str], area_mm2: float, routing: Routing, attended: bool,
             batch_setup_s: float | None = None) -> Job:
    """The job of `quantity` copies in `builds` builds at `site`: build minutes with on-machine cool-down, and the
    follow-up steps (`steps`: finish ids, the process's own and the buyer's finish) with cool-down off the machine
    and the inspection, each step as long per build as the planner takes it (per-part and per-cm2 time, at least
    the step's shortest cycle).

    `batch_setup_s` (parts made one at a time, machining): the copies are split over the machines in as many
    batches as there are machines (at most one per copy), each batch with its own set-up of that many seconds."""
    if batch_setup_s is not None:
        builds = max(1, min(quantity, machines))
        job_time_s = max(job_time_s - batch_setup_s, 0.0) + builds * batch_setup_s
    builds = max(builds, 1)
    parts = max(1, math.ceil(quantity / builds))
    bh = build_hours(job_time_s, builds)
    cool = routing.cool_down.get(process.value)
    on_machine = cool.hours(bh) if cool and cool.where == "machine" else 0.0
    out: list[Step] = []
    if cool and cool.where == "off":
        out.append(Step("cool_down", _minutes(cool.hours(bh)), False, 0))
    area_cm2 = area_mm2 / 100.0
    for sid in steps:
        fin = catalog.finishes.get(sid)
        per_part_s = (fin.time_s_per_part + fin.time_s_per_cm2 * area_cm2) if fin else 0.0
        h = max(routing.min_h.get(sid, routing.default_min_h), parts * per_part_s / 3600.0)
        out.append(Step(sid, _minutes(h), routing.attended.get(sid, "full") == "full", _units(site, sid, routing)))
    h = max(routing.inspection_min_h, parts * routing.inspection_s_per_part / 3600.0)
    out.append(Step("inspection", _minutes(h), True, _units(site, "inspection", routing)))
    return Job(builds=builds, build_min=_minutes(bh + on_machine), machines=max(machines, 1), attended=attended,
               steps=tuple(out), build_h=bh)


#: Per machine of a job, its down intervals as (from, to) minutes of the clock, sorted and disjoint.
Down = tuple[tuple[tuple[int, int], ...], ...]


def down_windows(site: Site, origin: datetime, machine_ids: Sequence[str]) -> Down:
    """The maintenance windows of `machine_ids` at `site` (the site's own and each machine's), per machine, as
    minutes from `origin`: a window is its days from 00:00 to 24:00 site time. () when none lies ahead."""
    if not site.maintenance:
        return ()
    out: list[tuple[tuple[int, int], ...]] = []
    for mid in machine_ids:
        spans = []
        for w in site.maintenance:
            if w.machine_id is not None and w.machine_id != mid:
                continue
            lo = int((datetime.combine(w.start, time(0), tzinfo=SITE_TZ) - origin).total_seconds() // 60)
            hi = int((datetime.combine(w.end + timedelta(days=1), time(0), tzinfo=SITE_TZ) - origin
                      ).total_seconds() // 60)
            if hi > 0:
                spans.append((max(lo, 0), hi))
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        out.append(tuple(merged))
    return tuple(out) if any(out) else ()


def _work(clk: Clock, t: int, minutes: int, continuous: bool, down: Sequence[tuple[int, int]]) -> int:
    """End of `minutes` of machine work from t (through the night when `continuous`, else within shifts), paused
    over the machine's down intervals."""
    left = minutes
    for lo, hi in down:
        if hi <= t:
            continue
        end = t + left if continuous else clk.attended(t, left)
        if lo >= end:
            return end
        if lo > t:
            left -= (lo - t) if continuous else clk.worked(t, lo)
        t = max(t, hi)
    return t + left if continuous else clk.attended(t, left)


def completion(clk: Clock, job: Job, queue_min: float, release_min: int = 0, overtime: bool = False,
               station_min: Mapping[str, float] | None = None, down: Down = ()) -> int:
    """Minute (from the clock's origin) at which the last step of the job's last build ends.

    Every machine is busy for `queue_min` minutes of machine time first (the queue ahead, spread over the
    machines); builds go to the machine free first, an operator starts each inside a shift; with `overtime`
    (or an unattended process) a build then runs through the night, else only within shifts. `station_min`
    gives the minutes of queued work per step at the stations (spread over their units, done within shifts).
    `down` (`down_windows`): per machine the intervals it is in maintenance; its queue pauses over them and no
    build runs across them. Kept on the clock per job and queue (sites that share a calendar and a job share the
    figure)."""
    key = ("completion", job, queue_min, release_min, overtime,
           tuple(sorted(station_min.items())) if station_min else (), down)
    hit = clk.memo.get(key)
    if hit is None:
        if len(clk.memo) > _MEMO_MAX:
            clk.memo.clear()
        hit = clk.memo[key] = _completion(clk, job, queue_min, release_min, overtime, station_min, down)
    assert isinstance(hit, int)
    return hit


def _build_end(clk: Clock, job: Job, t: int, continuous: bool, down: Sequence[tuple[int, int]]) -> int:
    """End of one build on a machine free at t: started by an operator in a shift, after any window it would cross."""
    s = clk.start(t)
    e = s + job.build_min if continuous else clk.attended(s, job.build_min)
    for lo, hi in down:  # a build does not run across a maintenance window: it starts after it
        if lo < e and hi > s:
            s = clk.start(hi)
            e = s + job.build_min if continuous else clk.attended(s, job.build_min)
    return e


def _completion(clk: Clock, job: Job, queue_min: float, release_min: int, overtime: bool,
                station_min: Mapping[str, float] | None, down: Down = ()) -> int:
    cont = overtime or not job.attended
    downs = [tuple(d) for d in down[:job.machines]] + [()] * max(0, job.machines - len(down))
    q = max(0, math.ceil(queue_min))
    free = [(_work(clk, max(release_min, 0), q, cont, downs[i]) if q and downs[i]
             else (release_min + q if cont else clk.attended(release_min, q)) if q else max(release_min, 0), i)
            for i in range(job.machines)]
    heapq.heapify(free)
    units: dict[str, list[int]] = {}
    done = 0
    for _ in range(job.builds):
        if down:  # the machine that ends the build first, its windows counted
            t, i = min(free, key=lambda f: (_build_end(clk, job, f[0], cont, downs[f[1]]), f[1]))
            free.remove((t, i))
        else:
            t, i = heapq.heappop(free)
        e = _build_end(clk, job, t, cont, downs[i])
        if down:
            free.append((e, i))
        else:
            heapq.heappush(free, (e, i))
        ready = e
        for st in job.steps:
            if st.units == 0:
                ready += st.minutes
                continue
            if st.name not in units:
                backlog = math.ceil((station_min or {}).get(st.name, 0.0) / st.units)
                units[st.name] = [clk.attended(release_min, backlog) if backlog else 0] * st.units
            pool = units[st.name]
            u = min(range(len(pool)), key=pool.__getitem__)
            t0 = max(ready, pool[u])
            if st.staffed:
                _, e0 = clk.staffed(t0, st.minutes)
            else:
                e0 = clk.start(t0) + st.minutes
            pool[u] = e0
            ready = e0
        done = max(done, ready)
    return done


def ship_after(calendar: Calendar, done: datetime, cutoff_h: float, extra_days: int = 0) -> date:
    """Ship date of work done at `done`: that day when it is a working day and the work is done by the dispatch
    cut-off (local hour), else the next working day; then `extra_days` working days more."""
    local = done.astimezone(SITE_TZ)
    day = local.date()
    if not calendar.is_workday(day) or local.hour + local.minute / 60.0 + local.second / 3600.0 > cutoff_h:
        day = next_workday(calendar, day)
    return add_workdays(calendar, day, extra_days)


def ship_deadline(ship: date, cutoff_h: float) -> datetime:
    """The latest instant (UTC) work may end to ship on `ship`: the dispatch cut-off of that day, site time."""
    h = int(cutoff_h)
    m = round((cutoff_h - h) * 60)
    return datetime(ship.year, ship.month, ship.day, h, m, tzinfo=SITE_TZ).astimezone(UTC)


@lru_cache(maxsize=1024)
def clock(calendar: Calendar, origin: datetime) -> Clock:
    """The clock of a calendar from `origin` (kept for repeated quotes at one instant)."""
    return Clock(calendar, origin)
