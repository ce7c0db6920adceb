"""The award of an RFQ's bids (issue 19): the buyer awards one bid, or splits the RFQ's parts and quantity tiers over
several bids; each awarded factory gets an order at its bid price, a line per part and tier
(`services.orders.place_awarded`, with a quote that records the bid for each line), a draft contract
(`services.contracts`) and the order's thread, all in one unit of work (a bad split changes nothing); with every part
awarded the other bids are lost and their factories told, without the price.

Depends on the store, services.rfq/orders/contracts/messages/attachments/network/webhooks/jobs and the domain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.costing.leadtime import local_today
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.domain.quote import Estimate, Offer, Quote
from fabgrid.domain.rfq import AwardedTier, Bid, BidStatus, BidTier, Contract, Rfq, RfqPart, RfqStatus, Thread
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import attachments, contracts, jobs, network, orders, webhooks
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.messages import is_operator, notify, open_thread, texts
from fabgrid.services.rfq import nda, own_rfq
from fabgrid.store.uow import UnitOfWork


@dataclass(frozen=True)
class Award:
    """What an award made for one factory: the bid, the order, the contract (draft) and the order's thread."""

    order: Any
    contract: Contract
    thread: Thread
    bid_id: str = ""
    site_id: str = ""


@dataclass(frozen=True)
class Pick:
    """One entry of a split award: a bid, and optionally the part and the quantity tier of it awarded (no part:
    every part the bid prices that is not awarded yet; no quantity: the smallest tier the bid prices)."""

    bid_id: str
    part_id: str | None = None
    quantity: int | None = None
    #: without a part: the quantity per part (the one-bid form's `quantities`)
    quantities: dict[str, int] | None = None


def _award_quote(uow: UnitOfWork, r: Rfq, p: RfqPart, bid: Bid, tier: BidTier, process: ProcessFamily,
                 material: str, city: str, delivery: date) -> str:
    """A quote that records the awarded tier (the order line's quote), valid until the bid's validity."""
    at = now()
    total = round(tier.unit_price_cny * tier.quantity, 2)
    est = Estimate(process=process, machine_model="", material=material, quantity=tier.quantity, time_s=0.0,
                   job_time_s=0.0, builds=1, material_g=0.0, part_g=0.0, support_g=0.0, energy_kwh=0.0,
                   operator_s=0.0, setup_s=0.0)
    offer = Offer(site=bid.site_id, city=city, process=process, machine="", material=material,
                  quantity=tier.quantity, unit_price_cny=tier.unit_price_cny, total_price_cny=total,
                  lead_time_days=tier.lead_time_days, ship_date=delivery, delivery_date=delivery,
                  meets_need_by=delivery <= r.need_by, energy_kwh=0.0, co2_kg=0.0, tiers=[],
                  breakdown={"bid_unit_price_cny": tier.unit_price_cny}, estimate=est)
    expires = datetime.combine(bid.valid_until + timedelta(days=1), time(), UTC)
    q = Quote(input_hash=hashlib.sha256(f"rfq:{r.id}:{bid.id}:{p.part_id}".encode()).hexdigest(),
              part_name=p.filename, material=material, quantity=tier.quantity, process=process, finish=p.finish,
              need_by=r.need_by, destination=r.destination, created_at=at, expires_at=expires, offers=[offer],
              rejected=[])
    qid = new_id("quo")
    uow.quotes.add(qid, organisation_id=r.organisation_id, user_id=r.user_id, part_id=p.part_id,
                   input_hash=q.input_hash, request={"part_id": p.part_id, "material": material,
                                                     "quantity": tier.quantity, "rfq_id": r.id, "bid_id": bid.id,
                                                     "destination": r.destination}, quote=q)
    return qid


def award(settings: Settings, who: Principal, rfq_id: str, bid_id: str, *,
          quantities: dict[str, int] | None = None, part_ids: Sequence[str] | None = None,
          payment_terms: dict[str, float] | None = None) -> Award:
    """Award one bid (all its parts not awarded yet, or `part_ids`) at the quantity chosen per part (default: the
    smallest tier the bid prices); the one-bid form of `award_split`."""
    if part_ids:
        picks = [Pick(bid_id, pid, (quantities or {}).get(pid)) for pid in part_ids]
    else:
        picks = [Pick(bid_id, quantities=quantities)]
    return award_split(settings, who, rfq_id, picks, payment_terms=payment_terms)[0]


@dataclass(frozen=True)
class _Chosen:
    bid: Bid
    part: RfqPart
    tier: BidTier


