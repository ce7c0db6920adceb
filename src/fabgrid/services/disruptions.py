"""Use cases of the park operator's disruptions (issue 22): a site closed, a machine down, a province's logistics
halted, a route cut or a material short, each over a window (start, end or open-ended); a what-if preview that
re-plans without committing; declare (apply the same moves), edit and cancel; the buyer's answer to a slipped date.

The re-plan is the network engine's (`fabgrid.network.disrupt.disrupt`, the one `fabgrid disrupt` runs) on the
network's queued lines (allocated or in production) as the current plan, each with its quote's offers as
candidates; only the lines the disruption touches move. A move keeps the buyer's price (the new site's price is the
platform's cost); a later date becomes a date proposal (`services.acceptance`) the buyer accepts, or the buyer
cancels the line. Buyers are told on the order's timeline, by a message in the order's thread, by webhook
(`order.status`) and by e-mail when `FABGRID_SMTP_URL` is set. A disruption is applied when declared (the operator
plans ahead); cancelling one before it starts puts its lines back as they were. Depends on the store, the network
engine and services; never on api, web or cli.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fabgrid.config import Settings
from fabgrid.costing.leadtime import local_today
from fabgrid.domain.acceptance import DateProposal, ProposalStatus
from fabgrid.domain.allocation import (
    Assignment,
    Candidate,
    Disruption,
    DisruptionKind,
    Line,
    Plan,
    Scenario,
    ScenarioMachine,
    ScenarioSite,
)
from fabgrid.domain.disruption import DisruptionMove, DisruptionState, LineCancelled, NetworkDisruption
from fabgrid.domain.order import QUEUED_AT_SITE, Order, OrderLine, OrderStatus
from fabgrid.domain.quote import Quote
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import disruption_notices, jobs, network, timeline, webhooks
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: Days the re-plan looks ahead; an open-ended disruption lasts the whole horizon.
HORIZON_DAYS = 30
#: How far ahead a disruption may start, and how long a window may last.
MAX_AHEAD_DAYS = 365
MAX_WINDOW_DAYS = 365
#: Time limit of the engine's re-plan of the affected lines.
REPLAN_TIME_S = 5.0
#: Charged per unit moved to a new site, so that the re-plan prefers to keep lines where they are (CNY).
CHURN_CNY_PER_UNIT = 1.0
KINDS = tuple(k.value for k in DisruptionKind)
#: Statuses of a line whose move a cancelled disruption can undo.
_UNDOABLE = frozenset({OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION})


@dataclass(frozen=True)
class DisruptionPlan:
    """What a disruption does (or did): the moves per affected line. `disruption` is None for a preview."""

    kind: DisruptionKind
    target: str
    start: datetime
    end: datetime | None
    moves: tuple[DisruptionMove, ...]
    disruption: NetworkDisruption | None = None
    #: What the independent checker found wrong with the engine's re-plan (empty: it keeps every rule).
    violations: tuple[str, ...] = ()


def _operator(who: Principal) -> None:
    if who.role not in ("operator", "admin"):
        raise InputError("this needs an operator account", code="operator.only", status=403)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# ---------------------------------------------------------------- input


def _kind(value: str) -> DisruptionKind:
    try:
        return DisruptionKind(value)
    except ValueError:
        raise InputError(f"kind {value!r} is not a disruption kind", hint=f"one of {', '.join(KINDS)}",
                         code="disruption.kind") from None


def _window(start: datetime, end: datetime | None, at: datetime, *,
            new: bool = True) -> tuple[datetime, datetime | None]:
    start, end = _utc(start), _utc(end) if end is not None else None
    if start > at + timedelta(days=MAX_AHEAD_DAYS):
        raise InputError(f"start {start.isoformat()} is more than {MAX_AHEAD_DAYS} days ahead",
                         hint="declare it nearer the time", code="disruption.start")
    if end is not None:
        if end <= start:
            raise InputError(f"end {end.isoformat()} is not after start {start.isoformat()}",
                             hint="give an end after the start, or none for an open-ended disruption",
                             code="disruption.end")
        if end - start > timedelta(days=MAX_WINDOW_DAYS):
            raise InputError(f"a disruption lasts at most {MAX_WINDOW_DAYS} days", hint="give an earlier end, or "
                             "none for an open-ended disruption", code="disruption.end")
        if new and end <= at:
            raise InputError(f"end {end.isoformat()} is in the past: the disruption is over",
                             hint="give an end after now", code="disruption.end")
    return start, end


def _engine_disruption(uow: UnitOfWork, kind: DisruptionKind, target: str, start: datetime,
                       end: datetime | None, at: datetime) -> tuple[Disruption, str]:
    """The engine's record of the disruption over the horizon from today, and the target in its canonical form.
    404 for a site, machine, province, city or material the network does not have."""
    data = network.current(uow)
    net, lg = data.network, data.logistics
    t = target.strip()
    if not t:
        raise InputError("target is empty", hint=_TARGET_HINT, code="disruption.target")
    first = max(0, (local_today(start) - local_today(at)).days)
    last = HORIZON_DAYS if end is None else min(HORIZON_DAYS, max(1, math.ceil((end - at).total_seconds() / 86400)))
    days = max(1, last - first)
    if kind is DisruptionKind.SITE:
        if t not in net.sites:
            raise NotFoundError(f"site {t!r} is not in the network", hint="GET /api/v1/sites lists them",
                                code="disruption.target")
        return Disruption(kind=kind, days=days, site=t), t
    if kind is DisruptionKind.MACHINE:
        if not any(m.id == t for s in net.sites.values() for m in s.machines):
            raise NotFoundError(f"machine {t!r} is not in the network", hint="give a machine id of a site",
                                code="disruption.target")
        return Disruption(kind=kind, days=days, machine=t), t
    if kind is DisruptionKind.PROVINCE:
        provinces = {s.province.casefold(): s.province for s in net.sites.values()}
        provinces |= {c.province.casefold(): c.province for c in lg.cities.values()}
        if t.casefold() not in provinces:
            raise NotFoundError(f"province {t!r} has no site or city of the network",
                                hint=f"one of {', '.join(sorted(set(provinces.values()))[:12])}",
                                code="disruption.target")
        p = provinces[t.casefold()]
        return Disruption(kind=kind, days=days, province=p), p
    if kind is DisruptionKind.ROUTE:
        ends = [c.strip() for c in t.replace("→", ":").split(":")]
        if len(ends) != 2 or not all(ends):
            raise InputError(f"route {t!r} is not FROM:TO", hint="two city names, e.g. Changsha:Jishou",
                             code="disruption.target")
        known = {c.name.casefold(): c.name for c in lg.cities.values()}
        known |= {s.city.casefold(): s.city for s in net.sites.values()}
        names = []
        for c in ends:
            if c.casefold() not in known:
                raise NotFoundError(f"route end {c!r} is no city of a site or of the logistics data",
                                    hint=_TARGET_HINT, code="disruption.target")
            names.append(known[c.casefold()])
        return Disruption(kind=kind, days=days, route=(names[0], names[1])), f"{names[0]}:{names[1]}"
    if t not in net.catalog.materials:
        raise NotFoundError(f"material {t!r} is not in the catalog", hint="GET /api/v1/catalog/materials lists them",
                            code="disruption.target")
    return Disruption(kind=kind, days=days, material=t), t


_TARGET_HINT = ("site: a site id; machine: a machine id; province: a province name; route: FROM:TO city names; "
                "material: a material id")


# ---------------------------------------------------------------- the re-plan


@dataclass(frozen=True)
class _Queued:
    line: OrderLine
    order: Order
    quote: Quote | None


def _queued(uow: UnitOfWork, start: datetime) -> list[_Queued]:
    """The network's queued lines (allocated or in production) due on or after the disruption's first day at the
    sites (a line promised for today is still being made when a closure starts this afternoon)."""
    first_day = local_today(start)
    out = []
    for o in uow.orders.find(statuses=tuple(QUEUED_AT_SITE), limit=100_000, with_events=False):
        for ln in o.lines:
            if ln.status in QUEUED_AT_SITE and ln.site_id is not None and ln.delivery_date >= first_day:
                stored = uow.quotes.by_id(ln.quote_id)
                out.append(_Queued(ln, o, Quote.model_validate(stored.quote) if stored is not None else None))
    return out


def _tier_price(quote: Quote, site: str, tier: str) -> tuple[float, date] | None:
    for o in quote.offers:
        if o.site == site:
            tiers = {t.tier: t for t in o.tiers}
            t = tiers.get(tier)
            if t is not None:
                return t.unit_price_cny, t.delivery_date
            if not tiers or tier == "standard":
                return o.unit_price_cny, o.delivery_date
    return None


def _candidates(q: _Queued, known: set[str], today: date) -> tuple[Candidate, ...]:
    ln = q.line
    per_unit_h = ln.machine_h / ln.quantity
    own = Candidate(site=str(ln.site_id), unit_price_cny=ln.unit_price_cny,
                    hours_per_unit={ln.process.value: per_unit_h}, lead_days=max(0, (ln.delivery_date - today).days),
                    shipping_cny_per_unit=0.0, shipping_days=0)
    out = [own]
    for o in q.quote.offers if q.quote is not None else ():
        if o.site == ln.site_id or o.site not in known or o.process is not ln.process:
            continue
        priced = _tier_price(q.quote, o.site, ln.tier) if q.quote is not None else None
        if priced is None:
            continue
        h = o.estimate.job_time_s / 3600.0 / max(1, o.quantity)
        out.append(Candidate(site=o.site, unit_price_cny=priced[0], hours_per_unit={ln.process.value: h},
                             lead_days=max(0, (priced[1] - today).days), shipping_cny_per_unit=0.0, shipping_days=0,
                             production_co2_kg_per_unit=o.co2_kg / max(1, o.quantity)))
    return tuple(out)


def _scenario(uow: UnitOfWork, queued: Sequence[_Queued], today: date) -> tuple[Scenario, Plan]:
    """The queued lines as the current plan over every site's machines (each its calendar's hours a workday)."""
    data = network.current(uow)
    models = data.network.catalog.machine_models
    sites = []
    for s in data.network.sites.values():
        per_day = s.calendar.hours_per_workday()
        machines = tuple(ScenarioMachine(id=m.id, resource=models[m.model].process.value, hours_per_day=per_day)
                         for m in s.machines if m.model in models and per_day > 0)
        sites.append(ScenarioSite(id=s.id, city=s.city, province=s.province, lat=s.lat, lon=s.lon,
                                  certifications=s.certifications, machines=machines))
    known = {s.id for s in sites}
    lines = tuple(Line(id=q.line.id, part=q.line.part_id, material=q.line.material, quantity=q.line.quantity,
                       due_date=q.line.delivery_date, destination=q.order.destination, split=False,
                       candidates=_candidates(q, known, today))
                  for q in queued if q.line.site_id in known)
    sc = Scenario(name="network", start_date=today, horizon_days=HORIZON_DAYS, sites=tuple(sites), lines=lines,
                  allow_partial=True)
    plan = Plan(status="feasible", assignments=tuple(Assignment(line=ln.id, site=ln.candidates[0].site,
                                                                quantity=ln.quantity) for ln in lines))
    return sc, plan


def _road_km(uow: UnitOfWork, site_id: str | None, destination: str | None) -> float | None:
    data = network.current(uow)
    s = data.network.sites.get(site_id or "")
    city = data.logistics.cities.get((destination or "").casefold())
    if s is None or city is None:
        return None
    from fabgrid.network.geo import great_circle_km, road_km

    return round(float(road_km(great_circle_km(s.lat, s.lon, city.lat, city.lon), data.logistics)[()]), 1)


def _co2(q: _Queued, site: str | None) -> float | None:
    if q.quote is None or site is None:
        return None
    for o in q.quote.offers:
        if o.site == site:
            return round(o.co2_kg / max(1, o.quantity) * q.line.quantity, 3)
    return None


def _others_in_force(uow: UnitOfWork, at: datetime, exclude: str | None) -> tuple[Disruption, ...]:
    """The engine's records of the other declared disruptions scheduled or in force at `at` (not `exclude`): a
    re-plan never moves a line onto a site another disruption closes. One whose target the network lost is left
    out."""
    out = []
    for o in uow.network_disruptions.find(1000):
        if o.id == exclude or o.state(at) not in (DisruptionState.SCHEDULED, DisruptionState.ACTIVE):
            continue
        try:
            out.append(_engine_disruption(uow, o.kind, o.target, max(o.start, at), o.end, at)[0])
        except InputError:
            continue
    return tuple(out)


def _plan_moves(uow: UnitOfWork, d: Disruption, start: datetime, at: datetime,
                exclude: str | None = None) -> tuple[list[DisruptionMove], tuple[str, ...]]:
    """The engine's re-plan of the queued lines under `d`, the other declared disruptions (not `exclude`) in force
    as they are: one move per line that changes site or slips, and what the independent checker
    (`network.check.check_plan`) finds wrong with the re-plan (nothing, normally)."""
    from fabgrid.network.check import check_plan
    from fabgrid.network.disrupt import disrupt

    today = local_today(at)
    queued = _queued(uow, start)
    if not queued:
        return [], ()
    sc, plan = _scenario(uow, queued, today)
    if not sc.lines:
        return [], ()
    sc = sc.model_copy(update={"disruptions": _others_in_force(uow, at, exclude)})
    report = disrupt(sc, plan, d, time_limit_s=REPLAN_TIME_S, churn_cny_per_unit=CHURN_CNY_PER_UNIT)
    checked = check_plan(sc.model_copy(update={"disruptions": (*sc.disruptions, d)}), report.plan)
    by_id = {q.line.id: q for q in queued}
    after = {a.line: a for a in report.plan.assignments}
    load_h: dict[str, float] = {}
    for (sid, _proc), h in network.open_machine_hours(uow).items():
        load_h[sid] = load_h.get(sid, 0.0) + h
    sites = network.current(uow).network.sites
    moves = []
    for lid in report.affected_lines:
        q = by_id[lid]
        ln, a = q.line, after.get(lid)
        to_site = a.site if a is not None else None
        new_date = None
        if a is not None and a.delivery_day is not None:
            new_date = max(ln.delivery_date, today + timedelta(days=int(a.delivery_day)))
        if to_site == ln.site_id and new_date == ln.delivery_date:
            continue  # touched but unchanged
        cands = sc.lines[[x.id for x in sc.lines].index(lid)].candidates
        cand = next((c for c in cands if c.site == to_site), None)
        others = sum(1 for c in cands if c.site != ln.site_id)
        why = None if to_site is not None else ("others_full" if others else "no_other_offer")
        added_h = ln.machine_h if to_site not in (None, ln.site_id) else 0.0
        load_days = None
        if to_site is not None:
            s = sites[to_site]
            cap = s.calendar.hours_per_workday() * len(s.machines)
            load_days = round((load_h.get(to_site, 0.0) + added_h) / cap, 3) if cap > 0 else None
        moves.append(DisruptionMove(
            line_id=lid, order_id=ln.order_id, from_site=str(ln.site_id), to_site=to_site,
            old_price_cny=ln.total_price_cny,
            new_price_cny=round(cand.unit_price_cny * ln.quantity, 2) if cand is not None else None,
            old_date=ln.delivery_date, new_date=new_date,
            distance_km=_road_km(uow, to_site, q.order.destination), co2_kg=_co2(q, to_site),
            old_distance_km=_road_km(uow, ln.site_id, q.order.destination), old_co2_kg=_co2(q, ln.site_id),
            added_machine_h=round(added_h, 3), to_site_load_days=load_days, old_status=ln.status,
            unplaced_reason=why, alternatives=others))
    return sorted(moves, key=lambda m: (m.order_id, m.line_id)), tuple(checked.violations[:20])


# ---------------------------------------------------------------- applying and undoing


def _apply(uow: UnitOfWork, settings: Settings, d: NetworkDisruption, moves: Sequence[DisruptionMove],
           at: datetime) -> tuple[list[DisruptionMove], list[str]]:
    """Apply the moves in the caller's transaction: lines to their new sites (status allocated: the new site
    answers it), a date proposal where the date slips, the timeline, the buyers' notices."""
    applied: list[DisruptionMove] = []
    per_order: dict[str, list[tuple[OrderLine, DisruptionMove, timeline.Note]]] = {}
    orders_by_id: dict[str, Order] = {}
    for m in moves:
        order = orders_by_id.get(m.order_id) or uow.orders.get(m.order_id)
        assert order is not None
        orders_by_id[order.id] = order
        ln = order.line(m.line_id)
        assert ln is not None
        text = disruption_notices.text(d, m)
        if m.moved:
            ln = uow.orders.update_line(ln.id, status=OrderStatus.ALLOCATED, site_id=m.to_site)
        proposal = None
        if m.slips and m.new_date is not None:
            proposal = uow.acceptance.add_proposal(DateProposal(
                id=new_id("dpr"), order_id=order.id, line_id=ln.id, site_id=str(ln.site_id),
                proposed_date=m.new_date, previous_date=m.old_date, note=f"disruption {d.id}"[:500],
                status=ProposalStatus.PENDING, created_at=at))
        timeline.event(uow, order.id, ln.status, text, d.declared_by, line=ln)
        applied.append(m.model_copy(update={"proposal_id": proposal.id if proposal else None}))
        per_order.setdefault(order.id, []).append((ln, m, text))
    job_ids: list[str] = []
    for oid, changes in per_order.items():
        job_ids += disruption_notices.notify(uow, settings, d, orders_by_id[oid], changes)
    return applied, job_ids


