"""Use cases of orders: place an order at a quoted price (within validity), follow its timeline, factory
status updates and inspection results, the operator's view, and disruptions that reroute open orders.

Placing without a chosen site and rerouting use the network allocation engine (`fabgrid.network.solve`)
on a scenario built from the quotes' offers and the sites' free capacity. Status changes notify the
owner's webhooks. Depends on the store, the network engine and `services.jobs`/`services.webhooks`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import jobs, webhooks
from fabgrid.services._util import iso, new_id, now, utc
from fabgrid.services.accounts import Principal
from fabgrid.store.tables import DisruptionRow, OrderRow, QuoteRow
from fabgrid.store.uow import UnitOfWork

STATUSES = ("placed", "allocated", "in_production", "built", "inspected", "shipped", "delivered")
#: Statuses a factory may set by POST /factory/orders/{id}/status (each only from the one before it);
#: "inspected" is set by entering an inspection result.
FACTORY_STATUSES = ("in_production", "built", "shipped", "delivered")
OPEN = ("placed", "allocated", "in_production")
#: Days of free capacity the allocation sees ahead.
HORIZON_DAYS = 30
ALLOCATION_TIME_S = 5.0


def _find_offer(quote: dict[str, Any], site: str | None, tier: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    offers = quote.get("offers", [])
    match = [o for o in offers if o["site"] == site]
    if not match:
        raise InputError(f"the quote has no offer from site {site!r}",
                         hint=f"choose one of: {', '.join(o['site'] for o in offers) or '(no offers)'}",
                         code="order.offer")
    offer = match[0]
    name = tier or "standard"
    tiers = {t["tier"]: t for t in offer.get("tiers", [])}
    if tiers and name not in tiers:
        raise InputError(f"offer of {site} has no tier {name!r}", hint=f"one of {', '.join(tiers)}",
                         code="order.tier")
    chosen = tiers.get(name) or {"tier": name, **{k: offer[k] for k in (
        "unit_price_cny", "total_price_cny", "lead_time_days", "delivery_date")}}
    return offer, chosen


def _notify(uow: UnitOfWork, order: OrderRow, note: str = "") -> list[str]:
    data = {"order_id": order.id, "status": order.status, "site_id": order.site_id, "note": note,
            "links": {"order": f"/api/v1/orders/{order.id}"}}
    return webhooks.emit(uow, order.organisation_id, "order.status", data)


def _set_status(uow: UnitOfWork, order: OrderRow, status: str, who: Principal | None, note: str = "") -> list[str]:
    order.status = status
    uow.orders.event(order, status, note, who.user_id if who else None)
    return _notify(uow, order, note)


# ---------------------------------------------------------------- allocation scenario


Wanted = tuple[str, dict[str, Any], dict[str, Any], int, date | None]


def _scenario(uow: UnitOfWork, lines: list[Wanted], exclude_orders: set[str], disruption: Any = None) -> Any:
    """A Scenario for `lines` ((line id, quote json, quote request, quantity, due date)) over every site's
    free capacity (machine hours per workday minus the open work already allocated there)."""
    from fabgrid.domain.allocation import Candidate, Line, Scenario, ScenarioSite

    process_of = {m.id: m.process.value for m in uow.catalog.machine_models()}
    busy: dict[tuple[str, str], float] = {}
    for o in uow.orders.find(statuses=("allocated", "in_production"), limit=100_000):
        if o.id in exclude_orders or o.site_id is None:
            continue
        q = uow.session.get(QuoteRow, o.quote_id)
        offer = next((x for x in (q.quote.get("offers", []) if q else []) if x["site"] == o.offer_site_id), None)
        hours = (offer or {}).get("estimate", {}).get("time_s", 0.0) / 3600.0 * o.quantity
        busy[(o.site_id, o.process)] = busy.get((o.site_id, o.process), 0.0) + hours
    sites = []
    for s in uow.catalog.sites():
        per_day = s.calendar.hours_per_workday()
        cap: dict[str, float] = {}
        for m in s.machines:
            proc = process_of.get(m.model)
            if proc:
                cap[proc] = cap.get(proc, 0.0) + per_day
        for (sid, proc), h in busy.items():
            if sid == s.id and proc in cap:
                cap[proc] = max(0.0, cap[proc] - h / HORIZON_DAYS)
        sites.append(ScenarioSite(id=s.id, city=s.city, province=s.province, lat=s.lat, lon=s.lon,
                                  certifications=s.certifications, capacity_h_per_day=cap))
    known = {s.id for s in sites}
    out_lines = []
    for line_id, quote, request, qty, due in lines:
        cands = []
        for o in quote.get("offers", []):
            if o["site"] not in known:
                continue
            per_unit_h = o.get("estimate", {}).get("time_s", 0.0) / 3600.0
            cands.append(Candidate(site=o["site"], unit_price_cny=o["unit_price_cny"],
                                   hours_per_unit={o["process"]: per_unit_h}, lead_days=o["lead_time_days"],
                                   shipping_cny_per_unit=0.0, shipping_days=0,
                                   production_co2_kg_per_unit=o.get("co2_kg", 0.0) / max(1, o["quantity"])))
        out_lines.append(Line(id=line_id, part=request.get("part_id", ""), material=request.get("material", ""),
                              quantity=qty, due_date=due,
                              destination=request.get("destination"), split=False, candidates=tuple(cands)))
    return Scenario(name="orders", start_date=now().date(), horizon_days=HORIZON_DAYS, sites=tuple(sites),
                    lines=tuple(out_lines), disruptions=(disruption,) if disruption is not None else (),
                    allow_partial=True)


def _allocate(scenario: Any) -> dict[str, str]:
    """line id -> site of the allocation engine's plan (lines it could not place are absent)."""
    from fabgrid.network.solve import allocate

    plan = allocate(scenario, time_limit_s=ALLOCATION_TIME_S)
    return {a.line: a.site for a in plan.assignments}


