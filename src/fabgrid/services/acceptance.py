"""Factories answer the work allocated to them (issue 18, item 4): a line allocated to a site waits for the
site's acceptance within the response time (`Settings.factory_response_h`); a decline (with a reason) or no
answer in time re-allocates the line through the allocation engine (`services.placement.place_elsewhere`, the
disruption's re-allocation) to the next best capable site, the buyer keeping the price and date they ordered at
(the difference is the platform's cost, on the response and the timeline); where no other site can take it
(or meet the date), the line goes back to `placed` without a site and the buyer is asked (`awaiting_buyer`).
A factory may propose a new date for its line; the buyer accepts (the line's date moves) or rejects it.

One unit of work per use case, typed records out. Depends on the store, services.orders and the domain; never on
api, web or cli.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from fabgrid.config import Settings
from fabgrid.domain.acceptance import (
    FACTORY_REASONS,
    Answer,
    DateProposal,
    DeclineReason,
    FactoryResponse,
    ProposalStatus,
)
from fabgrid.domain.order import Order, OrderEvent, OrderLine, OrderStatus
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import factories, jobs, orders, placement, timeline
from fabgrid.services._util import new_id, now, utc
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: How far ahead a proposed date may lie.
MAX_PROPOSAL_DAYS = 365
#: Lines one sweep expires at most (the next sweep takes the rest).
EXPIRE_BATCH = 200


class LineState(StrEnum):
    """Where a line stands with its site's answer."""

    PENDING = "pending"  # allocated, waiting for the site's acceptance
    ACCEPTED = "accepted"
    AWAITING_BUYER = "awaiting_buyer"  # declined or not answered, no other site can take it: the buyer is asked
    NONE = "none"  # past acceptance (in production or later), or never allocated


@dataclass(frozen=True)
class LineAcceptance:
    """One line's standing: its state, since when it is at its site and until when that site may answer."""

    line_id: str
    site_id: str | None
    state: LineState
    allocated_at: datetime | None
    respond_by: datetime | None


@dataclass(frozen=True)
class AcceptanceView:
    """An order's lines with their acceptance state, the sites' answers and the proposed dates."""

    order_id: str
    lines: tuple[LineAcceptance, ...]
    responses: tuple[FactoryResponse, ...]
    proposals: tuple[DateProposal, ...]


@dataclass(frozen=True)
class Expired:
    """A line a site did not answer in time, and where it went (None: the buyer is asked)."""

    order_id: str
    line_id: str
    site_id: str
    reallocated_to: str | None


# ---------------------------------------------------------------- reading the timeline


def allocated_at(events: Sequence[OrderEvent], line: OrderLine) -> datetime | None:
    """When `line` reached its current site: its first event at that site since its last event elsewhere."""
    if line.site_id is None:
        return None
    at: datetime | None = None
    for e in events:
        if e.line_id != line.id:
            continue
        at = (at or e.at) if e.site_id == line.site_id else None
    return at


def _answered(responses: Sequence[FactoryResponse], line: OrderLine, since: datetime) -> FactoryResponse | None:
    return next((r for r in reversed(responses) if r.line_id == line.id and r.site_id == line.site_id
                 and r.answered_at >= since), None)


def _state(settings: Settings, events: Sequence[OrderEvent], responses: Sequence[FactoryResponse],
           line: OrderLine) -> LineAcceptance:
    at = allocated_at(events, line)
    if line.status is OrderStatus.PLACED and line.site_id is None and any(r.line_id == line.id for r in responses):
        return LineAcceptance(line.id, None, LineState.AWAITING_BUYER, None, None)
    if line.status is not OrderStatus.ALLOCATED or at is None:
        return LineAcceptance(line.id, line.site_id, LineState.NONE, at, None)
    answer = _answered(responses, line, at)
    if answer is not None and answer.answer is Answer.ACCEPTED:
        return LineAcceptance(line.id, line.site_id, LineState.ACCEPTED, at, None)
    return LineAcceptance(line.id, line.site_id, LineState.PENDING, at,
                          at + timedelta(hours=settings.factory_response_h))


