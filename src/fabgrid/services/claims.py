"""Claims on delivered order lines: within FABGRID_CLAIM_WINDOW_DAYS after delivery (default 7) the buyer opens a
claim with photos and a description; the factory answers; the park's operator decides remake, partial refund or
rejected. A remake is a new line of the order at no charge to the buyer, allocated to the same factory, whose parts
at the line's unit price are the factory's cost; a partial refund records its amount (also the factory's cost).
Upheld claims (remake, partial refund) count in the factory's scorecard (`claim_figures`).

Depends on the store, services.messages/attachments/jobs/orders and the domain; never on api, web or cli.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from fabgrid.config import Settings
from fabgrid.costing.leadtime import local_today
from fabgrid.domain.order import Order, OrderLine, OrderStatus
from fabgrid.domain.rfq import Claim, ClaimOutcome
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import attachments, jobs, orders, timeline
from fabgrid.services._util import iso, new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.messages import is_operator, notify
from fabgrid.store.uow import UnitOfWork

MAX_PHOTOS = 20
UPHELD = frozenset({ClaimOutcome.REMAKE, ClaimOutcome.PARTIAL_REFUND})


def open_claim(settings: Settings, who: Principal, order_id: str, line_id: str, description: str,
               photo_file_ids: Sequence[str] = ()) -> Claim:
    """The buyer's claim on a delivered line of its order, within the claim window after delivery."""
    text = description.strip()
    if not text:
        raise InputError("a claim needs a description", code="claim.description")
    if len(photo_file_ids) > MAX_PHOTOS:
        raise InputError(f"a claim has at most {MAX_PHOTOS} photos", code="claim.photos")
    at = now()
    with UnitOfWork(settings.database_url) as uow:
        o = uow.orders.get(order_id, who.organisation_id) if who.role != "factory" else None
        if o is None:
            raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
        ln = o.line(line_id)
        if ln is None:
            raise NotFoundError(f"order {order_id} has no line {line_id!r}", code="order.line_not_found")
        delivered = uow.orders.delivered_at(line_id)
        if ln.status is not OrderStatus.DELIVERED or delivered is None:
            raise InputError(f"line {line_id} is {ln.status.value}; a claim is opened after delivery",
                             code="claim.not_delivered", status=409)
        closes = delivered + timedelta(days=settings.claim_window_days)
        if at > closes:
            raise InputError(f"the claim window of line {line_id} closed at {iso(closes)} "
                             f"({settings.claim_window_days:g} days after delivery)", code="claim.window_closed",
                             status=409)
        if any(c.outcome is None for c in uow.rfq.claims(line_id=line_id)):
            raise InputError(f"line {line_id} has an open claim", code="claim.open", status=409)
        for f in photo_file_ids:
            if not attachments.own_file(uow, who, f).media_type.startswith("image/"):
                raise InputError(f"photo {f} is not an image", code="claim.photos", status=415)
        c = Claim(id=new_id("clm"), order_id=order_id, line_id=line_id, site_id=str(ln.site_id),
                  organisation_id=o.organisation_id, user_id=who.user_id, description=text[:5000],
                  photo_file_ids=tuple(photo_file_ids), created_at=at)
        uow.rfq.add_claim(c)
        job_ids = notify(uow, settings, site_ids=[c.site_id], subject=f"fabgrid：索赔 {c.id} / claim {c.id}",
                         body=f"order {order_id}, line {line_id}:\n\n{text}")
        uow.commit()
    for j in job_ids:
        jobs.submit(settings, j)
    return c


def _visible(uow: UnitOfWork, who: Principal, claim_id: str) -> Claim:
    c = uow.rfq.claim(claim_id)
    ok = c is not None and (is_operator(who) or (who.role == "factory" and who.site_id == c.site_id)
                            or (who.role != "factory" and who.organisation_id == c.organisation_id))
    if c is None or not ok:
        raise NotFoundError(f"claim {claim_id!r} not found", code="claim.not_found")
    return c