# ---------------------------------------------------------------- buyers


def order_json(uow: UnitOfWork, o: OrderRow) -> dict[str, Any]:
    """The order resource with its timeline (UTC timestamps)."""
    return {
        "id": o.id, "status": o.status, "quote_id": o.quote_id, "part_id": o.part_id, "site_id": o.site_id,
        "offer_site_id": o.offer_site_id, "process": o.process, "material": o.material, "quantity": o.quantity,
        "tier": o.tier, "unit_price_cny": o.unit_price_cny, "total_price_cny": o.total_price_cny,
        "currency": "CNY", "lead_time_days": o.lead_time_days, "delivery_date": o.delivery_date,
        "destination": o.destination, "consent_design_sharing": o.consent_design_sharing,
        "inspection": o.inspection, "created_at": iso(o.created_at),
        "timeline": [{"status": e.status, "at": iso(e.at), "site_id": e.site_id, "note": e.note}
                     for e in uow.orders.events(o.id)],
        "links": {"self": f"/api/v1/orders/{o.id}", "invoice": f"/api/v1/orders/{o.id}/invoice",
                  "quote": f"/api/v1/quotes/{o.quote_id}", "part": f"/api/v1/parts/{o.part_id}"},
    }


def place_order(settings: Settings, who: Principal, quote_id: str, site: str | None = None,
                tier: str | None = None, consent_design_sharing: bool = False) -> dict[str, Any]:
    """Order at the quoted price of the chosen offer (site) and tier, while the quote is valid.

    Without `site` the allocation engine picks among the quote's offers by price and free capacity.
    409 when the quote expired or was ordered already; 422 when the offer or tier is not in the quote.
    """
    with UnitOfWork(settings.database_url) as uow:
        q = uow.quotes.get(quote_id, who.organisation_id)
        if q is None:
            raise NotFoundError(f"quote {quote_id!r} not found", code="quote.not_found")
        if utc(q.expires_at) <= now():
            raise InputError(f"quote {quote_id} expired at {iso(q.expires_at)}", hint="ask for a new quote",
                             code="order.quote_expired", status=409)
        if any(o.quote_id == quote_id for o in uow.orders.find(organisation_id=who.organisation_id,
                                                               part_id=q.part_id)):
            raise InputError(f"quote {quote_id} was ordered already", hint="GET /api/v1/orders lists your orders",
                             code="order.duplicate", status=409)
        if not q.quote.get("offers"):
            raise InputError(f"quote {quote_id} has no offers to order", code="order.no_offers", status=409)
        oid = new_id("ord")
        how = "chosen by the buyer"
        if site is None:
            need_by = q.request.get("need_by")
            want = (oid, q.quote, q.request, int(q.quote.get("quantity", 1)),
                    date.fromisoformat(need_by) if need_by else None)
            placed = _allocate(_scenario(uow, [want], set()))
            if oid not in placed:
                raise InputError("no site has free capacity for this order now", code="order.no_capacity",
                                 status=409)
            site, how = placed[oid], "chosen by the allocation engine"
        offer, chosen = _find_offer(q.quote, site, tier)
        o = OrderRow(id=oid, organisation_id=who.organisation_id, user_id=who.user_id, quote_id=q.id,
                     part_id=q.part_id, site_id=None, offer_site_id=offer["site"], process=offer["process"],
                     material=offer["material"], quantity=offer["quantity"], tier=chosen["tier"],
                     unit_price_cny=chosen["unit_price_cny"], total_price_cny=chosen["total_price_cny"],
                     lead_time_days=chosen["lead_time_days"], delivery_date=str(chosen["delivery_date"]),
                     destination=q.request.get("destination"), status="placed",
                     consent_design_sharing=bool(consent_design_sharing))
        uow.session.add(o)
        uow.session.flush()
        job_ids = _set_status(uow, o, "placed", who, f"at the quoted price {o.total_price_cny:.2f} CNY ({o.tier}); "
                              f"design sharing {'consented' if o.consent_design_sharing else 'not consented'}")
        o.site_id = offer["site"]
        job_ids += _set_status(uow, o, "allocated", who, f"to site {o.site_id} ({how})")
        uow.commit()
        doc = order_json(uow, o)
    for j in job_ids:
        jobs.submit(settings, j)
    return doc