def response_figures(responses: Sequence[FactoryResponse]) -> tuple[float | None, float | None]:
    """(acceptance rate, median response time in hours) of a site's answers: accepted over all answers
    (declines and timeouts count against it); the median over the answers given (a timeout is no answer)."""
    if not responses:
        return None, None
    accepted = sum(1 for r in responses if r.answer is Answer.ACCEPTED)
    given = [r.response_s / 3600.0 for r in responses if r.answer is not Answer.TIMEOUT]
    return accepted / len(responses), (round(statistics.median(given), 4) if given else None)


# ---------------------------------------------------------------- factories


def _pending_lines(settings: Settings, uow: UnitOfWork, order: Order,
                   lines: Sequence[OrderLine]) -> list[tuple[OrderLine, datetime]]:
    events = uow.orders.events(order.id)
    responses = [r for ln in lines for r in uow.acceptance.responses(line_id=ln.id)]
    out = []
    for ln in lines:
        st = _state(settings, events, responses, ln)
        if st.state is LineState.PENDING and st.allocated_at is not None:
            out.append((ln, st.allocated_at))
    return out


def _submit(settings: Settings, job_ids: list[str]) -> None:
    for j in job_ids:
        jobs.submit(settings, j)


def accept(settings: Settings, who: Principal, order_id: str, line_id: str | None = None) -> Order:
    """The caller's site accepts its lines of an order waiting for its answer (or the one line `line_id`):
    an answer and a timeline event per line. 404 for lines of other sites; 409 when none waits for an answer."""
    with UnitOfWork(settings.database_url) as uow:
        o, lines = orders._site_lines(uow, who, order_id, line_id, "accepts work")
        pending = _pending_lines(settings, uow, o, lines)
        if not pending:
            raise InputError(f"order {order_id} has no line waiting for your site's answer"
                             + (f" ({lines[0].id} is {lines[0].status.value})" if len(lines) == 1 else ""),
                             hint="a line is accepted once, while it is allocated", code="acceptance.not_pending",
                             status=409)
        t = now()
        job_ids: list[str] = []
        for ln, at in pending:
            uow.acceptance.add_response(FactoryResponse(order_id=o.id, line_id=ln.id, site_id=str(ln.site_id),
                                                        answer=Answer.ACCEPTED, allocated_at=at, answered_at=t))
            accepted = timeline.note("accepted_by", site=ln.site_id)
            timeline.event(uow, o.id, OrderStatus.ALLOCATED, accepted, who.user_id, line=ln)
            job_ids += orders._notify(uow, o, ln, OrderStatus.ALLOCATED, accepted.text)
        uow.commit()
        doc = orders._for_site(uow.orders.get(order_id) or o, str(who.site_id))
    _submit(settings, job_ids)
    return doc


def _reason(value: str) -> DeclineReason:
    try:
        reason = DeclineReason(value)
    except ValueError:
        reason = None
    if reason is None or reason not in FACTORY_REASONS:
        raise InputError(f"reason {value!r} is not a reason to decline",
                         hint=f"one of {', '.join(r.value for r in FACTORY_REASONS)} (with a note for 'other')",
                         code="acceptance.bad_reason")
    return reason


