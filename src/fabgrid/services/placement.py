"""Where order lines go: the allocation scenario of lines to place (their quotes' offers over every site's free
capacity, `services.network.open_machine_hours`; factories on probation at their cap and sites that do not ship to the
destination's province left out, each site's record
as a cost per unit), the allocation engine's plan (`fabgrid.network.solve`), and placing lines again elsewhere
(a declined or unanswered line, a closed site). Used by services.orders and services.acceptance. Depends on the
store, the network engine, services.network and services.factories; never on api, web or cli.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fabgrid.domain.allocation import (
    Candidate,
    Disruption,
    DisruptionKind,
    Line,
    LineConstraints,
    Scenario,
    ScenarioSite,
)
from fabgrid.domain.order import OrderLine
from fabgrid.domain.quote import Offer, Quote, TierOffer
from fabgrid.errors import InputError
from fabgrid.services import factories, network
from fabgrid.services._util import now
from fabgrid.store.uow import UnitOfWork

#: Days of free capacity the allocation sees ahead.
HORIZON_DAYS = 30
ALLOCATION_TIME_S = 5.0


def find_offer(quote: Quote, site: str, tier: str | None) -> tuple[Offer, TierOffer]:
    match = [o for o in quote.offers if o.site == site]
    if not match:
        raise InputError(f"the quote has no offer from site {site!r}",
                         hint=f"choose one of: {', '.join(o.site for o in quote.offers) or '(no offers)'}",
                         code="order.offer")
    offer = match[0]
    name = tier or "standard"
    tiers = {t.tier: t for t in offer.tiers}
    if tiers and name not in tiers:
        raise InputError(f"offer of {site} has no tier {name!r}", hint=f"one of {', '.join(tiers)}",
                         code="order.tier")
    chosen = tiers.get(name) or TierOffer(tier=name, unit_price_cny=offer.unit_price_cny,
                                          total_price_cny=offer.total_price_cny, lead_time_days=offer.lead_time_days,
                                          ship_date=offer.ship_date, delivery_date=offer.delivery_date)
    return offer, chosen


@dataclass(frozen=True)
class Wanted:
    """A line to place: its id, the typed quote, the request, the quantity and the due date."""

    line_id: str
    quote: Quote
    request: dict[str, Any]
    quantity: int
    due: date | None
    #: certificates the making site must hold (the line's, else its quote request's)
    certifications: tuple[str, ...] = ()


def scenario(uow: UnitOfWork, lines: Sequence[Wanted], exclude_orders: set[str],
              disruption: Disruption | None = None) -> Scenario:
    """A Scenario for `lines` over every site's free capacity (machine hours per workday minus the open work
    already allocated there, spread over the horizon)."""
    data = network.current(uow)
    busy = network.open_machine_hours(uow, exclude_orders=exclude_orders)
    models = data.network.catalog.machine_models
    sites = []
    for s in data.network.sites.values():
        per_day = s.calendar.hours_per_workday()
        cap: dict[str, float] = {}
        for m in s.machines:
            mm = models.get(m.model)
            if mm is not None:
                cap[mm.process.value] = cap.get(mm.process.value, 0.0) + per_day
        for (sid, proc), h in busy.items():
            if sid == s.id and proc.value in cap:
                cap[proc.value] = max(0.0, cap[proc.value] - h / HORIZON_DAYS)
        sites.append(ScenarioSite(id=s.id, city=s.city, province=s.province, lat=s.lat, lon=s.lon,
                                  certifications=s.certifications, capacity_h_per_day=cap))
    offered = {o.site for w in lines for o in w.quote.offers}
    # a factory on probation at its open-line cap takes no more; a site's record is a cost per unit (issue 18)
    known = {s.id for s in sites} - set(factories.probation_full(uow, offered))
    risk = factories.allocation_penalties(uow, offered & known, now())
    out_lines = []
    for w in lines:
        dest = w.request.get("destination")
        city = data.logistics.cities.get(str(dest).casefold()) if dest else None
        province = city.province if city is not None else None
        ships = {sid for sid in known
                 if sid not in data.network.sites or data.network.sites[sid].ships_to_province(province)}
        cands = [Candidate(site=o.site, unit_price_cny=o.unit_price_cny,
                           hours_per_unit={o.process.value: o.estimate.time_s / 3600.0}, lead_days=o.lead_time_days,
                           shipping_cny_per_unit=0.0, shipping_days=0,
                           production_co2_kg_per_unit=o.co2_kg / max(1, o.quantity),
                           risk_cny_per_unit=round(risk.get(o.site, 0.0) * o.unit_price_cny, 4))
                 for o in w.quote.offers if o.site in ships]
        certs = w.certifications or tuple(w.request.get("certifications") or ())
        out_lines.append(Line(id=w.line_id, part=str(w.request.get("part_id", "")),
                              constraints=LineConstraints(certifications=certs),
                              material=str(w.request.get("material", "")), quantity=w.quantity, due_date=w.due,
                              destination=w.request.get("destination"), split=False, candidates=tuple(cands)))
    return Scenario(name="orders", start_date=now().date(), horizon_days=HORIZON_DAYS, sites=tuple(sites),
                    lines=tuple(out_lines), disruptions=(disruption,) if disruption is not None else (),
                    allow_partial=True)


def allocate(uow: UnitOfWork, scenario: Scenario) -> dict[str, str]:
    """line id -> site of the allocation engine's plan (lines it could not place are absent)."""
    from fabgrid.network import solve

    plan = solve.allocate(scenario, time_limit_s=ALLOCATION_TIME_S, logistics=network.current(uow).logistics)
    return {a.line: a.site for a in plan.assignments}