def _resolve(uow: UnitOfWork, r: Rfq, picks: Sequence[Pick], today: date) -> list[_Chosen]:
    """The (bid, part, tier) of each pick, checked: active valid bids of this RFQ, parts of the RFQ not awarded yet,
    tiers the bid prices, no tier awarded twice."""
    if not picks:
        raise InputError("an award names at least one bid", hint='{"bid_id": ...} or {"awards": [{"bid_id", '
                         '"part_id", "quantity"}, ...]}', code="rfq.award_split")
    bids: dict[str, Bid] = {}
    out: list[_Chosen] = []
    parts = {p.part_id: p for p in r.parts}
    for i, pk in enumerate(picks):
        where = f"awards[{i}]" if len(picks) > 1 else "bid"
        bid = bids.get(pk.bid_id) or uow.rfq.bid(pk.bid_id)
        if bid is None or bid.rfq_id != r.id:
            raise NotFoundError(f"{where}: bid {pk.bid_id!r} not found on rfq {r.id}", code="rfq.bid_not_found")
        if bid.status is not BidStatus.ACTIVE:
            raise InputError(f"{where}: bid {bid.id} is {bid.status.value}; only an active bid is awarded",
                             code="rfq.bid_not_active", status=409)
        if bid.valid_until < today:
            raise InputError(f"{where}: bid {bid.id} was valid until {bid.valid_until}", code="rfq.bid_expired",
                             status=409)
        bids[bid.id] = bid
        if pk.part_id is None:
            if pk.quantity is not None:
                raise InputError(f"{where}: a quantity goes with a part_id", code="rfq.award_split")
            wanted = [(pid, (pk.quantities or {}).get(pid)) for pid in dict.fromkeys(t.part_id for t in bid.tiers)
                      if pid not in r.awarded]
            if not wanted:
                raise InputError(f"{where}: bid {bid.id} prices no part left to award", code="rfq.award_parts",
                                 status=409)
        else:
            wanted = [(pk.part_id, pk.quantity)]
        for pid, asked in wanted:
            p = parts.get(pid)
            if p is None:
                raise InputError(f"{where}: part {pid!r} is not a part of rfq {r.id}",
                                 hint=", ".join(parts), code="rfq.award_parts")
            if pid in r.awarded:
                raise InputError(f"{where}: part {pid} was awarded already (to bid {r.awarded[pid]})",
                                 code="rfq.award_parts", status=409)
            priced = sorted(t.quantity for t in bid.tiers if t.part_id == pid)
            if not priced:
                raise InputError(f"{where}: bid {bid.id} does not price part {pid}", code="rfq.award_quantity")
            qty = asked if asked is not None else priced[0]
            tier = bid.tier(pid, qty)
            if tier is None:
                raise InputError(f"{where}: bid {bid.id} has no price for part {pid} at {qty}",
                                 hint=f"it prices {priced}", code="rfq.award_quantity")
            twice = next((c for c in out if c.part.part_id == pid and c.tier.quantity == qty), None)
            if twice is not None:
                raise InputError(f"{where}: part {pid} at {qty} is awarded twice (also to bid {twice.bid.id})",
                                 hint="award each quantity tier of a part to one bid", code="rfq.award_split")
            out.append(_Chosen(bid, p, tier))
    return out


def award_split(settings: Settings, who: Principal, rfq_id: str, picks: Sequence[Pick], *,
                payment_terms: dict[str, float] | None = None) -> list[Award]:
    """Award parts and quantity tiers of the RFQ to one or several bids: per awarded factory an order at its bid
    price (a line per part and tier) allocated to it, a draft contract and the order's thread. Checked whole
    before anything is written: a bad split changes nothing. With every part awarded, the other bids are lost and
    their factories told, without the price."""
    pay = contracts.check_payment(payment_terms)
    at = now()
    with UnitOfWork(settings.database_url) as uow:
        r = own_rfq(uow, who, rfq_id)
        if who.role == "factory" or (is_operator(who) and r.organisation_id != who.organisation_id):
            raise InputError("only the buyer awards its RFQ", code="rfq.not_buyer", status=403)
        if r.status is not RfqStatus.OPEN:
            raise InputError(f"rfq {rfq_id} is {r.status.value}", code="rfq.closed", status=409)
        chosen = _resolve(uow, r, picks, local_today(at))
        net = network.current(uow).network
        by_bid: dict[str, list[_Chosen]] = {}
        for ch in chosen:
            if ch.bid.site_id not in net.sites:
                raise InputError(f"site {ch.bid.site_id} left the network", code="rfq.site_gone", status=409)
            by_bid.setdefault(ch.bid.id, []).append(ch)
        made: list[Award] = []
        job_ids: list[str] = []
        tiers = list(r.awarded_tiers)
        awarded = dict(r.awarded)
        orgs = uow.rfq.organisations_of_sites([b.site_id for b in uow.rfq.bids(rfq_id)])
        for group in by_bid.values():
            a, jobs_of = _award_one(uow, settings, who, r, group, pay, at)
            made.append(a)
            job_ids += jobs_of
            for ch in group:
                awarded.setdefault(ch.part.part_id, ch.bid.id)
                tiers.append(AwardedTier(part_id=ch.part.part_id, quantity=ch.tier.quantity, bid_id=ch.bid.id,
                                         order_id=a.order.id))
            if a.site_id in orgs:
                job_ids += webhooks.emit(uow, orgs[a.site_id], "rfq.awarded", {
                    "rfq_id": rfq_id, "bid_id": a.bid_id, "awarded": True, "order_id": a.order.id})
        done = all(p.part_id in awarded for p in r.parts)
        uow.rfq.set_awarded(rfq_id, awarded, RfqStatus.AWARDED if done else RfqStatus.OPEN, tiers)
        if done:
            lost = texts()["email"]["lost"]
            for b in uow.rfq.bids(rfq_id):
                if b.status is BidStatus.ACTIVE:
                    uow.rfq.set_bid_status(b.id, BidStatus.LOST)
                    job_ids += notify(uow, settings, site_ids=[b.site_id], subject=str(lost["subject"]).format(
                        rfq=rfq_id), body=str(lost["body"]).format(rfq=rfq_id))
                    if b.site_id in orgs:
                        job_ids += webhooks.emit(uow, orgs[b.site_id], "rfq.awarded",
                                                 {"rfq_id": rfq_id, "bid_id": b.id, "awarded": False})
        uow.commit()
        placed = [Award(uow.orders.get(a.order.id) or a.order, a.contract, a.thread, a.bid_id, a.site_id)
                  for a in made]
    for j in job_ids:
        jobs.submit(settings, j)
    return placed