def get_order(settings: Settings, who: Principal, order_id: str) -> dict[str, Any]:
    """One order: the buyer's organisation, the factory it is allocated to, or an operator."""
    with UnitOfWork(settings.database_url) as uow:
        return order_json(uow, _visible(uow, who, order_id))


def _visible(uow: UnitOfWork, who: Principal, order_id: str) -> OrderRow:
    if who.role in ("operator", "admin"):
        o = uow.orders.get(order_id, None)
    elif who.role == "factory":
        o = uow.orders.for_site(who.site_id, order_id) if who.site_id else None
    else:
        o = uow.orders.get(order_id, who.organisation_id)
    if o is None:
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    return o


def list_orders(settings: Settings, who: Principal, status: str | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
    """Orders the caller may see: its organisation's (buyers), its site's (factories), all (operators)."""
    statuses = (status,) if status else ()
    with UnitOfWork(settings.database_url) as uow:
        if who.role in ("operator", "admin"):
            rows = uow.orders.find(statuses=statuses, limit=limit)
        elif who.role == "factory":
            rows = uow.orders.find(site_id=who.site_id or "-", statuses=statuses, limit=limit)
        else:
            rows = uow.orders.find(organisation_id=who.organisation_id, statuses=statuses, limit=limit)
        return [order_json(uow, o) for o in rows]


def invoice_data(settings: Settings, who: Principal, order_id: str) -> dict[str, Any]:
    """What the invoice shows: the order, its buyer organisation, part and site (buyer or operator only)."""
    if who.role == "factory":
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    with UnitOfWork(settings.database_url) as uow:
        o = _visible(uow, who, order_id)
        org = uow.organisations.get(o.organisation_id)
        part = uow.parts.get(o.part_id, None)
        site = uow.catalog.site(o.site_id) if o.site_id else None
        return {"order": order_json(uow, o), "buyer": org.name if org else "", "part": part.filename if part else "",
                "site": {"id": site.id, "name": site.name, "city": site.city, "province": site.province}
                if site else None}


# ---------------------------------------------------------------- factories


def factory_work(settings: Settings, who: Principal, include_done: bool = False) -> list[dict[str, Any]]:
    """Orders allocated to the caller's site (open ones unless `include_done`)."""
    if who.role != "factory" or not who.site_id:
        raise InputError("this is the work list of a factory account", code="factory.not_factory", status=403)
    with UnitOfWork(settings.database_url) as uow:
        statuses = () if include_done else ("allocated", "in_production", "built", "inspected")
        return [order_json(uow, o) for o in uow.orders.find(site_id=who.site_id, statuses=statuses)]


def _factory_order(uow: UnitOfWork, who: Principal, order_id: str) -> OrderRow:
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory account updates production status", code="factory.not_factory",
                         status=403)
    o = uow.orders.for_site(who.site_id, order_id)
    if o is None:
        raise NotFoundError(f"order {order_id!r} not found at your site", code="order.not_found")
    return o


def factory_status(settings: Settings, who: Principal, order_id: str, status: str, note: str = "") -> dict[str, Any]:
    """Advance an order of the caller's site to the next production status."""
    if status not in FACTORY_STATUSES:
        raise InputError(f"status {status!r} cannot be set here", hint=f"one of {', '.join(FACTORY_STATUSES)}; "
                         "'inspected' comes from POST .../inspection", code="order.bad_status")
    with UnitOfWork(settings.database_url) as uow:
        o = _factory_order(uow, who, order_id)
        need = STATUSES[STATUSES.index(status) - 1]
        if o.status != need:
            raise InputError(f"order {order_id} is {o.status}; {status} follows {need}", code="order.transition",
                             status=409)
        job_ids = _set_status(uow, o, status, who, note)
        uow.commit()
        doc = order_json(uow, o)
    for j in job_ids:
        jobs.submit(settings, j)
    return doc


