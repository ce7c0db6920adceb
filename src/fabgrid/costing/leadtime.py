"""Lead time from a site's calendar and queued work: ship date per tier, delivery date by distance.

Machine hours run around the clock on working days for unattended (additive) processes and within
the shifts for attended ones (CNC); operator hours within the shifts. Depends on domain only.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from fabgrid.domain.catalog import Calendar

SITE_TZ = ZoneInfo("Asia/Shanghai")
_MAX_DAYS = 3660


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
    """Working days needed for `machine_h` machine hours and `operator_h` operator hours (>= 1)."""
    shift_h = max(calendar.hours_per_workday(), 1e-6)
    machine_day_h = 24.0 if unattended else shift_h
    return max(math.ceil(machine_h / machine_day_h + operator_h / shift_h - 1e-9), 1)


def ship_date(calendar: Calendar, now: datetime, days: int, extra_days: int, cutoff_h: float) -> date:
    """Ship date: work starts the next working day (or today before the cut-off on a working day)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(SITE_TZ)
    today = local.date()
    start = today if (calendar.is_workday(today) and local.hour < cutoff_h) else next_workday(calendar, today)
    # `days` working days including the start day, then extra working days (finishes, economy)
    return add_workdays(calendar, start, days - 1 + extra_days)


def local_today(now: datetime) -> date:
    """The date at the sites (Asia/Shanghai) at instant `now`."""
    return now.astimezone(SITE_TZ).date()


def delivery_date(ship: date, transit_days: int) -> date:
    """Delivery date: calendar days of transit after shipping."""
    return ship + timedelta(days=int(transit_days))