def _undo(uow: UnitOfWork, settings: Settings, d: NetworkDisruption, who: Principal,
          at: datetime) -> tuple[list[DisruptionMove], list[str]]:
    """Put the lines of `d`'s moves back as they were (site, status, date); moves whose line went on (built,
    cancelled, moved again) stay and are returned."""
    kept: list[DisruptionMove] = []
    per_order: dict[str, list[tuple[OrderLine, DisruptionMove, timeline.Note]]] = {}
    orders_by_id: dict[str, Order] = {}
    for m in d.moves:
        order = uow.orders.get(m.order_id)
        ln = order.line(m.line_id) if order is not None else None
        if order is None or ln is None:
            continue
        orders_by_id[order.id] = order
        expected_site = m.to_site if m.moved else m.from_site
        if ln.status not in _UNDOABLE or ln.site_id != expected_site:
            kept.append(m)
            continue
        if m.proposal_id is not None:
            p = uow.acceptance.proposal(order.id, m.proposal_id)
            if p is not None and p.status is ProposalStatus.PENDING:
                uow.acceptance.decide(p.id, ProposalStatus.REJECTED, at)
        if ln.delivery_date != m.old_date:
            uow.acceptance.set_delivery_date(ln.id, m.old_date)
        if m.moved:
            ln = uow.orders.update_line(ln.id, status=m.old_status, site_id=m.from_site)
        text = (timeline.note("disruption_undone_moved", disruption=d.id, site=m.from_site, date=m.old_date.isoformat())
                if m.moved else timeline.note("disruption_undone", disruption=d.id, date=m.old_date.isoformat()))
        timeline.event(uow, order.id, ln.status, text, who.user_id, line=ln)
        per_order.setdefault(order.id, []).append((ln, m, text))
    job_ids: list[str] = []
    for oid, changes in per_order.items():
        job_ids += disruption_notices.notify(uow, settings, d, orders_by_id[oid], changes)
    return kept, job_ids


