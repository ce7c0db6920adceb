"""Use cases of orders: place an order of one or several lines (each a quote at its quoted price, within
validity), follow it, factory status updates and inspection results per line (an operator's disruptions,
which move lines elsewhere, are services.disruptions).

Placing lines without a chosen site goes through `services.placement` (the allocation scenario of
the quotes' offers over the sites' free capacity, and the engine's plan).
Returns `fabgrid.domain.order` records; status changes notify the owner's webhooks. Depends on the store,
the network engine, services.network and services.jobs/webhooks; never on api, web or cli.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.catalog import ProcessFamily, Site
from fabgrid.domain.order import (
    FACTORY_OPEN,
    FACTORY_STATUSES,
    MAX_FEATURES,
    FeatureMeasurement,
    Inspection,
    Order,
    OrderLine,
    OrderStatus,
)
from fabgrid.domain.quote import Quote, StoredQuote
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import factories, jobs, network, placement, timeline, webhooks
from fabgrid.services._util import iso, new_id, now, utc
from fabgrid.services.accounts import Principal
from fabgrid.services.timeline import Note
from fabgrid.store.uow import UnitOfWork

#: The way of an order line, in order (the page's progress steps; a cancelled line leaves the way).
STATUSES = tuple(s.value for s in OrderStatus if s is not OrderStatus.CANCELLED)
#: Lines of one order (a cart of parts).
MAX_LINES = 50


@dataclass(frozen=True)
class LineRequest:
    """One line to order: a quote of the caller's organisation, the offer's site (None: the allocation engine
    chooses among the quote's offers) and the lead-time tier (None: standard)."""

    quote_id: str
    site: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class InvoiceData:
    """What an invoice shows: the order, the buyer organisation, the parts' file names, the sites."""

    order: Order
    buyer: str
    parts: dict[str, str]
    sites: dict[str, Site]


@dataclass(frozen=True)
class _Quoted:
    """A quote being ordered: the stored quote, the engine's quote, and the request it answered."""

    row: StoredQuote
    quote: Quote
    request: dict[str, Any]


def _typed(stored: StoredQuote) -> _Quoted:
    return _Quoted(stored, stored.quote, dict(stored.request or {}))


def _notify(uow: UnitOfWork, order: Order, line: OrderLine | None, status: OrderStatus, note: str = "") -> list[str]:
    data = {"order_id": order.id, "status": status.value, "site_id": line.site_id if line else None,
            "line_id": line.id if line else None, "note": note, "links": {"order": f"/api/v1/orders/{order.id}"}}
    return webhooks.emit(uow, order.organisation_id, "order.status", data)


def _set_status(uow: UnitOfWork, order: Order, line: OrderLine, status: OrderStatus, who: Principal | None,
                note: str | Note = "", site_id: str | None = None) -> list[str]:
    """Move a line to `status` (and `site_id`), append the timeline event, notify the owner's webhooks."""
    if not line.status.can_become(status):
        raise InputError(f"order line {line.id} is {line.status.value}; it cannot become {status.value}",
                         code="order.transition", status=409)
    moved = uow.orders.update_line(line.id, status=status, site_id=site_id)
    timeline.event(uow, order.id, status, note, who.user_id if who else None, line=moved)
    return _notify(uow, order, moved, status, note.text if isinstance(note, Note) else note)


def set_line_status(uow: UnitOfWork, order: Order, line: OrderLine, status: OrderStatus, who: Principal | None,
                    note: str | Note = "") -> list[str]:
    """`_set_status` for other use cases (services.checkout's cancellation), in the caller's unit of work: the
    transition checked, the event appended; returns the webhook jobs to submit after the commit."""
    return _set_status(uow, order, line, status, who, note)


# ---------------------------------------------------------------- buyers


def _check_lines(lines: Sequence[LineRequest]) -> None:
    if not lines:
        raise InputError("an order needs at least one line", hint="give lines: [{quote_id, site?, tier?}]",
                         code="order.no_lines")
    if len(lines) > MAX_LINES:
        raise InputError(f"an order has at most {MAX_LINES} lines, not {len(lines)}",
                         hint="split the parts over several orders", code="order.too_many_lines")
    seen: set[str] = set()
    for i, ln in enumerate(lines):
        if ln.quote_id in seen:
            raise InputError(f"lines[{i}]: quote {ln.quote_id} is in the order twice",
                             hint="order a quote once; ask a quote of a larger quantity instead",
                             code="order.duplicate_line")
        seen.add(ln.quote_id)


def _quoted(uow: UnitOfWork, who: Principal, i: int, ln: LineRequest) -> _Quoted:
    row = uow.quotes.get(ln.quote_id, who.organisation_id)
    if row is None:
        raise NotFoundError(f"quote {ln.quote_id!r} not found", code="quote.not_found")
    where = f"lines[{i}]: " if i else ""
    if utc(row.expires_at) <= now():
        raise InputError(f"{where}quote {ln.quote_id} expired at {iso(row.expires_at)}", hint="ask for a new quote",
                         code="order.quote_expired", status=409)
    if uow.orders.quote_ordered(ln.quote_id):
        raise InputError(f"{where}quote {ln.quote_id} was ordered already",
                         hint="GET /api/v1/orders lists your orders", code="order.duplicate", status=409)
    q = _typed(row)
    if not q.quote.offers:
        raise InputError(f"{where}quote {ln.quote_id} has no offers to order", code="order.no_offers", status=409)
    return q


def _check_ships_to(uow: UnitOfWork, site_ids: set[str], destination: object) -> None:
    """409 when a site the buyer chose does not ship to the destination's province (its storefront's regions)."""
    data = network.current(uow)
    city = data.logistics.cities.get(str(destination).casefold()) if destination else None
    for sid in sorted(site_ids):
        site = data.network.sites.get(sid)
        if city is not None and site is not None and not site.ships_to_province(city.province):
            raise InputError(f"{site.name} does not ship to {city.province} (it ships to {', '.join(site.ships_to)})",
                             hint="choose another offer of the quote, or let the allocation choose (leave site out)",
                             code="order.ships_to", status=409)


def place_order(settings: Settings, who: Principal, lines: Sequence[LineRequest],
                consent_design_sharing: bool = False, idempotency: tuple[str, str] | None = None,
                on_placed: Callable[[UnitOfWork, Order], None] | None = None) -> Order:
    """Order one or several quotes, each at the quoted price of the chosen offer (site) and tier, while the quotes
    are valid. Lines without a site are placed together by the allocation engine among their quotes' offers, by
    price and free capacity. 409 when a quote expired or was ordered already; 422 when an offer or tier is not in
    the quote or the quotes ship to different destinations. `idempotency` (key, request hash) is recorded with the
    order, in its transaction (`place_order_once`). `on_placed` records more about the new order in the same
    transaction (services.checkout: the address, tax details and consent)."""
    _check_lines(lines)
    with UnitOfWork(settings.database_url) as uow:
        quoted = [_quoted(uow, who, i, ln) for i, ln in enumerate(lines)]
        destinations = {q.request.get("destination") for q in quoted}
        if len(destinations) > 1:
            raise InputError("the quotes of one order must ship to one destination, not "
                             f"{', '.join(sorted(str(d) for d in destinations))}",
                             hint="quote every part for the same destination", code="order.destinations")
        oid = new_id("ord")
        line_ids = [new_id("oln") for _ in lines]
        sites: dict[str, tuple[str, str]] = {}
        unplaced = [placement.Wanted(lid, q.quote, q.request, q.quote.quantity, placement.need_by(q.request))
                    for lid, q, ln in zip(line_ids, quoted, lines, strict=True) if ln.site is None]
        if unplaced:
            placed = placement.allocate(uow, placement.scenario(uow, unplaced, set()))
            missing = [w.line_id for w in unplaced if w.line_id not in placed]
            if missing:
                raise InputError("no site has free capacity for this order now" if len(lines) == 1 else
                                 f"no site has free capacity now for line(s) "
                                 f"{', '.join(str(line_ids.index(m) + 1) for m in missing)} of this order",
                                 code="order.no_capacity", status=409)
            sites.update({lid: (site, "chosen by the allocation engine") for lid, site in placed.items()})
        full = factories.probation_full(uow, {str(ln.site) for ln in lines if ln.site is not None})
        _check_ships_to(uow, {str(ln.site) for ln in lines if ln.site is not None}, next(iter(destinations)))
        if full:
            raise InputError(next(iter(full.values())), hint="choose another offer of the quote, or let the "
                             "allocation choose (leave site out)", code="order.probation_cap", status=409)
        made: list[OrderLine] = []
        for pos, (lid, q, ln) in enumerate(zip(line_ids, quoted, lines, strict=True), start=1):
            site, how = sites.get(lid) or (str(ln.site), "chosen by the buyer")
            offer, chosen = placement.find_offer(q.quote, site, ln.tier)
            made.append(OrderLine(
                id=lid, order_id=oid, position=pos, quote_id=q.row.id, part_id=q.row.part_id, site_id=None,
                offer_site_id=offer.site, process=offer.process, material=offer.material,
                finish=q.quote.finish, quantity=offer.quantity, tier=chosen.tier,
                unit_price_cny=chosen.unit_price_cny, total_price_cny=chosen.total_price_cny,
                lead_time_days=chosen.lead_time_days, delivery_date=chosen.delivery_date,
                machine_h=offer.estimate.job_time_s / 3600.0, status=OrderStatus.PLACED,
                certifications=tuple(q.request.get("certifications") or ())))
            sites[lid] = (offer.site, how)
        order = Order(id=oid, organisation_id=who.organisation_id, user_id=who.user_id, status=OrderStatus.PLACED,
                      destination=destinations.pop(), consent_design_sharing=bool(consent_design_sharing),
                      created_at=now(), lines=tuple(made))
        uow.orders.add(order)
        if on_placed is not None:
            on_placed(uow, order)
        total = order.total_price_cny
        consent = "consented" if order.consent_design_sharing else "not consented"
        placed_note = (timeline.note("placed_one", total=f"{total:.2f}", tier=made[0].tier, consent=consent)
                       if len(made) == 1 else
                       timeline.note("placed_many", total=f"{total:.2f}", lines=len(made), consent=consent))
        timeline.event(uow, oid, OrderStatus.PLACED, placed_note, who.user_id)
        job_ids = _notify(uow, order, None, OrderStatus.PLACED, placed_note.text)
        for line in made:
            site, how = sites[line.id]
            job_ids += _set_status(uow, order, line, OrderStatus.ALLOCATED, who,
                                   timeline.note("allocated", site=site, how=how) if len(made) == 1 else
                                   timeline.note("allocated_line", site=site, how=how, line=line.position),
                                   site_id=site)
        if idempotency is not None:
            uow.orders.remember_key(who.organisation_id, idempotency[0], idempotency[1], oid)
        uow.commit()
        placed_order = uow.orders.get(oid)
    for j in job_ids:
        jobs.submit(settings, j)
    assert placed_order is not None
    return placed_order


#: An Idempotency-Key: 1 to 255 visible ASCII characters (a UUID is the usual choice).
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Placed:
    """An order placed by `place_order_once`, and whether it was placed before (the request replayed)."""

    order: Order
    replayed: bool


def _request_hash(lines: Sequence[LineRequest], consent_design_sharing: bool) -> str:
    doc = {"lines": [[ln.quote_id, ln.site, ln.tier] for ln in lines], "consent": bool(consent_design_sharing)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _placed_before(settings: Settings, who: Principal, key: str, request_hash: str) -> Order | None:
    with UnitOfWork(settings.database_url) as uow:
        prior = uow.orders.idempotency_key(who.organisation_id, key)
        if prior is None:
            return None
        if prior[0] != request_hash:
            raise InputError(f"Idempotency-Key {key!r} was used for another request (different lines or consent)",
                             hint="use a new key for a new order; repeat a request with its own key only",
                             code="order.idempotency_key_reused", status=422)
        return uow.orders.get(prior[1], who.organisation_id)


def place_order_once(settings: Settings, who: Principal, key: str, lines: Sequence[LineRequest],
                     consent_design_sharing: bool = False,
                     on_placed: Callable[[UnitOfWork, Order], None] | None = None) -> Placed:
    """`place_order` under an `Idempotency-Key` of the caller's organisation: the same key with the same request
    gives the order the first request placed (also while that request is still running elsewhere: the loser of
    the race reads the winner's order); the same key with another request is a 422."""
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InputError("the Idempotency-Key header must be 1 to 255 visible ASCII characters",
                         hint="send a new UUID per order, e.g. Idempotency-Key: 4f1c...", code="order.idempotency_key")
    request_hash = _request_hash(lines, consent_design_sharing)
    prior = _placed_before(settings, who, key, request_hash)
    if prior is not None:
        return Placed(prior, True)
    try:
        return Placed(place_order(settings, who, lines, consent_design_sharing, (key, request_hash), on_placed), False)
    except InputError as exc:
        if exc.code != "order.duplicate":
            raise
        prior = _placed_before(settings, who, key, request_hash)  # a concurrent request with this key won
        if prior is None:
            raise
        return Placed(prior, True)


def _for_site(order: Order, site_id: str) -> Order:
    """The part of an order a factory sees: its site's lines and the events of those lines or of the order."""
    mine = order.lines_at(site_id)
    ids = {ln.id for ln in mine}
    events = tuple(e for e in order.events if e.line_id is None or e.line_id in ids)
    return order.model_copy(update={"lines": mine, "events": events})


def _visible(uow: UnitOfWork, who: Principal, order_id: str) -> Order:
    o: Order | None
    if who.role in ("operator", "admin"):
        o = uow.orders.get(order_id)
    elif who.role == "factory":
        o = uow.orders.for_site(who.site_id, order_id) if who.site_id else None
        o = _for_site(o, str(who.site_id)) if o is not None else None
    else:
        o = uow.orders.get(order_id, who.organisation_id)
    if o is None:
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    return o


def get_order(settings: Settings, who: Principal, order_id: str) -> Order:
    """One order: the buyer's organisation, the factory holding a line of it (its lines only), or an operator."""
    with UnitOfWork(settings.database_url) as uow:
        return _visible(uow, who, order_id)


def list_orders(settings: Settings, who: Principal, status: str | None = None, limit: int = 200) -> list[Order]:
    """Orders the caller may see: its organisation's (buyers), its site's (factories: their lines), all
    (operators). `status` filters by a line's status."""
    statuses = (_status(status),) if status else ()
    with UnitOfWork(settings.database_url) as uow:
        if who.role in ("operator", "admin"):
            return uow.orders.find(statuses=statuses, limit=limit)
        if who.role == "factory":
            site = who.site_id or "-"
            return [_for_site(o, site) for o in uow.orders.find(site_id=site, statuses=statuses, limit=limit)]
        return uow.orders.find(organisation_id=who.organisation_id, statuses=statuses, limit=limit)


def _status(value: str) -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError:
        raise InputError(f"status {value!r} is not an order status", hint=f"one of {', '.join(STATUSES)}",
                         code="order.bad_status") from None


def invoice_data(settings: Settings, who: Principal, order_id: str) -> InvoiceData:
    """What the invoice shows: the order, its buyer organisation, parts and sites (buyer or operator only)."""
    if who.role == "factory":
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    with UnitOfWork(settings.database_url) as uow:
        o = _visible(uow, who, order_id)
        org = uow.organisations.get(o.organisation_id)
        parts = {}
        for ln in o.lines:
            part = uow.parts.get(ln.part_id, None)
            parts[ln.part_id] = part.filename if part else ""
        net = network.current(uow).network
        sites = {ln.site_id: net.sites[ln.site_id] for ln in o.lines if ln.site_id and ln.site_id in net.sites}
        return InvoiceData(order=o, buyer=org.name if org else "", parts=parts, sites=sites)


# ---------------------------------------------------------------- factories


def _factory_site(who: Principal, what: str) -> str:
    if who.role != "factory" or not who.site_id:
        raise InputError(f"only a factory account {what}", code="factory.not_factory", status=403)
    return who.site_id


def factory_work(settings: Settings, who: Principal, include_done: bool = False) -> list[Order]:
    """Orders with lines allocated to the caller's site (open ones unless `include_done`), each with the site's
    lines only."""
    site = _factory_site(who, "has a work list")
    with UnitOfWork(settings.database_url) as uow:
        statuses = () if include_done else FACTORY_OPEN
        out = []
        for o in uow.orders.find(site_id=site, statuses=statuses):
            mine = _for_site(o, site)
            if not include_done:
                mine = mine.model_copy(update={"lines": tuple(ln for ln in mine.lines if ln.status in FACTORY_OPEN)})
            out.append(mine)
        return out


def _site_lines(uow: UnitOfWork, who: Principal, order_id: str, line_id: str | None,
                what: str) -> tuple[Order, tuple[OrderLine, ...]]:
    site = _factory_site(who, what)
    o = uow.orders.for_site(site, order_id)
    if o is None:
        raise NotFoundError(f"order {order_id!r} not found at your site", code="order.not_found")
    lines = o.lines_at(site)
    if line_id is not None:
        lines = tuple(ln for ln in lines if ln.id == line_id)
        if not lines:
            raise NotFoundError(f"order {order_id} has no line {line_id!r} at your site", code="order.line_not_found")
    return o, lines


def factory_status(settings: Settings, who: Principal, order_id: str, status: str, note: str = "",
                   line_id: str | None = None) -> Order:
    """Advance the caller's site's lines of an order (or the one line `line_id`) to the next production status."""
    new = _status(status) if status in STATUSES else None
    if new is None or new not in FACTORY_STATUSES:
        raise InputError(f"status {status!r} cannot be set here",
                         hint=f"one of {', '.join(s.value for s in FACTORY_STATUSES)}; "
                         "'inspected' comes from POST .../inspection", code="order.bad_status")
    need = OrderStatus(STATUSES[new.rank - 1])
    with UnitOfWork(settings.database_url) as uow:
        o, lines = _site_lines(uow, who, order_id, line_id, "updates production status")
        wrong = [ln for ln in lines if ln.status is not need]
        if wrong:
            what = f"order {order_id}" if len(lines) == 1 and line_id is None else f"line {wrong[0].id}"
            raise InputError(f"{what} is {wrong[0].status.value}; {new.value} follows {need.value}",
                             code="order.transition", status=409)
        job_ids: list[str] = []
        for ln in lines:
            job_ids += _set_status(uow, o, ln, new, who, note)
        if new is OrderStatus.DELIVERED:
            factories.review_probation(uow, str(who.site_id), now())  # probation may end by itself now
        uow.commit()
        doc = _for_site(uow.orders.get(order_id) or o, str(who.site_id))
    for j in job_ids:
        jobs.submit(settings, j)
    return doc


def _history(last: Inspection | None) -> tuple[Inspection, ...]:
    """The inspections before the one now recorded, oldest first (the last 20)."""
    if last is None:
        return ()
    return (*last.previous, last.model_copy(update={"previous": ()}))[-20:]


def factory_inspection(settings: Settings, who: Principal, order_id: str, passed: bool, inspected_qty: int,
                       defects: list[str], measurements: dict[str, float], note: str = "",
                       line_id: str | None = None, features: Sequence[FeatureMeasurement] = ()) -> Order:
    """Record the inspection of a built line; passed -> inspected, failed -> back in production (rework).
    Without `line_id` the site must hold exactly one built line of the order. `features` are measured against
    their tolerances: a line with a value out of tolerance cannot pass (422 order.out_of_tolerance). The record
    names the build the line's parts came from, its machine, and the site's lot of the material (genealogy)."""
    with UnitOfWork(settings.database_url) as uow:
        o, lines = _site_lines(uow, who, order_id, line_id, "enters inspections")
        built = [ln for ln in lines if ln.status is OrderStatus.BUILT]
        if not built:
            raise InputError(f"order {order_id} is {lines[0].status.value}; it is inspected once built",
                             code="order.transition", status=409)
        if len(built) > 1:
            raise InputError(f"order {order_id} has {len(built)} built lines at your site",
                             hint="name the line: line_id", code="order.line_required")
        ln = built[0]
        if not 1 <= inspected_qty <= ln.quantity:
            raise InputError(f"inspected_qty must be 1..{ln.quantity}", code="order.inspection")
        from fabgrid.services.inspection_plan import against_plan

        against_plan(ln.feature_plan, features)
        if len(features) > MAX_FEATURES:
            raise InputError(f"{len(features)} features; an inspection records at most {MAX_FEATURES}",
                             code="order.inspection")
        names = [f.name for f in features]
        if len(set(names)) != len(names):
            raise InputError("a feature is measured twice", hint="give each feature once, with all its values",
                             code="order.inspection")
        bad = [f"{f.name} ({f.out_of_tolerance} of {len(f.values)} values)" for f in features if not f.passed]
        if passed and bad:
            raise InputError("out of tolerance: " + ", ".join(bad) + "; the line cannot pass",
                             hint="record it as failed (rework), or measure again", code="order.out_of_tolerance",
                             status=422)
        build = next((b for b in sorted(uow.dispatch.builds(site_id=ln.site_id), key=lambda b: b.updated_at,
                                        reverse=True) if any(p.line_id == ln.id for p in b.parts)), None)
        front = uow.factories.storefront(str(ln.site_id))
        lot = next((s.lot for s in (front.stock if front is not None else ()) if s.material == ln.material
                    and s.lot), None)
        result = Inspection(passed=passed, inspected_qty=inspected_qty, defects=tuple(defects[:100]),
                            measurements=measurements, features=tuple(features), note=note[:500], by=who.email,
                            at=now(), build_id=build.id if build else None,
                            machine_id=build.machine_id if build else None, material_lot=lot,
                            build_operator=build.operator if build else "",
                            previous=_history(ln.inspection))
        ln = uow.orders.update_line(ln.id, inspection=result)
        if passed:
            job_ids = _set_status(uow, o, ln, OrderStatus.INSPECTED, who,
                                  note or timeline.note("inspection_passed", qty=inspected_qty))
        else:
            job_ids = _set_status(uow, o, ln, OrderStatus.IN_PRODUCTION, who,
                                  timeline.note("inspection_failed", defects="; ".join(defects)))
        uow.commit()
        doc = _for_site(uow.orders.get(order_id) or o, str(who.site_id))
    for j in job_ids:
        jobs.submit(settings, j)
    return doc


# ---------------------------------------------------------------- lines agreed outside the instant quote


@dataclass(frozen=True)
class AwardedLine:
    """A line agreed at a price outside the instant quote (an RFQ's award): the stored quote that records the
    bid, the site, and the agreed process, material, quantity, unit price and delivery date."""

    quote_id: str
    part_id: str
    site_id: str
    process: ProcessFamily
    material: str
    quantity: int
    unit_price_cny: float
    lead_time_days: int
    delivery_date: date
    finish: str | None = None


def place_awarded(uow: UnitOfWork, who: Principal, lines: Sequence[AwardedLine], destination: str | None = None,
                  consent_design_sharing: bool = True, note: str = "") -> tuple[Order, list[str]]:
    """An order of lines agreed at a price (an RFQ's award), in the caller's unit of work: one line per part at its
    site and agreed price, allocated at once (the site answers it like any allocated line). Returns the order and
    the webhook jobs to submit after the caller's commit."""
    _check_lines([LineRequest(ln.quote_id) for ln in lines])
    oid = new_id("ord")
    made = [OrderLine(id=new_id("oln"), order_id=oid, position=pos, quote_id=ln.quote_id, part_id=ln.part_id,
                      site_id=None, offer_site_id=ln.site_id, process=ln.process, material=ln.material,
                      finish=ln.finish, quantity=ln.quantity, tier="standard", unit_price_cny=ln.unit_price_cny,
                      total_price_cny=round(ln.unit_price_cny * ln.quantity, 2), lead_time_days=ln.lead_time_days,
                      delivery_date=ln.delivery_date, machine_h=0.0, status=OrderStatus.PLACED)
            for pos, ln in enumerate(lines, start=1)]
    order = Order(id=oid, organisation_id=who.organisation_id, user_id=who.user_id, status=OrderStatus.PLACED,
                  destination=destination, consent_design_sharing=consent_design_sharing, created_at=now(),
                  lines=tuple(made))
    uow.orders.add(order)
    uow.orders.event(oid, OrderStatus.PLACED, note, who.user_id)
    job_ids = _notify(uow, order, None, OrderStatus.PLACED, note)
    for line, ln in zip(made, lines, strict=True):
        job_ids += _set_status(uow, order, line, OrderStatus.ALLOCATED, who,
                               timeline.note("allocated", site=ln.site_id, how="awarded") if len(made) == 1 else
                               timeline.note("allocated_line", site=ln.site_id, how="awarded", line=line.position),
                               site_id=ln.site_id)
    return order, job_ids