def need_by(request: dict[str, Any]) -> date | None:
    v = request.get("need_by")
    return date.fromisoformat(v) if isinstance(v, str) and v else None


def wanted_lines(uow: UnitOfWork, lines: Sequence[OrderLine]) -> list[Wanted]:
    """The lines to place again with their quotes; the promised delivery date is the due date."""
    wanted: list[Wanted] = []
    for ln in lines:
        stored = uow.quotes.by_id(ln.quote_id)
        if stored is not None:
            wanted.append(Wanted(ln.id, stored.quote, dict(stored.request or {}), ln.quantity, ln.delivery_date,
                                 ln.certifications))
    return wanted


def meets_date(quote: Quote, site: str, line: OrderLine) -> bool:
    try:
        return find_offer(quote, site, line.tier)[1].delivery_date <= line.delivery_date
    except InputError:  # no such tier at that site
        return False


def place_elsewhere(uow: UnitOfWork, lines: Sequence[OrderLine], site_id: str,
                    excluded: Mapping[str, Collection[str]] | None = None) -> dict[str, tuple[str, TierOffer]]:
    """Where the allocation engine places `lines` again with `site_id` out of the picture (the same re-allocation
    as a disruption's reroute, the site closed over the whole horizon), among the offers of their quotes that
    deliver at the line's tier by its promised date and are not from the sites `excluded[line id]`: line id ->
    (new site, that site's offer at the line's tier). Lines it cannot place elsewhere are absent. Changes nothing."""
    by_id = {ln.id: ln for ln in lines}
    wanted = []
    for w in wanted_lines(uow, lines):
        ln = by_id[w.line_id]
        skip = {site_id, *(excluded or {}).get(ln.id, ())}
        keep = tuple(o for o in w.quote.offers if o.site not in skip and meets_date(w.quote, o.site, ln))
        if keep:
            wanted.append(replace(w, quote=w.quote.model_copy(update={"offers": keep})))
    if not wanted:
        return {}
    closed = Disruption(kind=DisruptionKind.SITE, site=site_id, days=HORIZON_DAYS)
    placed = allocate(uow, scenario(uow, wanted, {ln.order_id for ln in lines}, closed))
    quotes = {w.line_id: w.quote for w in wanted}
    out: dict[str, tuple[str, TierOffer]] = {}
    for ln in lines:
        new = placed.get(ln.id)
        if new is not None and new != site_id:
            out[ln.id] = (new, find_offer(quotes[ln.id], new, ln.tier)[1])
    return out