def _submit(settings: Settings, job_ids: Sequence[str]) -> None:
    for j in job_ids:
        jobs.submit(settings, j)


# ---------------------------------------------------------------- use cases


def preview(settings: Settings, who: Principal, kind: str, target: str, start: datetime,
            end: datetime | None = None, at: datetime | None = None) -> DisruptionPlan:
    """What-if: the moves the disruption would make, per affected line (old and new site, price, date, distance,
    CO2, added load). Changes nothing."""
    _operator(who)
    at = at or now()
    k = _kind(kind)
    start, end = _window(start, end, at)
    with UnitOfWork(settings.database_url) as uow:
        d, canonical = _engine_disruption(uow, k, target, start, end, at)
        moves, violations = _plan_moves(uow, d, start, at)
    return DisruptionPlan(k, canonical, start, end, tuple(moves), violations=violations)


def declare(settings: Settings, who: Principal, kind: str, target: str, start: datetime,
            end: datetime | None = None, note: str = "", at: datetime | None = None) -> DisruptionPlan:
    """Declare the disruption and apply its moves (the same the preview shows on the same state), in one
    transaction; the buyers' notices are queued."""
    _operator(who)
    at = at or now()
    k = _kind(kind)
    start, end = _window(start, end, at)
    if len(note) > 500:
        raise InputError("note is longer than 500 characters", code="disruption.note")
    with UnitOfWork(settings.database_url) as uow:
        ed, canonical = _engine_disruption(uow, k, target, start, end, at)
        d = NetworkDisruption(id=new_id("ndr"), kind=k, target=canonical, start=start, end=end,
                              declared_by=who.user_id, created_at=at, note=note.strip())
        moves, violations = _plan_moves(uow, ed, start, at)
        applied, job_ids = _apply(uow, settings, d, moves, at)
        d = uow.network_disruptions.add(d.model_copy(update={"moves": tuple(applied)}))
        uow.commit()
    _submit(settings, job_ids)
    return DisruptionPlan(k, canonical, start, end, d.moves, d, violations)


