"""Use cases of the park operator's pages and KPIs: the load of every site (open lines, queued machine hours from
the quoted estimates against the site's daily machine hours, closures and disruptions in force), the network
summary, and the KPI report of a window (issue 22, item 3): ISO 22400-2 OEE with its three factors and elements,
utilisation, energy and CO2 per site or for the network, with a trend, computed by the same telemetry KPI code as
`fabgrid kpi` (`telemetry.kpi.compute`, `KpiTable.rows`), beside on-time delivery, lead time, value and cost per
machine-hour and open work by status from the orders.

Typed records out (`SiteLoad`, `NetworkSummary`, `KpiReport`); only api/ and web/ make JSON or HTML of them.
Thin glue over the store, services.network/telemetry/disruptions; never imports api, web or cli.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fabgrid.config import Settings
from fabgrid.domain.disruption import DisruptionKind
from fabgrid.domain.order import QUEUED_AT_SITE, OrderStatus
from fabgrid.domain.telemetry import Kpis
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import disruptions, network
from fabgrid.services._util import utc
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: The summary's telemetry KPIs cover the last 8 hours and are recomputed at most once a minute per database:
#: reading the events back is the slow part (about 20,000 events per second on the development machine).
KPI_WINDOW = timedelta(hours=8)
KPI_TTL_S = 60.0
#: KPI windows: (length, length of one trend period).
WINDOWS: dict[str, tuple[timedelta, timedelta]] = {
    "shift": (timedelta(hours=8), timedelta(hours=1)), "day": (timedelta(days=1), timedelta(hours=1)),
    "week": (timedelta(days=7), timedelta(days=1)), "30d": (timedelta(days=30), timedelta(days=1))}
SCOPES = ("network", "site")
#: Said with every KPI report: where its machine figures come from.
SIMULATED_NOTE = ("OEE, availability, performance, quality, utilisation, energy and CO2 come from the machine "
                  "events stored for the window; machines without a linked print host or OPC UA server report "
                  "through the simulated fleet (`fabgrid fleet`, the live demo), so their figures are simulated. "
                  "On-time delivery, lead time, value and open work come from the orders.")


@dataclass(frozen=True)
class SiteLoad:
    """One site's load: open lines, queued machine hours, machine hours per workday, load in workdays, until when it
    is closed, and the disruptions in force or scheduled there (kind: target)."""

    site_id: str
    open_lines: int
    queued_h: float
    capacity_h_per_day: float
    load_days: float
    closed_until: datetime | None = None
    disruptions: tuple[str, ...] = ()

    @property
    def closed(self) -> bool:
        """Closed (a site disruption in force, or the older close-N-days)."""
        return self.closed_until is not None


@dataclass(frozen=True)
class TelemetrySummary:
    """The network's ISO 22400 KPIs over the last 8 hours."""

    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    first_pass_yield: float | None
    energy_kwh: float
    machines: int