def _move_away(uow: UnitOfWork, order: Order, lines: Sequence[tuple[OrderLine, datetime]], answer: Answer,
               reason: DeclineReason, note: str, who: Principal | None,
               t: datetime) -> tuple[list[FactoryResponse], list[str]]:
    """Record the site's decline (or timeout) of `lines` and re-allocate them elsewhere (never to a site that
    declined them before), keeping the buyer's price and date; a line no other site can take (or make by its date)
    goes back to placed without a site: the buyer is asked."""
    out: list[FactoryResponse] = []
    job_ids: list[str] = []
    if not lines:
        return out, job_ids
    site = str(lines[0][0].site_id)
    for ln, _at in lines:
        said = (timeline.note("declined_by_note", site=site, reason=reason.value, note=note) if note else
                timeline.note("declined_by", site=site, reason=reason.value))
        if answer is not Answer.DECLINED:
            said = timeline.note("not_answered", site=site, reason=reason.value)
        timeline.event(uow, order.id, OrderStatus.ALLOCATED, said, who.user_id if who else None, line=ln)
    before = {ln.id: {r.site_id for r in uow.acceptance.responses(line_id=ln.id) if r.answer is not Answer.ACCEPTED}
              for ln, _ in lines}  # a site that declined the line once does not get it back
    placed = placement.place_elsewhere(uow, [ln for ln, _ in lines], site, before)
    for ln, at in lines:
        got = placed.get(ln.id)
        if got is not None and got[1].delivery_date > ln.delivery_date:
            got = None  # it cannot make the buyer's date
        if got is not None:
            new, tier = got
            cost = round(tier.total_price_cny - ln.total_price_cny, 2)
            moved = uow.orders.update_line(ln.id, status=OrderStatus.ALLOCATED, site_id=new)
            moved_note = timeline.note("reallocated", site=site, new_site=new, reason=reason.value,
                                       price=f"{ln.total_price_cny:.2f}", date=ln.delivery_date.isoformat(),
                                       cost=f"{cost:.2f}")
            timeline.event(uow, order.id, OrderStatus.ALLOCATED, moved_note, None, line=moved)
            job_ids += orders._notify(uow, order, moved, OrderStatus.ALLOCATED, moved_note.text)
            resp = FactoryResponse(order_id=order.id, line_id=ln.id, site_id=site, answer=answer, reason=reason,
                                   note=note, allocated_at=at, answered_at=t, reallocated_to=new,
                                   platform_cost_cny=cost)
        else:
            if not ln.status.can_become(OrderStatus.PLACED):
                raise InputError(f"order line {ln.id} is {ln.status.value}", code="order.transition", status=409)
            uow.orders.update_line(ln.id, status=OrderStatus.PLACED)
            uow.acceptance.clear_site(ln.id)
            back = ln.model_copy(update={"site_id": None, "status": OrderStatus.PLACED})
            stuck = timeline.note("no_other_site", line=ln.position, price=f"{ln.total_price_cny:.2f}",
                                  date=ln.delivery_date.isoformat())
            text = stuck.text
            timeline.event(uow, order.id, OrderStatus.PLACED, stuck, None, line=back)
            alt = _later_offer(uow, ln, before.get(ln.id, set()) | {site})
            if alt is not None:  # the new date to accept: the earliest other site's, at the price ordered
                uow.acceptance.add_proposal(DateProposal(
                    id=new_id("dpr"), order_id=order.id, line_id=ln.id, site_id=alt[0], proposed_date=alt[1],
                    previous_date=ln.delivery_date, status=ProposalStatus.PENDING, created_at=t,
                    note=f"declined by {site}: {alt[0]} can deliver on {alt[1].isoformat()}"))
            job_ids += orders._notify(uow, order, back, OrderStatus.PLACED, text)
            resp = FactoryResponse(order_id=order.id, line_id=ln.id, site_id=site, answer=answer, reason=reason,
                                   note=note, allocated_at=at, answered_at=t)
        out.append(uow.acceptance.add_response(resp))
    return out, job_ids


def _later_offer(uow: UnitOfWork, ln: OrderLine, skip: set[str]) -> tuple[str, date] | None:
    """(site, delivery date) of the earliest offer of the line's quote at its tier from a site not in `skip` and not
    on probation at its cap: the new date a buyer is asked to accept when no site meets the ordered one."""
    stored = uow.quotes.by_id(ln.quote_id)
    if stored is None:
        return None
    sites = [o.site for o in stored.quote.offers if o.site not in skip]
    full = set(factories.probation_full(uow, sites))
    best: tuple[str, date] | None = None
    for sid in sites:
        if sid in full:
            continue
        try:
            when = placement.find_offer(stored.quote, sid, ln.tier)[1].delivery_date
        except InputError:
            continue
        if best is None or (when, sid) < (best[1], best[0]):
            best = (sid, when)
    return best