def _own(uow: UnitOfWork, disruption_id: str) -> NetworkDisruption:
    d = uow.network_disruptions.get(disruption_id)
    if d is None:
        raise NotFoundError(f"disruption {disruption_id!r} not found", code="disruption.not_found")
    return d


def cancel(settings: Settings, who: Principal, disruption_id: str, at: datetime | None = None) -> NetworkDisruption:
    """Cancel a disruption that has not ended: before its start its lines go back as they were (site, status,
    date; a pending date proposal is withdrawn); once started it ends now and the moved lines stay. 409 for one
    ended or cancelled already."""
    _operator(who)
    at = at or now()
    with UnitOfWork(settings.database_url) as uow:
        d = _own(uow, disruption_id)
        state = d.state(at)
        if state in (DisruptionState.ENDED, DisruptionState.CANCELLED):
            raise InputError(f"disruption {d.id} is {state.value}; only one not yet ended can be cancelled",
                             code="disruption.over", status=409)
        job_ids: list[str] = []
        if state is DisruptionState.SCHEDULED:
            kept, job_ids = _undo(uow, settings, d, who, at)
            d = d.model_copy(update={"cancelled_at": at, "moves": tuple(kept)})
        else:
            d = d.model_copy(update={"cancelled_at": at, "end": at})
        d = uow.network_disruptions.update(d)
        uow.commit()
    _submit(settings, job_ids)
    return d


