"""Machine state model: time spent per state, per machine and per period (hours, days, shifts).

Pure, vectorised numpy over whole event arrays (no per-event Python loops). A state holds from its
event until the machine's next state event (or the window end). Depends on numpy and domain only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.catalog import Calendar
from fabgrid.domain.telemetry import STATE_ORDER, MachineState
from fabgrid.errors import InputError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

STATE_CODE: dict[MachineState, int] = {s: i for i, s in enumerate(STATE_ORDER)}
N_STATES = len(STATE_ORDER)
SITE_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Periods:
    """Contiguous buckets ``[edges[i], edges[i+1])`` in epoch seconds (UTC), with a label each."""

    edges: F64
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.edges.ndim != 1 or self.edges.size < 2 or np.any(np.diff(self.edges) <= 0):
            raise InputError("period edges must be at least two strictly increasing times",
                             hint="check --from/--to", code="telemetry.period")
        if len(self.labels) != self.edges.size - 1:
            raise InputError("one label per period is needed", code="telemetry.period")

    @property
    def n(self) -> int:
        """Number of periods."""
        return int(self.edges.size - 1)

    def bucket(self, ts: F64) -> I64:
        """Period index of each time in `ts`, shape (n,); -1 outside the periods."""
        b = np.searchsorted(self.edges, ts, side="right").astype(np.int64) - 1
        b[(b < 0) | (b >= self.n)] = -1
        return b


def fixed_periods(t_from: float, t_to: float, period_s: float | None) -> Periods:
    """Buckets of `period_s` seconds aligned to the UTC epoch (one bucket when `period_s` is None)."""
    if t_to <= t_from:
        raise InputError(f"the window is empty: --to ({_iso(t_to)}) is not after --from ({_iso(t_from)})",
                         hint="give --to later than --from", code="telemetry.window")
    if period_s is None:
        edges = np.array([t_from, t_to])
    else:
        first = np.floor(t_from / period_s) * period_s
        inner = np.arange(first + period_s, t_to, period_s)
        edges = np.concatenate(([t_from], inner[inner > t_from], [t_to]))
    labels = tuple(_iso(e) for e in edges[:-1])
    return Periods(edges=edges.astype(np.float64), labels=labels)


def shift_periods(calendar: Calendar, t_from: float, t_to: float, tz: ZoneInfo = SITE_TZ) -> Periods:
    """Buckets for the shifts of `calendar` (local time `tz`) and the off-shift gaps between them.

    Labels are ``"YYYY-MM-DD <shift name>"`` (the local date the shift starts on) or ``"off-shift"``.
    """
    if t_to <= t_from:
        raise InputError("the window is empty", hint="give --to later than --from", code="telemetry.window")
    day = datetime.fromtimestamp(t_from, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(t_to, tz).date()
    spans: list[tuple[float, float, str]] = []
    while day <= last:
        if calendar.is_workday(day):
            for s in calendar.shifts:
                start = _local(day, s.start.hour, s.start.minute, tz)
                end = _local(day, s.end.hour, s.end.minute, tz)
                if end <= start:
                    end = _local(day + timedelta(days=1), s.end.hour, s.end.minute, tz)
                lo, hi = max(start, t_from), min(end, t_to)
                if hi > lo:
                    spans.append((lo, hi, f"{day.isoformat()} {s.name}"))
        day += timedelta(days=1)
    spans.sort()
    edges: list[float] = [t_from]
    labels: list[str] = []
    for lo, hi, name in spans:
        if lo > edges[-1]:
            labels.append("off-shift")
            edges.append(lo)
        elif lo < edges[-1]:
            lo = edges[-1]  # overlapping shifts: the earlier one keeps the overlap
            if hi <= lo:
                continue
        labels.append(name)
        edges.append(hi)
    if edges[-1] < t_to:
        labels.append("off-shift")
        edges.append(t_to)
    return Periods(edges=np.asarray(edges, dtype=np.float64), labels=tuple(labels))


def sort_events(machine: I64, ts: F64) -> I64:
    """Order that sorts events by machine, then time (stable for equal times), shape (n,)."""
    return np.lexsort((ts, machine)).astype(np.int64)


def hold_intervals(machine: I64, ts: F64, t_end: float) -> tuple[F64, F64]:
    """Start and end of the interval each event holds: until the same machine's next event.

    `machine` and `ts` must be sorted by machine then time (see `sort_events`). The last event of
    each machine holds until `t_end`. Returns ``(start, end)``, each shape (n,).
    """
    end = np.empty_like(ts)
    if ts.size:
        end[:-1] = ts[1:]
        end[-1] = t_end
        last = np.flatnonzero(machine[1:] != machine[:-1])
        end[last] = t_end
    return ts, end


def split_by_period(start: F64, end: F64, periods: Periods) -> tuple[I64, I64, F64]:
    """Cut intervals at period edges.

    Returns ``(source, bucket, duration_s)``: for every piece, the index of its interval, its
    period index and its length; intervals outside the periods give no piece.
    """
    lo = np.maximum(start, periods.edges[0])
    hi = np.minimum(end, periods.edges[-1])
    keep = np.flatnonzero(hi > lo)
    lo, hi = lo[keep], hi[keep]
    b0 = np.searchsorted(periods.edges, lo, side="right").astype(np.int64) - 1
    b1 = np.searchsorted(periods.edges, hi, side="left").astype(np.int64) - 1
    n = b1 - b0 + 1
    src = np.repeat(np.arange(keep.size), n)
    offset = np.arange(src.size) - np.repeat(np.cumsum(n) - n, n)
    bucket = b0[src] + offset
    p_lo = np.maximum(lo[src], periods.edges[bucket])
    p_hi = np.minimum(hi[src], periods.edges[bucket + 1])
    return keep[src], bucket, p_hi - p_lo


def state_durations(machine: I64, ts: F64, code: I64, n_machines: int, periods: Periods) -> F64:
    """Seconds spent in each state, shape (n_machines, n_periods, N_STATES).

    `machine` (machine index), `ts` (epoch s) and `code` (index into STATE_ORDER) describe state
    events in any order. Time before a machine's first state event is not counted in any state.
    """
    order = sort_events(machine, ts)
    m, t, c = machine[order], ts[order], code[order]
    start, end = hold_intervals(m, t, float(periods.edges[-1]))
    src, bucket, dur = split_by_period(start, end, periods)
    key = (m[src] * periods.n + bucket) * N_STATES + c[src]
    out = np.bincount(key, weights=dur, minlength=n_machines * periods.n * N_STATES)
    return out.reshape(n_machines, periods.n, N_STATES).astype(np.float64, copy=False)


def held_integral(machine: I64, ts: F64, value: F64, n_machines: int, periods: Periods) -> F64:
    """Integral over time of a value held until the machine's next sample, shape (n_machines, n_periods).

    Used for power samples: W x s. Events in any order.
    """
    order = sort_events(machine, ts)
    m, t, v = machine[order], ts[order], value[order]
    start, end = hold_intervals(m, t, float(periods.edges[-1]))
    src, bucket, dur = split_by_period(start, end, periods)
    out = np.bincount(m[src] * periods.n + bucket, weights=v[src] * dur, minlength=n_machines * periods.n)
    return out.reshape(n_machines, periods.n).astype(np.float64, copy=False)


def bucket_sum(machine: I64, ts: F64, value: F64, n_machines: int, periods: Periods) -> F64:
    """Sum of point values (counts, kWh deltas) per machine and period, shape (n_machines, n_periods)."""
    b = periods.bucket(ts)
    ok = b >= 0
    out = np.bincount(machine[ok] * periods.n + b[ok], weights=value[ok], minlength=n_machines * periods.n)
    return out.reshape(n_machines, periods.n).astype(np.float64, copy=False)


def spread_sum(machine: I64, start: F64, end: F64, value: F64, n_machines: int, periods: Periods) -> F64:
    """Sum of values spread evenly over their interval ``[start, end]`` per machine and period,
    shape (n_machines, n_periods); an interval of zero length counts as a point at `end`."""
    point = end <= start
    out = bucket_sum(machine[point], end[point], value[point], n_machines, periods)
    span = np.flatnonzero(~point)
    if span.size:
        lo, hi = start[span], end[span]
        src, bucket, dur = split_by_period(lo, hi, periods)
        share = value[span][src] * dur / (hi - lo)[src]
        out += np.bincount(machine[span][src] * periods.n + bucket, weights=share,
                           minlength=n_machines * periods.n).reshape(n_machines, periods.n)
    return out


def held_at(machine: I64, ts: F64, value: F64, n_machines: int, times: F64) -> F64:
    """The value of each machine's latest event before each of `times`, shape (n_machines, len(times)); NaN
    where the machine has no event before it. Events in any order (ties: the later in the arrays wins)."""
    out = np.full((n_machines, times.size), np.nan)
    order = sort_events(machine, ts)
    m, t, v = machine[order], ts[order], value[order]
    bounds = np.searchsorted(m, np.arange(n_machines + 1))
    for i in range(n_machines):
        lo, hi = bounds[i], bounds[i + 1]
        if hi == lo:
            continue
        k = np.searchsorted(t[lo:hi], times, side="left") - 1  # the last event strictly before each time
        ok = k >= 0
        out[i, ok] = v[lo:hi][k[ok]]
    return out


def _local(day: date, hour: int, minute: int, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(float(t), UTC).isoformat().replace("+00:00", "Z")