def decline(settings: Settings, who: Principal, order_id: str, reason: str, note: str = "",
            line_id: str | None = None) -> list[FactoryResponse]:
    """The caller's site declines its allocated lines of an order (or the one line `line_id`) with a reason
    (`domain.acceptance.FACTORY_REASONS`); each goes to the next best capable site, or to the buyer. Returns the
    answers recorded. 422 for a bad reason, 404 for other sites' lines, 409 when none is allocated."""
    why = _reason(reason)
    note = note.strip()
    if len(note) > 500:
        raise InputError("note is longer than 500 characters", code="acceptance.note")
    if why is DeclineReason.OTHER and not note:
        raise InputError("a decline for reason 'other' needs a note", hint="say why in note",
                         code="acceptance.note_required")
    with UnitOfWork(settings.database_url) as uow:
        o, lines = orders._site_lines(uow, who, order_id, line_id, "declines work")
        events = uow.orders.events(o.id)
        allocated = [(ln, allocated_at(events, ln) or o.created_at) for ln in lines
                     if ln.status is OrderStatus.ALLOCATED]
        if not allocated:
            raise InputError(f"order {order_id} has no allocated line at your site to decline",
                             hint="a line in production or later cannot be declined", code="acceptance.not_pending",
                             status=409)
        done, job_ids = _move_away(uow, o, allocated, Answer.DECLINED, why, note, who, now())
        uow.commit()
    _submit(settings, job_ids)
    return done


def expire_unanswered(settings: Settings, at: datetime | None = None, site_id: str | None = None) -> list[Expired]:
    """Lines allocated longer than the response time without their site's answer (of `site_id` only, when given):
    each is treated as declined (reason timeout). Called by the background sweep (every site) and before a
    factory's work list is read (its site)."""
    t = utc(at) if at is not None else now()
    limit = timedelta(hours=settings.factory_response_h)
    out: list[Expired] = []
    job_ids: list[str] = []
    with UnitOfWork(settings.database_url) as uow:
        by_order: dict[str, list[OrderLine]] = {}
        for ln in uow.orders.lines(site_id=site_id, statuses=(OrderStatus.ALLOCATED,)):
            by_order.setdefault(ln.order_id, []).append(ln)
        for order_id, lines in by_order.items():
            if len(out) >= EXPIRE_BATCH:
                break
            o = uow.orders.get(order_id)
            if o is None:
                continue
            late = [(ln, at) for ln, at in _pending_lines(settings, uow, o, lines) if at + limit <= t]
            by_site: dict[str, list[tuple[OrderLine, datetime]]] = {}
            for ln, a in late:
                by_site.setdefault(str(ln.site_id), []).append((ln, a))
            for site, group in by_site.items():
                done, jids = _move_away(uow, o, group, Answer.TIMEOUT, DeclineReason.TIMEOUT,
                                        f"no answer within {settings.factory_response_h:g} h", None, t)
                job_ids += jids
                out.extend(Expired(order_id, r.line_id, site, r.reallocated_to) for r in done)
        uow.commit()
    _submit(settings, job_ids)
    return out


def propose_date(settings: Settings, who: Principal, order_id: str, when: date, note: str = "",
                 line_id: str | None = None) -> DateProposal:
    """The caller's site proposes a new delivery date for its line of an order (`line_id` needed when it holds
    several); the buyer accepts or rejects it. 422 for a date in the past or too far ahead; 409 when the line is
    delivered or a proposal of it is pending."""
    today = now().date()
    if when <= today or when > today + timedelta(days=MAX_PROPOSAL_DAYS):
        raise InputError(f"date {when.isoformat()} is not a date to propose",
                         hint=f"give a day after today, at most {MAX_PROPOSAL_DAYS} days ahead",
                         code="acceptance.bad_date")
    if len(note) > 500:
        raise InputError("note is longer than 500 characters", code="acceptance.note")
    with UnitOfWork(settings.database_url) as uow:
        o, lines = orders._site_lines(uow, who, order_id, line_id, "proposes dates")
        if len(lines) > 1:
            raise InputError(f"order {order_id} has {len(lines)} lines at your site", hint="name the line: line_id",
                             code="order.line_required")
        ln = lines[0]
        if ln.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            raise InputError(f"line {ln.id} is {ln.status.value}", code="order.transition", status=409)
        if any(p.line_id == ln.id and p.status is ProposalStatus.PENDING for p in uow.acceptance.proposals(o.id)):
            raise InputError(f"line {ln.id} has a proposed date waiting for the buyer",
                             hint="wait for the buyer's answer", code="acceptance.proposal_pending", status=409)
        if when == ln.delivery_date:
            raise InputError(f"line {ln.id} is due on {when.isoformat()} already", code="acceptance.bad_date")
        p = uow.acceptance.add_proposal(DateProposal(
            id=new_id("dpr"), order_id=o.id, line_id=ln.id, site_id=str(ln.site_id), proposed_date=when,
            previous_date=ln.delivery_date, note=note.strip(), status=ProposalStatus.PENDING, created_at=now()))
        proposed = timeline.note("date_proposed", site=ln.site_id, date=when.isoformat(),
                                 old_date=ln.delivery_date.isoformat())
        text = proposed.text
        timeline.event(uow, o.id, ln.status, timeline.note("date_proposed_note", site=ln.site_id, date=when.isoformat(),
                                                            old_date=ln.delivery_date.isoformat(), note=note.strip())
                       if note.strip() else proposed, who.user_id, line=ln)
        job_ids = orders._notify(uow, o, ln, ln.status, text)
        uow.commit()
    _submit(settings, job_ids)
    return p