def edit(settings: Settings, who: Principal, disruption_id: str, start: datetime | None = None,
         end: datetime | None = None, open_ended: bool = False, at: datetime | None = None) -> DisruptionPlan:
    """Change a disruption's window (`open_ended`: no end). Before its start its moves are undone and made again
    for the new window; once started only the end may change, and lines the longer window now touches move."""
    _operator(who)
    at = at or now()
    with UnitOfWork(settings.database_url) as uow:
        d = _own(uow, disruption_id)
        state = d.state(at)
        if state in (DisruptionState.ENDED, DisruptionState.CANCELLED):
            raise InputError(f"disruption {d.id} is {state.value}; it cannot be edited", code="disruption.over",
                             status=409)
        if state is DisruptionState.ACTIVE and start is not None and _utc(start) != d.start:
            raise InputError(f"disruption {d.id} started at {d.start.isoformat()}; only its end can change",
                             code="disruption.started", status=409)
        new_start = _utc(start) if start is not None else d.start
        new_end = None if open_ended else (_utc(end) if end is not None else d.end)
        new_start, new_end = _window(new_start, new_end, at, new=True)
        ed, _ = _engine_disruption(uow, d.kind, d.target, new_start, new_end, at)
        job_ids: list[str] = []
        kept: list[DisruptionMove] = list(d.moves)
        if state is DisruptionState.SCHEDULED:
            kept, job_ids = _undo(uow, settings, d, who, at)
        d = d.model_copy(update={"start": new_start, "end": new_end, "moves": tuple(kept)})
        planned, violations = _plan_moves(uow, ed, new_start, at, exclude=d.id)
        fresh, more = _apply(uow, settings, d, planned, at)
        d = uow.network_disruptions.update(d.model_copy(update={"moves": (*kept, *fresh)}))
        uow.commit()
    _submit(settings, [*job_ids, *more])
    return DisruptionPlan(d.kind, d.target, d.start, d.end, d.moves, d, violations)


