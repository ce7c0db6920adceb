"""Machine state model: intervals cut at period edges, durations per state, shifts."""

from __future__ import annotations

from datetime import UTC, datetime, time

import numpy as np
import pytest

from fabgrid.domain.catalog import Calendar, Shift
from fabgrid.errors import InputError
from fabgrid.telemetry.state import (
    N_STATES,
    Periods,
    fixed_periods,
    shift_periods,
    split_by_period,
    state_durations,
)


def test_split_by_period_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    start = rng.uniform(-50, 1000, 400)
    end = start + rng.exponential(120, 400)
    periods = fixed_periods(0.0, 900.0, 37.0)
    src, bucket, dur = split_by_period(start, end, periods)
    got = np.zeros((400, periods.n))
    np.add.at(got, (src, bucket), dur)
    e = periods.edges
    want = np.clip(np.minimum(end[:, None], e[None, 1:]) - np.maximum(start[:, None], e[None, :-1]), 0, None)
    assert np.allclose(got, want)


def test_state_durations_cover_the_window_after_the_first_event() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    machine = rng.integers(0, 5, n)
    ts = rng.uniform(0, 10_000, n)
    code = rng.integers(0, N_STATES, n)
    periods = fixed_periods(0.0, 10_000.0, 1000.0)
    d = state_durations(machine, ts, code, 5, periods)
    assert d.shape == (5, 10, N_STATES)
    first = np.array([ts[machine == m].min() for m in range(5)])
    assert np.allclose(d.sum(axis=(1, 2)), 10_000.0 - first)


def test_fixed_periods_align_to_epoch_and_reject_empty_window() -> None:
    p = fixed_periods(1800.0, 9000.0, 3600.0)
    assert p.edges.tolist() == [1800.0, 3600.0, 7200.0, 9000.0]
    with pytest.raises(InputError):
        fixed_periods(10.0, 10.0, None)
    with pytest.raises(InputError):
        Periods(edges=np.array([0.0, 0.0]), labels=("x",))


def test_shift_periods_follow_the_site_calendar() -> None:
    cal = Calendar(shifts=(Shift(name="day", start=time(8), end=time(16)),
                           Shift(name="night", start=time(22), end=time(6))), workdays=(0, 1, 2, 3, 4))
    lo = datetime(2026, 11, 20, 0, 0, tzinfo=UTC).timestamp()  # Friday 08:00 in Shanghai
    p = shift_periods(cal, lo, lo + 86400)
    assert p.labels[0] == "2026-11-20 day" and p.edges[1] - p.edges[0] == 8 * 3600
    assert p.labels[1] == "off-shift"
    assert "2026-11-20 night" in p.labels  # Friday night shift runs into Saturday
    assert not any(lbl.startswith("2026-11-21") for lbl in p.labels)  # Saturday is no workday
    assert p.edges[-1] == lo + 86400