def decide_proposal(settings: Settings, who: Principal, order_id: str, proposal_id: str,
                    accepted: bool) -> DateProposal:
    """The buyer accepts (the line's delivery date becomes the proposed one) or rejects (it stays) a pending
    proposal of their order. 404 for other organisations' orders; 409 when it was decided already."""
    with UnitOfWork(settings.database_url) as uow:
        o = None if who.role == "factory" else uow.orders.get(order_id, who.organisation_id)
        p = uow.acceptance.proposal(order_id, proposal_id) if o is not None else None
        if o is None or p is None:
            raise NotFoundError(f"proposal {proposal_id!r} of order {order_id!r} not found",
                                code="acceptance.proposal_not_found")
        if p.status is not ProposalStatus.PENDING:
            raise InputError(f"proposal {proposal_id} was {p.status.value} already", code="acceptance.decided",
                             status=409)
        ln = o.line(p.line_id)
        assert ln is not None
        status = ProposalStatus.ACCEPTED if accepted else ProposalStatus.REJECTED
        decided = uow.acceptance.decide(p.id, status, now())
        if accepted:
            uow.acceptance.set_delivery_date(ln.id, p.proposed_date)
            if ln.site_id is None and ln.status is OrderStatus.PLACED:  # a declined line goes to the proposing site
                ln = uow.orders.update_line(ln.id, status=OrderStatus.ALLOCATED, site_id=p.site_id)
                timeline.event(uow, o.id, OrderStatus.ALLOCATED, timeline.note(
                    "allocated_new_date", site=p.site_id, date=p.proposed_date.isoformat(),
                    price=f"{ln.total_price_cny:.2f}"), who.user_id, line=ln)
        answered = (timeline.note("date_accepted", date=p.proposed_date.isoformat()) if accepted else
                    timeline.note("date_rejected", date=p.proposed_date.isoformat(),
                                  old_date=ln.delivery_date.isoformat()))
        text = answered.text
        timeline.event(uow, o.id, ln.status, answered, who.user_id, line=ln)
        job_ids = orders._notify(uow, o, ln, ln.status, text)
        uow.commit()
    _submit(settings, job_ids)
    return decided


def acceptance_view(settings: Settings, who: Principal, order_id: str) -> AcceptanceView:
    """An order's lines with their acceptance state, the answers and proposals (the buyer, the factory holding a
    line of it: its lines only, or an operator)."""
    with UnitOfWork(settings.database_url) as uow:
        o = orders._visible(uow, who, order_id)
        events = uow.orders.events(o.id)
        ids = {ln.id for ln in o.lines}
        responses = [r for ln in o.lines for r in uow.acceptance.responses(line_id=ln.id)]
        if who.role == "factory":  # a factory sees its own answers only
            responses = [r for r in responses if r.site_id == who.site_id]
        states = tuple(_state(settings, events, responses, ln) for ln in o.lines)
        proposals = tuple(p for p in uow.acceptance.proposals(o.id) if p.line_id in ids)
        return AcceptanceView(o.id, states, tuple(sorted(responses, key=lambda r: r.answered_at)), proposals)