def list_disruptions(settings: Settings, who: Principal, limit: int = 200) -> list[NetworkDisruption]:
    """The declared disruptions, newest first (operators)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return uow.network_disruptions.find(limit)


def get(settings: Settings, who: Principal, disruption_id: str) -> NetworkDisruption:
    """One disruption (operators)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return _own(uow, disruption_id)


def in_force(settings: Settings, at: datetime | None = None) -> list[NetworkDisruption]:
    """Disruptions scheduled or active at `at` (the map draws them)."""
    at = at or now()
    with UnitOfWork(settings.database_url) as uow:
        return [d for d in uow.network_disruptions.find(1000)
                if d.state(at) in (DisruptionState.SCHEDULED, DisruptionState.ACTIVE)]


def cancel_line(settings: Settings, who: Principal, order_id: str, line_id: str,
                at: datetime | None = None) -> LineCancelled:
    """The buyer cancels a line whose date a disruption moved, or whose new date a factory proposed (after a decline
    that no site could take at the ordered date, issue 18): the line is cancelled, the proposal rejected, the site
    and the buyer's webhooks told. 404 for other organisations' orders; 409 for a line without such a proposal."""
    at = at or now()
    with UnitOfWork(settings.database_url) as uow:
        o = None if who.role == "factory" else uow.orders.get(order_id, who.organisation_id)
        ln = o.line(line_id) if o is not None else None
        if o is None or ln is None:
            raise NotFoundError(f"line {line_id!r} of order {order_id!r} not found", code="order.line_not_found")
        pending = [p for p in uow.acceptance.proposals(o.id) if p.line_id == ln.id
                   and p.status is ProposalStatus.PENDING]
        if not pending:
            raise InputError(f"line {ln.id} has no date moved by a disruption to answer",
                             hint="a line is cancelled here only when a disruption moved its date",
                             code="disruption.no_slip", status=409)
        if not ln.status.can_become(OrderStatus.CANCELLED):
            raise InputError(f"line {ln.id} is {ln.status.value}; it cannot be cancelled now",
                             code="order.transition", status=409)
        for p in pending:
            uow.acceptance.decide(p.id, ProposalStatus.REJECTED, at)
        dis_id = (pending[0].note.removeprefix("disruption ").strip() or None
                  if pending[0].note.startswith("disruption ") else None)
        ln = uow.orders.update_line(ln.id, status=OrderStatus.CANCELLED)
        said = timeline.note("cancelled_new_date", date=pending[0].proposed_date.isoformat())
        text = said.text
        timeline.event(uow, o.id, OrderStatus.CANCELLED, said, who.user_id, line=ln)
        job_ids = webhooks.emit(uow, o.organisation_id, "order.status", {
            "order_id": o.id, "status": "cancelled", "site_id": ln.site_id, "line_id": ln.id, "note": text,
            "links": {"order": f"/api/v1/orders/{o.id}"}})
        uow.commit()
    _submit(settings, job_ids)
    return LineCancelled(order_id=o.id, line_id=ln.id, disruption_id=dis_id, at=at)