def get_claim(settings: Settings, who: Principal, claim_id: str) -> Claim:
    """A claim, for the buyer, the factory and the operators."""
    with UnitOfWork(settings.database_url) as uow:
        return _visible(uow, who, claim_id)


def order_claims(settings: Settings, who: Principal, order_id: str) -> list[Claim]:
    """The claims of an order the caller may see."""
    with UnitOfWork(settings.database_url) as uow:
        return [c for c in uow.rfq.claims(order_id=order_id) if _may(who, c)]


def _may(who: Principal, c: Claim) -> bool:
    return (is_operator(who) or (who.role == "factory" and who.site_id == c.site_id)
            or (who.role != "factory" and who.organisation_id == c.organisation_id))


def answer(settings: Settings, who: Principal, claim_id: str, text: str) -> Claim:
    """The factory answers a claim on its line (once, before the decision)."""
    if not text.strip():
        raise InputError("an answer needs a text", code="claim.answer")
    with UnitOfWork(settings.database_url) as uow:
        c = _visible(uow, who, claim_id)
        if who.role != "factory":
            raise InputError("the factory of the line answers a claim", code="claim.not_factory", status=403)
        if c.answer is not None or c.outcome is not None:
            raise InputError(f"claim {claim_id} was answered already", code="claim.answered", status=409)
        uow.rfq.update_claim(claim_id, {"answer": text.strip()[:5000], "answered_at": iso(now())})
        uow.commit()
        return uow.rfq.claim(claim_id) or c


def decide(settings: Settings, who: Principal, claim_id: str, outcome: str, refund_cny: float | None = None,
           note: str = "", remake_quantity: int | None = None) -> Claim:
    """The operator's decision: remake (`remake_quantity` parts, default the line's quantity: a new line of the
    order at no charge, allocated to the same factory), partial_refund (with the amount, at most the line's total)
    or rejected."""
    if not is_operator(who):
        raise InputError("the park's operator decides claims", code="claim.not_operator", status=403)
    try:
        out = ClaimOutcome(outcome)
    except ValueError:
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(o.value for o in ClaimOutcome)}",
                         code="claim.outcome") from None
    with UnitOfWork(settings.database_url) as uow:
        c = _visible(uow, who, claim_id)
        if c.outcome is not None:
            raise InputError(f"claim {claim_id} was decided already ({c.outcome.value})", code="claim.decided",
                             status=409)
        o = uow.orders.get(c.order_id)
        ln = o.line(c.line_id) if o is not None else None
        total = ln.total_price_cny if ln is not None else 0.0
        if out is ClaimOutcome.PARTIAL_REFUND:
            if refund_cny is None or not 0 < refund_cny <= total:
                raise InputError(f"a partial refund needs refund_cny between 0 and the line's {total:.2f} CNY",
                                 code="claim.refund")
        elif refund_cny is not None:
            raise InputError("refund_cny goes with a partial_refund only", code="claim.refund")
        if remake_quantity is not None and out is not ClaimOutcome.REMAKE:
            raise InputError("remake_quantity goes with a remake only", code="claim.remake_quantity")
        at = now()
        changes: dict[str, object] = {"refund_cny": refund_cny, "decision_note": note.strip()[:2000],
                                      "factory_cost_cny": refund_cny}
        job_ids: list[str] = []
        if out is ClaimOutcome.REMAKE:
            if o is None or ln is None:
                raise NotFoundError(f"order line {c.line_id} of claim {claim_id} is gone", code="claim.line")
            qty = ln.quantity if remake_quantity is None else remake_quantity
            if not 1 <= qty <= ln.quantity:
                raise InputError(f"remake_quantity must be 1..{ln.quantity} (the line's quantity)",
                                 code="claim.remake_quantity")
            made, job_ids = _remake(uow, who, c, o, ln, qty, at)
            changes.update(remake_line_id=made.id, remake_quantity=qty,
                           factory_cost_cny=round(ln.unit_price_cny * qty, 2))
        uow.rfq.update_claim(claim_id, changes, outcome=out.value, decided_at=at)
        job_ids += notify(uow, settings, organisation_ids=[c.organisation_id], site_ids=[c.site_id],
                          subject=f"fabgrid：索赔 {c.id} 已裁定 / claim {c.id} decided: {out.value}",
                          body=note.strip() or out.value)
        uow.commit()
        decided = uow.rfq.claim(claim_id) or c
    for j in job_ids:
        jobs.submit(settings, j)
    return decided