def factory_inspection(settings: Settings, who: Principal, order_id: str, passed: bool, inspected_qty: int,
                       defects: list[str], measurements: dict[str, float], note: str = "") -> dict[str, Any]:
    """Record the inspection of a built order; passed -> inspected, failed -> back in production (rework)."""
    with UnitOfWork(settings.database_url) as uow:
        o = _factory_order(uow, who, order_id)
        if o.status != "built":
            raise InputError(f"order {order_id} is {o.status}; it is inspected once built", code="order.transition",
                             status=409)
        if not 1 <= inspected_qty <= o.quantity:
            raise InputError(f"inspected_qty must be 1..{o.quantity}", code="order.inspection")
        o.inspection = {"passed": passed, "inspected_qty": inspected_qty, "defects": defects[:100],
                        "measurements": measurements, "note": note[:500], "by": who.email, "at": iso(now())}
        if passed:
            job_ids = _set_status(uow, o, "inspected", who, note or f"passed ({inspected_qty} inspected)")
        else:
            job_ids = _set_status(uow, o, "in_production", who, "inspection failed, rework: " + "; ".join(defects))
        uow.commit()
        doc = order_json(uow, o)
    for j in job_ids:
        jobs.submit(settings, j)
    return doc


# ---------------------------------------------------------------- operators


def _operator(who: Principal) -> None:
    if who.role not in ("operator", "admin"):
        raise InputError("this needs an operator account", code="operator.only", status=403)


def declare_disruption(settings: Settings, who: Principal, site_id: str, days: int) -> dict[str, Any]:
    """Declare a site closed for `days`; a background job reroutes its open orders. Returns the disruption."""
    _operator(who)
    if not 1 <= days <= 365:
        raise InputError(f"days must be 1..365, not {days}", code="disruption.days")
    with UnitOfWork(settings.database_url) as uow:
        if uow.catalog.site(site_id) is None:
            raise NotFoundError(f"site {site_id!r} not found", hint="GET /api/v1/catalog/sites",
                                code="site.not_found")
        d = DisruptionRow(id=new_id("dis"), site_id=site_id, days=days, declared_by=who.user_id)
        uow.session.add(d)
        job = jobs.enqueue(uow, "reroute", {"disruption_id": d.id}, organisation_id=who.organisation_id,
                           user_id=who.user_id)
        d.job_id = job.id
        uow.commit()
        doc = disruption_json(d) | {"job": jobs.job_json(job)}
    jobs.submit(settings, job.id)
    return doc


def disruption_json(d: DisruptionRow) -> dict[str, Any]:
    """The disruption resource."""
    return {"id": d.id, "site_id": d.site_id, "days": d.days, "created_at": iso(d.created_at),
            "until": (utc(d.created_at) + timedelta(days=d.days)).date().isoformat(), "report": d.report,
            "job_id": d.job_id}


def list_disruptions(settings: Settings, who: Principal) -> list[dict[str, Any]]:
    """Disruptions, newest first (operators)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return [disruption_json(d) for d in uow.disruptions.find()]


@jobs.register("reroute")
def _reroute(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    from fabgrid.domain.allocation import Disruption, DisruptionKind

    with UnitOfWork(settings.database_url) as uow:
        d = uow.disruptions.get(str(params["disruption_id"]))
        if d is None:
            raise NotFoundError("disruption vanished", code="disruption.not_found")
        affected = uow.orders.find(site_id=d.site_id, statuses=OPEN, limit=100_000)
        lines: list[Wanted] = []
        for o in affected:
            q = uow.session.get(QuoteRow, o.quote_id)
            if q is not None:
                # the promised delivery date is the due date: a closed site makes its orders late
                lines.append((o.id, q.quote, q.request, o.quantity, date.fromisoformat(o.delivery_date)))
        closed = Disruption(kind=DisruptionKind.SITE, site=d.site_id, days=d.days)
        placed = _allocate(_scenario(uow, lines, {o.id for o in affected}, closed)) if lines else {}
        moved, kept, unplaced, job_ids = [], [], [], []
        for o in affected:
            new = placed.get(o.id)
            if new is None:
                unplaced.append(o.id)
            elif new == o.site_id:
                kept.append(o.id)
            else:
                note = f"rerouted from {o.site_id} to {new}: site {d.site_id} closed {d.days} days"
                moved.append({"order_id": o.id, "from_site": o.site_id, "to_site": new})
                o.site_id = new
                o.offer_site_id = new
                job_ids += _set_status(uow, o, "allocated", None, note)
        d.report = {"affected": [o.id for o in affected], "moved": moved, "kept": kept, "unplaced": unplaced}
        uow.commit()
        report = d.report
    for j in job_ids:
        jobs.submit(settings, j)
    return report