@dataclass(frozen=True)
class NetworkSummary:
    """Orders by status, their value, on-time delivery of delivered lines, open lines by status, and the telemetry
    KPIs (None: no telemetry; `computing`: the first figures are being computed in the background)."""

    orders: int
    by_status: dict[str, int]
    open_lines: dict[str, int]
    value_cny: float
    delivered: int
    on_time_rate: float | None
    telemetry: TelemetrySummary | None
    computing: bool = False

    @property
    def open_total(self) -> int:
        """Lines not yet delivered (every status from placed to shipped)."""
        return sum(self.open_lines.values())


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of a window for the network or one site: the telemetry KPIs of the whole window (`total`, None
    without events) and per trend period, and the order figures of the window."""

    scope: str
    site: str | None
    window: str
    start: datetime
    end: datetime
    period_s: float
    total: Kpis | None
    trend: tuple[Kpis, ...]
    machines: int
    delivered_lines: int
    on_time_rate: float | None
    lead_time_days_median: float | None
    open_by_status: dict[str, int]
    delivered_value_cny: float
    delivered_machine_h: float
    note: str = SIMULATED_NOTE
    sites: tuple[str, ...] = field(default=())

    @property
    def utilisation(self) -> float | None:
        """Utilisation: actual production time over planned operation time (APT / POT)."""
        e = self.total.elements if self.total is not None else None
        return e.apt_s / e.pot_s if e is not None and e.pot_s > 0 else None

    @property
    def utilization_efficiency(self) -> float | None:
        """ISO 22400-2 utilisation efficiency: APT / AUBT."""
        e = self.total.elements if self.total is not None else None
        return e.apt_s / e.aubt_s if e is not None and e.aubt_s > 0 else None

    @property
    def machine_h(self) -> float:
        """Machine hours producing in the window (APT)."""
        return self.total.elements.apt_s / 3600.0 if self.total is not None else 0.0

    @property
    def value_added_cny_per_machine_h(self) -> float | None:
        """Value added of the counted parts per producing machine hour."""
        h = self.machine_h
        return self.total.elements.value_added_cny / h if self.total is not None and h > 0 else None

    @property
    def cost_cny_per_machine_h(self) -> float | None:
        """What buyers paid per machine hour of the lines delivered in the window (their price over the quoted
        machine hours)."""
        return self.delivered_value_cny / self.delivered_machine_h if self.delivered_machine_h > 0 else None


_kpi_cache: dict[str, tuple[float, TelemetrySummary | None]] = {}
_kpi_lock = threading.Lock()
_kpi_running: set[str] = set()


def _operator(who: Principal) -> None:
    if who.role not in ("operator", "admin"):
        raise InputError("this needs an operator account", code="operator.only", status=403)


def site_loads(settings: Settings, who: Principal, now: datetime | None = None) -> dict[str, SiteLoad]:
    """Per site: open lines, queued machine hours (`services.network.open_machine_hours`), machine hours per workday,
    load in workdays, closure, and the disruptions in force or scheduled."""
    _operator(who)
    now = now or datetime.now(UTC)
    in_force = disruptions.in_force(settings, now)
    with UnitOfWork(settings.database_url) as uow:
        net = network.current(uow).network
        queued: dict[str, float] = {}
        for (site_id, _process), hours in network.open_machine_hours(uow).items():
            queued[site_id] = queued.get(site_id, 0.0) + hours
        lines: Counter[str] = Counter(ln.site_id for ln in uow.orders.lines(statuses=QUEUED_AT_SITE) if ln.site_id)
        closed: dict[str, datetime] = {}
        for d in uow.disruptions.find(limit=1000):
            until = utc(d.created_at) + timedelta(days=d.days)
            if until > now:
                closed[d.site_id] = max(closed.get(d.site_id, until), until)
    machine_site = {m.id: s.id for s in net.sites.values() for m in s.machines}
    touched: dict[str, list[str]] = {}
    for nd in in_force:
        sid = nd.target if nd.kind is DisruptionKind.SITE else machine_site.get(nd.target)
        if nd.kind is DisruptionKind.SITE and nd.start <= now:
            until = nd.end or now + timedelta(days=disruptions.HORIZON_DAYS)
            closed[nd.target] = max(closed.get(nd.target, until), until)
        if sid is not None:
            touched.setdefault(sid, []).append(f"{nd.kind.value}: {nd.target}")
        elif nd.kind is DisruptionKind.PROVINCE:
            for s in net.sites.values():
                if s.province.casefold() == nd.target.casefold():
                    touched.setdefault(s.id, []).append(f"{nd.kind.value}: {nd.target}")
    out = {}
    for s in net.sites.values():
        cap = s.calendar.hours_per_workday() * len(s.machines)
        h = queued.get(s.id, 0.0)
        out[s.id] = SiteLoad(site_id=s.id, open_lines=lines[s.id], queued_h=h, capacity_h_per_day=cap,
                             load_days=h / cap if cap > 0 else math.inf, closed_until=closed.get(s.id),
                             disruptions=tuple(touched.get(s.id, ())))
    return out


def network_kpis(settings: Settings, who: Principal, now: datetime | None = None) -> NetworkSummary:
    """Orders by status, open lines by status, value (CNY), on-time delivery of delivered lines, and the network's
    ISO 22400 KPIs over the last 8 hours of stored telemetry (computed in the background, cached a minute)."""
    _operator(who)
    now = now or datetime.now(UTC)
    by_status: Counter[str] = Counter()
    open_lines: Counter[str] = Counter()
    value_cny = 0.0
    delivered = on_time = 0
    with UnitOfWork(settings.database_url) as uow:
        for o in uow.orders.find(limit=100_000, with_events=False):
            by_status[o.status.value] += 1
            value_cny += o.total_price_cny
            for ln in o.lines:
                if ln.status not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED):
                    open_lines[ln.status.value] += 1
                if ln.status is OrderStatus.DELIVERED:
                    at = uow.orders.delivered_at(ln.id)
                    if at is not None:
                        delivered += 1
                        on_time += at.date() <= ln.delivery_date
    telemetry, computing = _telemetry_kpis(settings, now)
    return NetworkSummary(orders=sum(by_status.values()), by_status=dict(by_status), open_lines=dict(open_lines),
                          value_cny=value_cny, delivered=delivered,
                          on_time_rate=on_time / delivered if delivered else None, telemetry=telemetry,
                          computing=computing)


def _telemetry_kpis(settings: Settings, now: datetime) -> tuple[TelemetrySummary | None, bool]:
    """The cached KPIs; when missing or older than the TTL a background thread recomputes them (the page never
    waits on it). Returns the KPIs (None: no telemetry) and whether the first result is still being computed."""
    url = settings.database_url
    with _kpi_lock:
        hit = _kpi_cache.get(url)
        fresh = hit is not None and time.monotonic() - hit[0] < KPI_TTL_S
        if not fresh and url not in _kpi_running:
            _kpi_running.add(url)
            threading.Thread(target=_refresh, args=(settings, now), name="fabgrid-kpis", daemon=True).start()
    return (hit[1], False) if hit is not None else (None, True)


def _refresh(settings: Settings, now: datetime) -> None:
    try:
        value = _compute_telemetry_kpis(settings, now)
        with _kpi_lock:
            _kpi_cache[settings.database_url] = (time.monotonic(), value)
    finally:
        with _kpi_lock:
            _kpi_running.discard(settings.database_url)


def _opt(v: float) -> float | None:
    return None if math.isnan(v) else v


def _compute_telemetry_kpis(settings: Settings, now: datetime) -> TelemetrySummary | None:
    from fabgrid.services.telemetry import kpis_from_store
    from fabgrid.store.db import StoreError

    try:
        table = kpis_from_store(settings.database_url, now - KPI_WINDOW, now)
    except (StoreError, InputError):
        return None
    if not table.machines:
        return None
    net = table.kpis["network"]
    return TelemetrySummary(availability=_opt(float(net["availability"][0, -1])),
                            effectiveness=_opt(float(net["effectiveness"][0, -1])),
                            quality_ratio=_opt(float(net["quality_ratio"][0, -1])), oee=_opt(float(net["oee"][0, -1])),
                            first_pass_yield=_opt(float(net["first_pass_yield"][0, -1])),
                            energy_kwh=float(table.elements["network"]["energy_kwh"][0, -1]),
                            machines=len(table.machines))


def kpi_report(settings: Settings, who: Principal, scope: str = "network", site: str | None = None,
               window: str = "day", now: datetime | None = None) -> KpiReport:
    """The KPIs of the last `window` (shift 8 h, day, week, 30d) for the network or one site, with a trend (hours
    for a shift or a day, days for a week or 30 days): the rows `fabgrid kpi --period ... --json` prints for the same
    events and window, and the order figures of the window. 422 for an unknown scope or window, 404 for a site the
    network does not have."""
    _operator(who)
    if window not in WINDOWS:
        raise InputError(f"window {window!r} is not one of {', '.join(WINDOWS)}", code="kpi.window")
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r} is not network or site", code="kpi.scope")
    if scope == "site" and not site:
        raise InputError("scope=site needs site=<site id>", code="kpi.site")
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    length, step = WINDOWS[window]
    start = end - length
    with UnitOfWork(settings.database_url) as uow:
        net = network.current(uow).network
        if scope == "site" and site not in net.sites:
            raise NotFoundError(f"site {site!r} is not in the network", hint="GET /api/v1/sites lists them",
                                code="kpi.site")
        factors = {s.id: s.grid_co2_kg_per_kwh for s in net.sites.values()}
        orders = uow.orders.find(site_id=site if scope == "site" else None, limit=100_000, with_events=False)
        delivered: list[tuple[float, bool, float, float]] = []
        open_by: Counter[str] = Counter()
        for o in orders:
            for ln in o.lines:
                if scope == "site" and ln.site_id != site:
                    continue
                if ln.status not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED):
                    open_by[ln.status.value] += 1
                elif ln.status is OrderStatus.DELIVERED:
                    at = uow.orders.delivered_at(ln.id)
                    if at is not None and start <= utc(at) < end:
                        lead = (utc(at) - utc(o.created_at)).total_seconds() / 86400.0
                        delivered.append((lead, at.date() <= ln.delivery_date, ln.total_price_cny, ln.machine_h))
    total, trend, machines, sites = _telemetry_rows(settings, start, end, step, factors, scope, site)
    return KpiReport(
        scope=scope, site=site if scope == "site" else None, window=window, start=start, end=end,
        period_s=step.total_seconds(), total=total, trend=trend, machines=machines,
        delivered_lines=len(delivered),
        on_time_rate=sum(1 for d in delivered if d[1]) / len(delivered) if delivered else None,
        lead_time_days_median=round(statistics.median(d[0] for d in delivered), 3) if delivered else None,
        open_by_status={s.value: open_by[s.value] for s in OrderStatus
                        if s not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)},
        delivered_value_cny=round(sum(d[2] for d in delivered), 2), delivered_machine_h=sum(d[3] for d in delivered),
        sites=sites)


def _telemetry_rows(settings: Settings, start: datetime, end: datetime, step: timedelta, factors: dict[str, float],
                    scope: str, site: str | None) -> tuple[Kpis | None, tuple[Kpis, ...], int, tuple[str, ...]]:
    from fabgrid.services.telemetry import kpis_from_store
    from fabgrid.store.db import StoreError

    try:
        table = kpis_from_store(settings.database_url, start, end, period_s=step.total_seconds())
    except StoreError:
        return None, (), 0, ()
    if not table.machines:
        return None, (), 0, ()
    rows = [r for r in table.rows(factors) if r.scope == scope and (scope == "network" or r.key == site)]
    first = datetime.fromtimestamp(float(table.periods.edges[0]), UTC)  # the hour of `start` when rolled up
    whole = [r for r in rows if (r.period_start, r.period_end) == (first, end)]
    trend = tuple(r for r in rows if r not in whole)
    machines = sum(1 for s in table.machine_site if scope == "network" or s == site)
    return (whole[0] if whole else None), trend, machines, tuple(table.sites)


@dataclass(frozen=True)
class CutRoute:
    """A route disruption in force or scheduled, with its two cities' coordinates (for the map)."""

    disruption_id: str
    from_city: str
    to_city: str
    from_lon: float
    from_lat: float
    to_lon: float
    to_lat: float


def cut_routes(settings: Settings, who: Principal, now: datetime | None = None) -> list[CutRoute]:
    """The route disruptions in force or scheduled whose two cities the logistics data or a site places."""
    _operator(who)
    routes = [d for d in disruptions.in_force(settings, now) if d.kind is DisruptionKind.ROUTE]
    if not routes:
        return []
    with UnitOfWork(settings.database_url) as uow:
        data = network.current(uow)
    where = {s.city.casefold(): (s.lon, s.lat) for s in data.network.sites.values()}
    where |= {c.name.casefold(): (c.lon, c.lat) for c in data.logistics.cities.values()}
    out = []
    for d in routes:
        a, _, b = d.target.partition(":")
        pa, pb = where.get(a.casefold()), where.get(b.casefold())
        if pa is not None and pb is not None:
            out.append(CutRoute(d.id, a, b, pa[0], pa[1], pb[0], pb[1]))
    return out