def _award_one(uow: UnitOfWork, settings: Settings, who: Principal, r: Rfq, group: Sequence[_Chosen],
               pay: dict[str, float], at: datetime) -> tuple[Award, list[str]]:
    """One factory's share of an award: its order (a line per part and tier), the draft contract, the thread."""
    bid = group[0].bid
    net = network.current(uow).network
    site = net.sites[bid.site_id]
    lines: list[orders.AwardedLine] = []
    docs: list[dict[str, Any]] = []
    for ch in group:
        p, tier = ch.part, ch.tier
        proc = ProcessFamily(p.process) if p.process else next(
            (net.catalog.machine_models[m.model].process for m in site.machines
             if m.model in net.catalog.machine_models), ProcessFamily.CNC)
        material = p.material or (site.materials[0] if site.materials else "unspecified")
        delivery = local_today(at) + timedelta(days=tier.lead_time_days)
        qid = _award_quote(uow, r, p, bid, tier, proc, material, site.city, delivery)
        lines.append(orders.AwardedLine(quote_id=qid, part_id=p.part_id, site_id=bid.site_id, process=proc,
                                        material=material, quantity=tier.quantity,
                                        unit_price_cny=tier.unit_price_cny, lead_time_days=tier.lead_time_days,
                                        delivery_date=delivery, finish=p.finish))
        if any(d.get("part_id") == p.part_id for d in docs):
            continue
        brief = uow.rfq.part_brief(p.part_id)
        if brief is not None:
            docs.append({"kind": "design", "name": brief[1], "sha256": brief[2], "part_id": p.part_id})
        if p.drawing_file_id:
            f = attachments.stored(uow, p.drawing_file_id)
            docs.append({"kind": "drawing", "name": f.filename, "sha256": f.sha256, "part_id": p.part_id})
    order, job_ids = orders.place_awarded(uow, who, lines, destination=r.destination, consent_design_sharing=True,
                                          note=f"awarded from RFQ {r.id}, bid {bid.id} of {bid.site_id}")
    uow.rfq.set_bid_status(bid.id, BidStatus.AWARDED)
    inv = uow.rfq.invitation(r.id, bid.site_id)
    if inv is not None and inv.nda_at is not None:
        docs.append({"kind": "nda", "name": f"NDA {nda().version}, accepted {inv.nda_at.isoformat()}",
                     "sha256": inv.nda_sha256})
    docs.append({"kind": "bid", "name": f"bid {bid.id}",
                 "sha256": hashlib.sha256(bid.model_dump_json().encode()).hexdigest()})
    delivery_date = max(ln.delivery_date for ln in lines)
    names = {p.part_id: p.filename for p in r.parts}
    terms = {"parties": {"buyer": contracts.party_of_buyer(uow, r.organisation_id),
                         "factory": contracts.party_of_site(uow, bid.site_id)},
             "lines": [{"part_id": ln.part_id, "filename": names[ln.part_id], "process": ln.process.value,
                        "material": ln.material, "quantity": ln.quantity, "unit_price_cny": ln.unit_price_cny,
                        "total_cny": round(ln.unit_price_cny * ln.quantity, 2), "lead_time_days": ln.lead_time_days,
                        "delivery_date": ln.delivery_date.isoformat()} for ln in lines],
             "total_cny": order.total_price_cny, "delivery_date": delivery_date.isoformat(),
             "payment_terms": pay, "claim_window_days": settings.claim_window_days,
             "milestones": contracts.milestones(delivery_date, pay, settings.claim_window_days),
             "documents": docs}
    contract = contracts.new_contract(uow, rfq_id=r.id, order_id=order.id, organisation_id=r.organisation_id,
                                      site_id=bid.site_id, terms=terms)
    thread = open_thread(uow, "order", order.id, f"order:{order.id}", r.organisation_id, [bid.site_id])
    return Award(order, contract, thread, bid.id, bid.site_id), job_ids
