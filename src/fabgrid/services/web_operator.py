"""Use cases of the park operator's pages: the load of every site (open orders, queued machine hours from the
quoted estimates against the site's daily machine hours, closures) and the network KPIs (orders, value,
on-time delivery, and ISO 22400 OEE of the last 8 hours, one shift, from stored telemetry when there is any).

Thin glue over the store, the catalog and services.telemetry; never imports api, web or cli.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.order import QUEUED_AT_SITE, OrderStatus
from fabgrid.errors import InputError
from fabgrid.services import network
from fabgrid.services._util import utc
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: The telemetry KPIs cover the last 8 hours and are recomputed at most once a minute per database: reading
#: the events back is the slow part (about 20,000 events per second on the development machine).
KPI_WINDOW = timedelta(hours=8)
KPI_TTL_S = 60.0
_kpi_cache: dict[str, tuple[float, dict[str, float | None] | None]] = {}
_kpi_lock = threading.Lock()
_kpi_running: set[str] = set()


def _operator(who: Principal) -> None:
    if who.role not in ("operator", "admin"):
        raise InputError("this needs an operator account", code="operator.only", status=403)


def site_loads(settings: Settings, who: Principal, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per site: open order lines, queued machine hours (`services.network.open_machine_hours`), machine hours per
    workday, load in workdays, closure."""
    _operator(who)
    now = now or datetime.now(UTC)
    with UnitOfWork(settings.database_url) as uow:
        sites = network.current(uow).network.sites.values()
        out: dict[str, dict[str, Any]] = {
            s.id: {"open_orders": 0, "queued_h": 0.0, "capacity_h_per_day": s.calendar.hours_per_workday()
                   * len(s.machines), "closed_until": None} for s in sites}
        for (site_id, _process), hours in network.open_machine_hours(uow).items():
            if site_id in out:
                out[site_id]["queued_h"] += hours
        for ln in uow.orders.lines(statuses=QUEUED_AT_SITE):
            if ln.site_id in out:
                out[ln.site_id]["open_orders"] += 1
        for d in uow.disruptions.find(limit=1000):
            until = utc(d.created_at) + timedelta(days=d.days)
            if until > now and d.site_id in out:
                prev = out[d.site_id]["closed_until"]
                out[d.site_id]["closed_until"] = max(prev, until.isoformat()) if prev else until.isoformat()
    for v in out.values():
        cap = v["capacity_h_per_day"]
        v["load_days"] = v["queued_h"] / cap if cap > 0 else math.inf
    return out


def network_kpis(settings: Settings, who: Principal, now: datetime | None = None) -> dict[str, Any]:
    """Orders by status, open and total value (CNY), on-time delivery rate of delivered lines, and the
    network's ISO 22400 KPIs over the last 8 hours of stored telemetry (None without telemetry, "computing" while
    the first figures are being computed in the background)."""
    _operator(who)
    now = now or datetime.now(UTC)
    by_status: Counter[str] = Counter()
    value_cny = 0.0
    delivered = on_time = 0
    with UnitOfWork(settings.database_url) as uow:
        for o in uow.orders.find(limit=100_000, with_events=False):
            by_status[o.status.value] += 1
            value_cny += o.total_price_cny
            for ln in o.lines:
                if ln.status is OrderStatus.DELIVERED:
                    at = uow.orders.delivered_at(ln.id)
                    if at is not None:
                        delivered += 1
                        on_time += at.date() <= ln.delivery_date
    doc: dict[str, Any] = {"orders": sum(by_status.values()), "by_status": dict(by_status), "value_cny": value_cny,
                           "delivered": delivered, "on_time_rate": on_time / delivered if delivered else None,
                           "telemetry": _telemetry_kpis(settings, now)}
    return doc


def _telemetry_kpis(settings: Settings, now: datetime) -> dict[str, float | None] | str | None:
    """The cached KPIs; when missing or older than the TTL a background thread recomputes them (the page never
    waits on it). Returns the KPIs, None (no telemetry), or "computing" before the first result."""
    url = settings.database_url
    with _kpi_lock:
        hit = _kpi_cache.get(url)
        fresh = hit is not None and time.monotonic() - hit[0] < KPI_TTL_S
        if not fresh and url not in _kpi_running:
            _kpi_running.add(url)
            threading.Thread(target=_refresh, args=(settings, now), name="fabgrid-kpis", daemon=True).start()
    return hit[1] if hit is not None else "computing"


def _refresh(settings: Settings, now: datetime) -> None:
    try:
        value = _compute_telemetry_kpis(settings, now)
        with _kpi_lock:
            _kpi_cache[settings.database_url] = (time.monotonic(), value)
    finally:
        with _kpi_lock:
            _kpi_running.discard(settings.database_url)


def _compute_telemetry_kpis(settings: Settings, now: datetime) -> dict[str, float | None] | None:
    from fabgrid.services.telemetry import kpis_from_store
    from fabgrid.store.db import StoreError

    try:
        table = kpis_from_store(settings.database_url, now - KPI_WINDOW, now)
    except (StoreError, InputError):
        return None
    if not table.machines:
        return None
    net = table.kpis["network"]
    pick = ("availability", "effectiveness", "quality_ratio", "oee", "first_pass_yield")
    out: dict[str, float | None] = {}
    for k in pick:
        v = float(net[k][0, -1])
        out[k] = None if math.isnan(v) else v
    out["energy_kwh"] = float(table.elements["network"]["energy_kwh"][0, -1])
    out["machines"] = float(len(table.machines))
    return out
