"""The award of an RFQ's bid (issue 19): an order at the bid price, a line per part (`services.orders.place_awarded`,
with a quote that records the bid for each line), a draft contract (`services.contracts`) and the order's thread,
in one unit of work; with every part awarded the other bids are lost and their factories told, without the price.

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
from fabgrid.domain.rfq import Bid, BidStatus, BidTier, Contract, Rfq, RfqPart, RfqStatus, Thread
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import attachments, contracts, jobs, network, orders, webhooks
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.messages import is_operator, notify, open_thread, texts
from fabgrid.services.rfq import nda, own_rfq
from fabgrid.store.uow import UnitOfWork


@dataclass(frozen=True)
class Award:
    """What an award made: the order, the contract (draft) and the order's thread."""

    order: Any
    contract: Contract
    thread: Thread


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
    """Award a bid (all its parts, or `part_ids` to split the RFQ over several bids) at the quantity chosen per
    part (default: the smallest tier the bid prices): an order at the bid price, a line per part, allocated to
    the bidder; a draft contract; the order's thread. With every part awarded, the other bids are lost and their
    factories told, without the price."""
    pay = contracts.check_payment(payment_terms)
    at = now()
    with UnitOfWork(settings.database_url) as uow:
        r = own_rfq(uow, who, rfq_id)
        if who.role == "factory" or (is_operator(who) and r.organisation_id != who.organisation_id):
            raise InputError("only the buyer awards its RFQ", code="rfq.not_buyer", status=403)
        if r.status is not RfqStatus.OPEN:
            raise InputError(f"rfq {rfq_id} is {r.status.value}", code="rfq.closed", status=409)
        bid = uow.rfq.bid(bid_id)
        if bid is None or bid.rfq_id != rfq_id:
            raise NotFoundError(f"bid {bid_id!r} not found on rfq {rfq_id}", code="rfq.bid_not_found")
        if bid.status is not BidStatus.ACTIVE:
            raise InputError(f"bid {bid_id} is {bid.status.value}; only an active bid is awarded",
                             code="rfq.bid_not_active", status=409)
        if bid.valid_until < local_today(at):
            raise InputError(f"bid {bid_id} was valid until {bid.valid_until}", code="rfq.bid_expired", status=409)
        priced = {t.part_id for t in bid.tiers}
        wanted = list(part_ids) if part_ids else [p.part_id for p in r.parts if p.part_id in priced
                                                  and p.part_id not in r.awarded]
        if not wanted:
            raise InputError("the bid prices no part left to award", code="rfq.award_parts", status=409)
        net = network.current(uow).network
        site = net.sites.get(bid.site_id)
        if site is None:
            raise InputError(f"site {bid.site_id} left the network", code="rfq.site_gone", status=409)
        lines: list[orders.AwardedLine] = []
        docs: list[dict[str, Any]] = []
        for pid in wanted:
            p = next((x for x in r.parts if x.part_id == pid), None)
            if p is None or pid in r.awarded or pid not in priced:
                raise InputError(f"part {pid!r} is not an unawarded part of the RFQ priced by bid {bid_id}",
                                 code="rfq.award_parts", status=409 if p is not None else 422)
            qty = (quantities or {}).get(pid) or min(t.quantity for t in bid.tiers if t.part_id == pid)
            tier = bid.tier(pid, qty)
            if tier is None:
                raise InputError(f"bid {bid_id} has no price for part {pid} at {qty}", code="rfq.award_quantity")
            proc = ProcessFamily(p.process) if p.process else next(
                (net.catalog.machine_models[m.model].process for m in site.machines
                 if m.model in net.catalog.machine_models), ProcessFamily.CNC)
            material = p.material or (site.materials[0] if site.materials else "unspecified")
            delivery = local_today(at) + timedelta(days=tier.lead_time_days)
            qid = _award_quote(uow, r, p, bid, tier, proc, material, site.city, delivery)
            lines.append(orders.AwardedLine(quote_id=qid, part_id=pid, site_id=bid.site_id, process=proc,
                                            material=material, quantity=qty, unit_price_cny=tier.unit_price_cny,
                                            lead_time_days=tier.lead_time_days, delivery_date=delivery,
                                            finish=p.finish))
            brief = uow.rfq.part_brief(pid)
            if brief is not None:
                docs.append({"kind": "design", "name": brief[1], "sha256": brief[2]})
            if p.drawing_file_id:
                f = attachments.stored(uow, p.drawing_file_id)
                docs.append({"kind": "drawing", "name": f.filename, "sha256": f.sha256})
        order, job_ids = orders.place_awarded(uow, who, lines, destination=r.destination, consent_design_sharing=True,
                                              note=f"awarded from RFQ {rfq_id}, bid {bid_id} of {bid.site_id}")
        uow.rfq.set_bid_status(bid_id, BidStatus.AWARDED)
        awarded = {**r.awarded, **{pid: bid_id for pid in wanted}}
        done = all(p.part_id in awarded for p in r.parts)
        uow.rfq.set_awarded(rfq_id, awarded, RfqStatus.AWARDED if done else RfqStatus.OPEN)
        inv = uow.rfq.invitation(rfq_id, bid.site_id)
        if inv is not None and inv.nda_at is not None:
            docs.append({"kind": "nda", "name": f"NDA {nda().version}, accepted {inv.nda_at.isoformat()}",
                         "sha256": inv.nda_sha256})
        bid_doc = bid.model_dump_json().encode()
        docs.append({"kind": "bid", "name": f"bid {bid_id}", "sha256": hashlib.sha256(bid_doc).hexdigest()})
        delivery_date = max(ln.delivery_date for ln in lines)
        terms = {"parties": {"buyer": contracts.party_of_buyer(uow, r.organisation_id),
                             "factory": contracts.party_of_site(uow, bid.site_id)},
                 "lines": [{"part_id": ln.part_id, "filename": next(p.filename for p in r.parts if p.part_id ==
                                                                   ln.part_id), "process": ln.process.value,
                            "material": ln.material, "quantity": ln.quantity, "unit_price_cny": ln.unit_price_cny,
                            "total_cny": round(ln.unit_price_cny * ln.quantity, 2),
                            "lead_time_days": ln.lead_time_days, "delivery_date": ln.delivery_date.isoformat()}
                           for ln in lines],
                 "total_cny": order.total_price_cny, "delivery_date": delivery_date.isoformat(),
                 "payment_terms": pay, "claim_window_days": settings.claim_window_days,
                 "milestones": contracts.milestones(delivery_date, pay, settings.claim_window_days),
                 "documents": docs}
        contract = contracts.new_contract(uow, rfq_id=rfq_id, order_id=order.id, organisation_id=r.organisation_id,
                                          site_id=bid.site_id, terms=terms)
        thread = open_thread(uow, "order", order.id, f"order:{order.id}", r.organisation_id, [bid.site_id])
        orgs = uow.rfq.organisations_of_sites([b.site_id for b in uow.rfq.bids(rfq_id)])
        won_org = orgs.get(bid.site_id)
        if won_org is not None:
            job_ids += webhooks.emit(uow, won_org, "rfq.awarded", {"rfq_id": rfq_id, "bid_id": bid_id,
                                                                   "awarded": True, "order_id": order.id})
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
        placed = uow.orders.get(order.id) or order
    for j in job_ids:
        jobs.submit(settings, j)
    return Award(placed, contract, thread)
