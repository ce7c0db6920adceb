"""Requests for quotes (issue 19): a buyer's RFQ of stored parts with quantity tiers, wishes and PDF drawings goes to
the verified factories that can make it (process, material, build volume, certificates, region, not at capacity),
ranked by their scorecard, and to factories the buyer invites from the showroom. Until a factory accepts the NDA
(its text's SHA-256, the user and time recorded) it sees a teaser only; after, the files, every access in the
owner's design audit log; the owner may revoke access. Factories bid per tier before the deadline; the award
becomes an order at the bid price and a contract (`services.awards`).

Depends on the store, services.factories/network/messages/attachments/designs/jobs and the domain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.costing.leadtime import local_today
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.domain.quote import Quote
from fabgrid.domain.rfq import (
    Bid,
    BidStatus,
    BidTier,
    Invitation,
    Rfq,
    RfqPart,
    RfqStatus,
    StoredFile,
)
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import attachments, designs, factories, jobs, network, rfq_co2
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.messages import is_operator, notify, open_thread, texts
from fabgrid.store.uow import UnitOfWork

MAX_PARTS = 20
MAX_TIERS = 10
#: Sites the matching invites at most (the buyer's own invitations come on top).
MAX_MATCHED = 8
DRAWING_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


# ---------------------------------------------------------------------------- the NDA


@dataclass(frozen=True)
class Nda:
    """The click-through NDA: its version, its text in both languages and the SHA-256 a factory accepts."""

    version: str
    zh: str
    en: str

    @property
    def sha256(self) -> str:
        """SHA-256 of the UTF-8 bytes of the zh-CN text, a blank line, and the en text."""
        return hashlib.sha256((self.zh + "\n\n" + self.en).encode()).hexdigest()


def nda() -> Nda:
    """The shipped NDA (data/rfq_texts.yaml)."""
    doc = texts()["nda"]
    return Nda(str(doc["version"]), str(doc["zh-CN"]), str(doc["en"]))


# ---------------------------------------------------------------------------- creating and matching


@dataclass(frozen=True)
class PartWish:
    """One part of a new RFQ as the buyer asks it."""

    part_id: str
    quantities: tuple[int, ...]
    material: str | None = None
    process: str | None = None
    drawing_file_id: str | None = None
    tolerances: bool = False
    threads: bool = False
    finish: str | None = None


def standing(sc: factories.Scorecard | None) -> float:
    """One figure to rank factories by (0..1): the mean of the scorecard's known rates (on time, first-pass
    quality, acceptance, claims not upheld); 0.5 for a factory with nothing measured yet."""
    if sc is None:
        return 0.5
    figs = [sc.on_time_rate, None if sc.quality_issue_rate is None else 1 - sc.quality_issue_rate,
            sc.acceptance_rate, None if sc.claim_rate is None else 1 - sc.claim_rate]
    known = [f for f in figs if f is not None]
    return sum(known) / len(known) if known else 0.5


def _fits(box: tuple[float, float, float] | None, volume: tuple[float, float, float]) -> bool:
    return box is None or all(a <= b for a, b in zip(sorted(box), sorted(volume), strict=True))


def _capable(settings: Settings, parts: Sequence[RfqPart], certificates: Sequence[str],
             province: str | None) -> list[set[str]]:
    """Per part, the verified sites that can make it (process, material, build volume, certificates, region,
    capacity)."""
    out: list[set[str]] = []
    with UnitOfWork(settings.database_url) as uow:
        net = network.current(uow).network
    models = net.catalog.machine_models
    for p in parts:
        proc = ProcessFamily(p.process) if p.process else None
        found = factories.search(settings, process=proc, material=p.material, province=province, verified_only=True)
        ok: set[str] = set()
        for prof in found:
            if prof.site.at_capacity or prof.storefront.at_capacity:
                continue
            if any(not factories.certified(prof, c, local_today(now())) for c in certificates):
                continue
            vols = [models[m.model].build_volume_mm for m in prof.site.machines if m.model in models
                    and (proc is None or models[m.model].process is proc)]
            if vols and any(_fits(p.bbox_mm, v) for v in vols):
                ok.add(prof.site.id)
        out.append(ok)
    return out


def _match(settings: Settings, parts: Sequence[RfqPart], capable: list[set[str]],
           invite: Sequence[str]) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The sites to send the RFQ to, best standing first, and the parts of those matched for some parts only.
    Sites that can make every part, when there are any; otherwise, for each part, the best sites that can make it
    (a site is sent every part it can make). The buyer's invited sites come first and get every part."""
    standing_of: dict[str, float] = {}

    def ranked(sites: set[str]) -> list[str]:
        for s in sites - standing_of.keys():
            standing_of[s] = standing(factories.profile(settings, s).scorecard)
        return sorted(sites, key=lambda s: (-standing_of[s], s))

    common = set.intersection(*capable) if capable else set()
    if common or not capable:
        return list(dict.fromkeys([*invite, *ranked(common)[:MAX_MATCHED]])), {}
    missing = [p.filename or p.part_id for p, ok in zip(parts, capable, strict=True) if not ok]
    if missing and not invite:
        raise InputError(f"no verified factory can make {', '.join(missing)}", hint="relax its process, material or "
                         "certificates, or invite a factory from the showroom", code="rfq.no_factory", status=409)
    per_part = max(2, MAX_MATCHED // len(parts))
    chosen = list(dict.fromkeys([*invite, *(s for ok in capable for s in ranked(ok)[:per_part])]))
    part_sites = {s: tuple(p.part_id for p, ok in zip(parts, capable, strict=True) if s in ok)
                  for s in chosen if s not in invite}
    return chosen, part_sites


def _part(uow: UnitOfWork, who: Principal, i: int, w: PartWish) -> RfqPart:
    brief = uow.rfq.part_brief(w.part_id)
    if brief is None or brief[0] != who.organisation_id:
        raise NotFoundError(f"parts[{i}]: part {w.part_id!r} not found", hint="POST /api/v1/parts uploads one",
                            code="part.not_found")
    qs = tuple(w.quantities)
    if not qs or len(qs) > MAX_TIERS or len(set(qs)) != len(qs) or any(not 1 <= q <= 1_000_000 for q in qs):
        raise InputError(f"parts[{i}].quantities must be 1 to {MAX_TIERS} different quantities of 1..1,000,000",
                         hint="e.g. [100, 500, 5000]", code="rfq.quantities")
    proc = None
    if w.process:
        try:
            proc = ProcessFamily(w.process.strip().lower())
        except ValueError:
            raise InputError(f"parts[{i}].process {w.process!r} is not a process",
                             hint=", ".join(p.value for p in ProcessFamily), code="rfq.process") from None
    material = None
    if w.material:
        catalog = network.current(uow).network.catalog
        try:
            material = catalog.material(w.material, proc).id
        except InputError as exc:
            raise InputError(f"parts[{i}].material: {exc.message}", hint=exc.hint, code="rfq.material") from None
    if w.drawing_file_id:
        f = attachments.own_file(uow, who, w.drawing_file_id)
        if f.media_type not in DRAWING_TYPES:
            raise InputError(f"parts[{i}].drawing_file_id {f.id} is {f.media_type}, not a PDF drawing or image",
                             code="rfq.drawing")
    return RfqPart(part_id=w.part_id, material=material, process=proc.value if proc else None, quantities=qs,
                   drawing_file_id=w.drawing_file_id, tolerances=w.tolerances, threads=w.threads, finish=w.finish,
                   bbox_mm=brief[3], filename=brief[1])


@dataclass(frozen=True)
class RfqView:
    """An RFQ as its buyer sees it: the invitations (with their NDA state) and the thread per invited site."""

    rfq: Rfq
    invitations: tuple[Invitation, ...]
    files: dict[str, StoredFile] = field(default_factory=dict)


def create_rfq(settings: Settings, who: Principal, parts: Sequence[PartWish], *, need_by: date,
               bid_deadline: datetime, nda_required: bool, certificates: Sequence[str] = (),
               target_price_cny: float | None = None, destination: str | None = None, province: str | None = None,
               invite: Sequence[str] = (), exhibition_id: str | None = None) -> RfqView:
    """A buyer's RFQ, sent to the matched and the invited verified factories (each with its own thread)."""
    if who.role == "factory":
        raise InputError("an RFQ is a buyer's request", code="rfq.not_buyer", status=403)
    if not parts or len(parts) > MAX_PARTS:
        raise InputError(f"an RFQ has 1 to {MAX_PARTS} parts", code="rfq.parts")
    if len({p.part_id for p in parts}) != len(parts):
        raise InputError("a part is in the RFQ twice", hint="give it several quantities instead", code="rfq.parts")
    at = now()
    deadline = bid_deadline if bid_deadline.tzinfo else bid_deadline.replace(tzinfo=UTC)
    if deadline <= at:
        raise InputError(f"bid_deadline {deadline.isoformat()} has passed", code="rfq.deadline")
    if need_by <= local_today(at) or deadline.date() > need_by:
        raise InputError(f"need_by {need_by} must be after today and not before the bid deadline",
                         code="rfq.need_by")
    if target_price_cny is not None and not 0 < target_price_cny < 1e9:
        raise InputError("target_price_cny must be positive", code="rfq.target_price")
    certs = tuple(dict.fromkeys(c.strip() for c in certificates if c.strip()))
    with UnitOfWork(settings.database_url) as uow:
        wanted = [_part(uow, who, i, w) for i, w in enumerate(parts)]
        if exhibition_id is not None and uow.rfq.exhibition(exhibition_id) is None:
            raise NotFoundError(f"exhibition {exhibition_id!r} not found", code="exhibition.not_found")
    fronts = {p.site.id: p for p in factories.search(settings, verified_only=True)}
    for s in invite:
        if s not in fronts:
            raise InputError(f"site {s!r} is not a verified factory of the showroom", hint="GET /api/v1/sites?"
                             "verified=true lists them", code="rfq.invite")
    chosen, part_sites = _match(settings, wanted, _capable(settings, wanted, certs, province), invite)
    if not chosen:
        raise InputError("no verified factory can make these parts", hint="relax the process, material or "
                         "certificates, or invite a factory from the showroom", code="rfq.no_factory", status=409)
    rfq = Rfq(id=new_id("rfq"), organisation_id=who.organisation_id, user_id=who.user_id, status=RfqStatus.OPEN,
              parts=tuple(wanted), need_by=need_by, bid_deadline=deadline, nda_required=nda_required,
              certificates=certs, target_price_cny=target_price_cny, destination=destination,
              exhibition_id=exhibition_id, part_sites=part_sites, created_at=at)
    with UnitOfWork(settings.database_url) as uow:
        uow.rfq.add_rfq(rfq)
        for rank, s in enumerate(chosen, start=1):
            t = open_thread(uow, "rfq", rfq.id, f"rfq:{rfq.id}:{s}", who.organisation_id, [s])
            uow.rfq.add_invitation(Invitation(rfq_id=rfq.id, site_id=s, source="invited" if s in invite else
                                              "matched", rank=rank, thread_id=t.id))
        job_ids = notify(uow, settings, site_ids=chosen, subject=f"fabgrid：新询价 {rfq.id} / new RFQ {rfq.id}",
                         body=f"/api/v1/factory/rfqs/{rfq.id}")
        uow.commit()
        view = RfqView(rfq, tuple(uow.rfq.invitations(rfq.id)))
    for j in job_ids:
        jobs.submit(settings, j)
    return view


def my_parts(settings: Settings, who: Principal) -> list[tuple[str, str]]:
    """(part id, file name) of the caller's organisation's analysed parts, for the RFQ form."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.rfq.parts_of(who.organisation_id)


def own_rfq(uow: UnitOfWork, who: Principal, rfq_id: str) -> Rfq:
    """The RFQ of the caller's (buyer) organisation, any for an operator; 404 otherwise."""
    r = uow.rfq.rfq(rfq_id)
    if r is None or not (is_operator(who) or (who.role != "factory" and r.organisation_id == who.organisation_id)):
        raise NotFoundError(f"rfq {rfq_id!r} not found", code="rfq.not_found")
    return r


def get_rfq(settings: Settings, who: Principal, rfq_id: str) -> RfqView:
    """An RFQ of the caller's organisation (operators: any)."""
    with UnitOfWork(settings.database_url) as uow:
        r = own_rfq(uow, who, rfq_id)
        files = {p.drawing_file_id: attachments.stored(uow, p.drawing_file_id) for p in r.parts if p.drawing_file_id}
        return RfqView(r, tuple(uow.rfq.invitations(rfq_id)), files)


def list_rfqs(settings: Settings, who: Principal) -> list[RfqView]:
    """The caller's organisation's RFQs, newest first."""
    with UnitOfWork(settings.database_url) as uow:
        return [RfqView(r, tuple(uow.rfq.invitations(r.id))) for r in uow.rfq.rfqs(who.organisation_id)]


def revoke(settings: Settings, who: Principal, rfq_id: str, site_id: str) -> Invitation:
    """The owner ends a site's access to the RFQ's files (logged in each part's audit log)."""
    with UnitOfWork(settings.database_url) as uow:
        r = own_rfq(uow, who, rfq_id)
        if uow.rfq.invitation(rfq_id, site_id) is None:
            raise NotFoundError(f"rfq {rfq_id} was not sent to site {site_id!r}", code="rfq.invitation")
        uow.rfq.revoke(rfq_id, site_id, now())
        for p in r.parts:
            _audit(uow, who, p.part_id, "rfq_revoke", True, f"RFQ {rfq_id}: access of site {site_id} revoked")
        uow.commit()
        inv = uow.rfq.invitation(rfq_id, site_id)
        assert inv is not None
        return inv


# ---------------------------------------------------------------------------- the factory's side


@dataclass(frozen=True)
class FactoryView:
    """An RFQ as an invited factory sees it: `full` after the NDA (or without one), else the teaser; its bids;
    the outcome once awarded ('awarded', 'lost', or None)."""

    rfq: Rfq
    invitation: Invitation
    full: bool
    bids: tuple[Bid, ...]
    files: dict[str, StoredFile]
    outcome: str | None


def _audit(uow: UnitOfWork, who: Principal, part_id: str, action: str, allowed: bool, reason: str) -> None:
    uow.audit.add(part_id, actor_user_id=who.user_id, actor_email=who.email, actor_organisation=who.organisation,
                  actor_site_id=who.site_id, action=action, allowed=allowed, reason=reason)


def _invited(uow: UnitOfWork, who: Principal, rfq_id: str) -> tuple[Rfq, Invitation]:
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory account sees its RFQ invitations", code="factory.not_factory", status=403)
    r = uow.rfq.rfq(rfq_id)
    inv = uow.rfq.invitation(rfq_id, who.site_id) if r is not None else None
    if r is None or inv is None:
        raise NotFoundError(f"rfq {rfq_id!r} not found", code="rfq.not_found")
    return r, inv


def _full(r: Rfq, inv: Invitation) -> bool:
    return inv.revoked_at is None and (inv.nda_at is not None or not r.nda_required)


def _outcome(r: Rfq, bids: Sequence[Bid]) -> str | None:
    if any(b.status is BidStatus.AWARDED for b in bids):
        return "awarded"
    if any(b.status is BidStatus.LOST for b in bids) or (r.status is RfqStatus.AWARDED and bids):
        return "lost"
    return None


def _factory_view(uow: UnitOfWork, r: Rfq, inv: Invitation, site_id: str) -> FactoryView:
    r = r.model_copy(update={"parts": r.parts_for(site_id)})  # the parts sent to this site only
    full = _full(r, inv)
    files = {p.drawing_file_id: attachments.stored(uow, p.drawing_file_id) for p in r.parts
             if full and p.drawing_file_id}
    bids = tuple(uow.rfq.bids(r.id, site_id))
    return FactoryView(r, inv, full, bids, files, _outcome(r, bids))


def factory_rfqs(settings: Settings, who: Principal) -> list[FactoryView]:
    """The caller's site's invitations, newest first (teasers until the NDA)."""
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory account sees RFQ invitations", code="factory.not_factory", status=403)
    with UnitOfWork(settings.database_url) as uow:
        out = []
        for inv in uow.rfq.invitations_of_site(who.site_id):
            r = uow.rfq.rfq(inv.rfq_id)
            if r is not None:
                out.append(_factory_view(uow, r, inv, who.site_id))
        return out


def factory_rfq(settings: Settings, who: Principal, rfq_id: str) -> FactoryView:
    """One invitation: full after the NDA (the view logged in each part's audit log), else the teaser."""
    with UnitOfWork(settings.database_url) as uow:
        r, inv = _invited(uow, who, rfq_id)
        view = _factory_view(uow, r, inv, str(who.site_id))
        if view.full:
            for p in view.rfq.parts:
                _audit(uow, who, p.part_id, "rfq_view", True, f"RFQ {rfq_id}: full view, site {who.site_id}")
            uow.commit()
        return view


def accept_nda(settings: Settings, who: Principal, rfq_id: str, sha256: str) -> Invitation:
    """The factory accepts the NDA whose text has SHA-256 `sha256` (the current text's; 422 otherwise)."""
    current = nda()
    if sha256.strip().lower() != current.sha256:
        raise InputError("nda_sha256 is not the SHA-256 of the current NDA text", hint=f"read the NDA (version "
                         f"{current.version}) and send {current.sha256}", code="rfq.nda_hash")
    with UnitOfWork(settings.database_url) as uow:
        r, inv = _invited(uow, who, rfq_id)
        if inv.revoked_at is not None:
            raise InputError("the buyer revoked your access to this RFQ", code="rfq.access_revoked", status=403)
        if not uow.rfq.accept_nda(rfq_id, str(who.site_id), current.sha256, who.user_id, now()):
            raise InputError(f"your site accepted the NDA of RFQ {rfq_id} already", code="rfq.nda_accepted",
                             status=409)
        for p in r.parts_for(str(who.site_id)):
            _audit(uow, who, p.part_id, "rfq_nda", True, f"RFQ {rfq_id}: NDA {current.sha256[:12]} accepted by "
                   f"{who.email} for site {who.site_id}")
        uow.commit()
        accepted = uow.rfq.invitation(rfq_id, str(who.site_id))
        assert accepted is not None
        return accepted


def _file_access(uow: UnitOfWork, who: Principal, rfq_id: str, part_id: str, what: str) -> Rfq:
    """Check (and log) a factory's access to a file of the RFQ: 404 uninvited, 403 before the NDA or revoked."""
    r, inv = _invited(uow, who, rfq_id)
    if all(p.part_id != part_id for p in r.parts_for(inv.site_id)):
        raise NotFoundError(f"rfq {rfq_id} has no part {part_id!r}", code="rfq.part")
    if _full(r, inv):
        _audit(uow, who, part_id, what, True, f"RFQ {rfq_id}: NDA accepted by site {who.site_id}"
               if inv.nda_at else f"RFQ {rfq_id}: no NDA required")
        return r
    if inv.revoked_at is not None:
        reason, err = "access revoked by the owner", InputError(
            "the buyer revoked your access to this RFQ's files", code="rfq.access_revoked", status=403)
    else:
        reason, err = "NDA not accepted", InputError(
            "accept the RFQ's NDA before you read its files", hint=f"POST /api/v1/factory/rfqs/{rfq_id}/nda",
            code="rfq.nda_required", status=403)
    _audit(uow, who, part_id, what, False, f"RFQ {rfq_id}: {reason} (site {who.site_id})")
    uow.commit()
    raise err


def factory_drawing(settings: Settings, who: Principal, rfq_id: str, file_id: str) -> attachments.FileData:
    """A drawing of the RFQ, for an invited factory after the NDA (every attempt logged)."""
    with UnitOfWork(settings.database_url) as uow:
        r = uow.rfq.rfq(rfq_id)
        part = next((p for p in (r.parts_for(str(who.site_id)) if r else ()) if p.drawing_file_id == file_id), None)
        if part is None:
            _invited(uow, who, rfq_id)
            raise NotFoundError(f"rfq {rfq_id} has no file {file_id!r}", code="file.not_found")
        _file_access(uow, who, rfq_id, part.part_id, "rfq_drawing_download")
        data = attachments.read(settings, uow, file_id)
        uow.commit()
        return data


def factory_design(settings: Settings, who: Principal, rfq_id: str, part_id: str) -> designs.DesignFile:
    """A part's model file, for an invited factory after the NDA (every attempt logged)."""
    with UnitOfWork(settings.database_url) as uow:
        _file_access(uow, who, rfq_id, part_id, "rfq_design_download")
        part = uow.parts.get(part_id, None)
        if part is None:
            raise NotFoundError(f"part {part_id!r} not found", code="part.not_found")
        uow.commit()
    return designs.DesignFile(part.id, part.filename, designs.read_design(settings, part))


# ---------------------------------------------------------------------------- bids


def place_bid(settings: Settings, who: Principal, rfq_id: str, tiers: Sequence[dict[str, Any]], *,
              valid_until: date, notes: str = "", deviations: str = "") -> Bid:
    """A factory's bid: a unit price and lead time per part and quantity of the RFQ's tiers, before the deadline.
    One active bid per site (withdraw it to bid again)."""
    at = now()
    with UnitOfWork(settings.database_url) as uow:
        r, inv = _invited(uow, who, rfq_id)
        if r.status is not RfqStatus.OPEN:
            raise InputError(f"rfq {rfq_id} is {r.status.value}", code="rfq.closed", status=409)
        if at > r.bid_deadline:
            raise InputError(f"the bid deadline of rfq {rfq_id} passed at {r.bid_deadline.isoformat()}",
                             code="rfq.deadline_passed", status=409)
        if inv.revoked_at is not None:
            raise InputError("the buyer revoked your access to this RFQ", code="rfq.access_revoked", status=403)
        if valid_until < local_today(at):
            raise InputError(f"valid_until {valid_until} has passed", code="rfq.bid_validity")
        if any(b.status is BidStatus.ACTIVE for b in uow.rfq.bids(rfq_id, who.site_id)):
            raise InputError("your site has an active bid on this RFQ", hint="withdraw it to bid again",
                             code="rfq.bid_exists", status=409)
        parts = {p.part_id: p for p in r.parts_for(inv.site_id)}
        made: list[BidTier] = []
        for i, t in enumerate(tiers):
            try:
                tier = BidTier.model_validate(t)
            except ValueError as exc:
                raise InputError(f"tiers[{i}]: {exc}", code="rfq.bid_tier") from None
            p = parts.get(tier.part_id)
            if p is None or tier.quantity not in p.quantities:
                raise InputError(f"tiers[{i}]: part {tier.part_id} at quantity {tier.quantity} is not in the RFQ "
                                 "as sent to your site", hint="; ".join(f"{q.part_id}: {list(q.quantities)}"
                                                                        for q in parts.values()),
                                 code="rfq.bid_tier")
            if any(m.part_id == tier.part_id and m.quantity == tier.quantity for m in made):
                raise InputError(f"tiers[{i}] prices part {tier.part_id} at {tier.quantity} twice",
                                 code="rfq.bid_tier")
            made.append(tier)
        if not made:
            raise InputError("a bid needs at least one tier", code="rfq.bid_tier")
        bid = Bid(id=new_id("bid"), rfq_id=rfq_id, site_id=str(who.site_id), user_id=who.user_id,
                  status=BidStatus.ACTIVE, tiers=tuple(made), valid_until=valid_until, notes=notes.strip()[:2000],
                  deviations=deviations.strip()[:2000], created_at=at)
        uow.rfq.add_bid(bid)
        job_ids = notify(uow, settings, organisation_ids=[r.organisation_id],
                         subject=f"fabgrid：询价 {rfq_id} 收到报价 / a bid on RFQ {rfq_id}",
                         body=f"/api/v1/rfqs/{rfq_id}/bids")
        uow.commit()
    for j in job_ids:
        jobs.submit(settings, j)
    return bid


def withdraw_bid(settings: Settings, who: Principal, rfq_id: str, bid_id: str) -> Bid:
    """The factory withdraws its active bid."""
    with UnitOfWork(settings.database_url) as uow:
        _invited(uow, who, rfq_id)
        b = uow.rfq.bid(bid_id)
        if b is None or b.rfq_id != rfq_id or b.site_id != who.site_id:
            raise NotFoundError(f"bid {bid_id!r} not found", code="rfq.bid_not_found")
        if not uow.rfq.set_bid_status(bid_id, BidStatus.WITHDRAWN, expect=BidStatus.ACTIVE):
            raise InputError(f"bid {bid_id} is {b.status.value}", code="rfq.bid_not_active", status=409)
        uow.commit()
        return uow.rfq.bid(bid_id) or b


@dataclass(frozen=True)
class BidLine:
    """One bid in the buyer's comparison: the factory, its standing and scorecard, the earliest delivery."""

    bid: Bid
    site_name: str
    city: str
    scorecard: factories.Scorecard | None
    standing: float
    delivery_date: date
    meets_need_by: bool
    total_cny_by_quantity: dict[str, float]
    #: production CO2 of the bid's parts at each quantity, where the factory's machines are known: the per-part CO2
    #: of that site's offer in the buyer's instant quotes, else of the costing energy model (`services.rfq_co2`);
    #: None when the site cannot make a part of the bid
    co2_kg_by_quantity: dict[str, float] | None = None
    #: the comparison per part: part id -> quantity -> total price of that part at that quantity
    totals_by_part: dict[str, dict[str, float]] = field(default_factory=dict)


def bids(settings: Settings, who: Principal, rfq_id: str) -> list[BidLine]:
    """The RFQ's bids side by side (withdrawn ones included, marked), cheapest total first."""
    with UnitOfWork(settings.database_url) as uow:
        r = own_rfq(uow, who, rfq_id)
        found = uow.rfq.bids(rfq_id)
        net = network.current(uow).network
        co2_unit = _co2_per_part(uow, r)
    missing = {(t.part_id, b.site_id) for b in found for t in b.tiers} - co2_unit.keys()
    co2_unit.update(rfq_co2.modelled_co2_per_part(settings, r, missing))  # the energy model where no quote has it
    today = local_today(now())
    out = []
    for b in found:
        s = net.sites.get(b.site_id)
        sc = factories.profile(settings, b.site_id).scorecard
        lead = max(t.lead_time_days for t in b.tiers)
        delivery = today + timedelta(days=lead)
        totals: dict[str, float] = {}
        for t in b.tiers:
            key = str(t.quantity)
            totals[key] = round(totals.get(key, 0.0) + t.unit_price_cny * t.quantity, 2)
        co2: dict[str, float] | None = {}
        for t in b.tiers:
            unit = co2_unit.get((t.part_id, b.site_id))
            if unit is None or co2 is None:
                co2 = None
                continue
            co2[str(t.quantity)] = round(co2.get(str(t.quantity), 0.0) + unit * t.quantity, 3)
        by_part: dict[str, dict[str, float]] = {}
        for t in b.tiers:
            by_part.setdefault(t.part_id, {})[str(t.quantity)] = round(t.unit_price_cny * t.quantity, 2)
        out.append(BidLine(b, s.name if s else b.site_id, s.city if s else "", sc, standing(sc), delivery,
                           delivery <= r.need_by, totals, co2 or None, by_part))
    return sorted(out, key=lambda x: (x.bid.status is not BidStatus.ACTIVE, min(x.total_cny_by_quantity.values())))


def _co2_per_part(uow: UnitOfWork, r: Rfq) -> dict[tuple[str, str], float]:
    """(part id, site) -> production CO2 per part (kg) of the newest instant quote's offer from that site."""
    out: dict[tuple[str, str], float] = {}
    for p in r.parts:
        for doc in uow.rfq.quotes_of_part(p.part_id, r.organisation_id):
            try:
                q = Quote.model_validate(doc)
            except ValueError:
                continue
            for o in q.offers:
                if (p.material is None or o.material == p.material) and o.quantity > 0:
                    out.setdefault((p.part_id, o.site), o.co2_kg / o.quantity)
    return out