def _remake(uow: UnitOfWork, who: Principal, c: Claim, o: Order, ln: OrderLine, qty: int,
            at: datetime) -> tuple[OrderLine, list[str]]:
    """The remake line: `qty` parts of the claimed line at no charge, allocated to the same factory, with a quote
    that records it (the line's offer at price 0, the factory's cost in its breakdown)."""
    old = uow.quotes.by_id(ln.quote_id)
    site = ln.site_id or ln.offer_site_id
    base = next((of for of in old.quote.offers if of.site == site), None) if old is not None else None
    if old is None or base is None:
        raise InputError(f"the quote of line {ln.id} has no offer of site {site}", code="claim.line", status=409)
    delivery = local_today(at) + timedelta(days=ln.lead_time_days)
    cost = round(ln.unit_price_cny * qty, 2)
    offer = base.model_copy(update={"quantity": qty, "unit_price_cny": 0.0, "total_price_cny": 0.0, "tiers": [],
                                    "ship_date": delivery, "delivery_date": delivery,
                                    "breakdown": {"remake_factory_cost_cny": cost}})
    q = old.quote.model_copy(update={
        "input_hash": hashlib.sha256(f"remake:{c.id}".encode()).hexdigest(), "quantity": qty, "created_at": at,
        "expires_at": at + timedelta(days=365), "offers": [offer], "rejected": []})
    qid = new_id("quo")
    uow.quotes.add(qid, organisation_id=o.organisation_id, user_id=c.user_id, part_id=ln.part_id,
                   input_hash=q.input_hash, request={**old.request, "quantity": qty, "claim_id": c.id,
                                                     "remake_of_line": ln.id}, quote=q)
    line = OrderLine(id=new_id("oln"), order_id=o.id, position=max(x.position for x in o.lines) + 1, quote_id=qid,
                     part_id=ln.part_id, site_id=site, offer_site_id=site, process=ln.process, material=ln.material,
                     finish=ln.finish, quantity=qty, tier="standard", unit_price_cny=0.0, total_price_cny=0.0,
                     lead_time_days=ln.lead_time_days, delivery_date=delivery,
                     machine_h=round(ln.machine_h * qty / ln.quantity, 3), status=OrderStatus.PLACED)
    uow.orders.add_line(line)
    timeline.event(uow, o.id, OrderStatus.PLACED, timeline.note("remake", line=ln.position, claim=c.id, qty=qty,
                                                                cost=f"{cost:.2f}"), who.user_id, line=line)
    job_ids = orders.set_line_status(uow, o, line, OrderStatus.ALLOCATED, who,
                                     timeline.note("allocated_remake", site=site, line=ln.position, claim=c.id))
    return line, job_ids


def claim_figures(uow: UnitOfWork, site_id: str, since: datetime,
                  delivered_lines: int) -> tuple[int, int, float | None, float]:
    """(claims decided, claims upheld, upheld claims per delivered line, what the upheld claims cost the factory in
    CNY: remade parts at the line's unit price, refunds) of a site since `since`."""
    decided = [c for c in uow.rfq.claims(site_id=site_id, decided_since=since) if c.outcome is not None]
    upheld = [c for c in decided if c.outcome in UPHELD]
    cost = round(sum(c.factory_cost_cny or 0.0 for c in upheld), 2)
    rate = len(upheld) / delivered_lines if delivered_lines else (1.0 if upheld else None)
    return len(decided), len(upheld), rate, cost
