"""The repository of issue 19's records: attached files, RFQs and their invitations, bids, contracts, message
threads with read markers, claims, exhibitions with booths and meeting slots.

Returns `fabgrid.domain.rfq` records or plain values; never commits. Depends on the ORM tables and the domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fabgrid.domain.rfq import (
    AwardedTier,
    Bid,
    BidStatus,
    Booth,
    Claim,
    Contract,
    ContractStatus,
    Exhibition,
    Invitation,
    MeetingSlot,
    Message,
    Rfq,
    RfqStatus,
    StoredFile,
    Thread,
)
from fabgrid.store.rfq_tables import (
    BidRow,
    BoothRow,
    ClaimRow,
    ContractRow,
    ExhibitionRow,
    MeetingSlotRow,
    MessageRow,
    RfqFileRow,
    RfqInvitationRow,
    RfqRow,
    ThreadReadRow,
    ThreadRow,
)
from fabgrid.store.tables import OrganisationRow, PartRow, QuoteRow, UserRow


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _file(r: RfqFileRow) -> StoredFile:
    return StoredFile(id=r.id, organisation_id=r.organisation_id, user_id=r.user_id, filename=r.filename,
                      media_type=r.media_type, size_bytes=r.size_bytes, sha256=r.sha256,
                      created_at=_aware(r.created_at))


def _rfq(r: RfqRow) -> Rfq:
    return Rfq.model_validate({**r.doc, "id": r.id, "organisation_id": r.organisation_id, "user_id": r.user_id,
                               "status": r.status, "bid_deadline": _aware(r.bid_deadline),
                               "exhibition_id": r.exhibition_id, "created_at": _aware(r.created_at)})


def _invitation(r: RfqInvitationRow) -> Invitation:
    return Invitation(rfq_id=r.rfq_id, site_id=r.site_id, source=r.source, rank=r.rank, nda_sha256=r.nda_sha256,
                      nda_user_id=r.nda_user_id, nda_at=_utc(r.nda_at), revoked_at=_utc(r.revoked_at),
                      thread_id=r.thread_id)


def _bid(r: BidRow) -> Bid:
    return Bid.model_validate({**r.doc, "id": r.id, "rfq_id": r.rfq_id, "site_id": r.site_id, "user_id": r.user_id,
                               "status": r.status, "created_at": _aware(r.created_at)})


def _contract(r: ContractRow) -> Contract:
    return Contract(id=r.id, rfq_id=r.rfq_id, order_id=r.order_id, organisation_id=r.organisation_id,
                    site_id=r.site_id, version=r.version, previous_id=r.previous_id,
                    status=ContractStatus(r.status), total_cny=r.total_cny, terms=r.terms,
                    buyer_user_id=r.buyer_user_id, buyer_at=_utc(r.buyer_at), factory_user_id=r.factory_user_id,
                    factory_at=_utc(r.factory_at), signed_at=_utc(r.signed_at), created_at=_aware(r.created_at))


def _thread(r: ThreadRow) -> Thread:
    return Thread(id=r.id, kind=r.kind, ref_id=r.ref_id, organisation_id=r.organisation_id,
                  site_ids=tuple(r.site_ids.get("sites", [])), created_at=_aware(r.created_at))


def _message(r: MessageRow) -> Message:
    return Message(id=r.id, thread_id=r.thread_id, user_id=r.user_id, author_email=r.author_email,
                   author_role=r.author_role, body=r.body, internal=r.internal, file_id=r.file_id,
                   created_at=_aware(r.created_at))


def _claim(r: ClaimRow) -> Claim:
    return Claim.model_validate({**r.doc, "id": r.id, "order_id": r.order_id, "line_id": r.line_id,
                                 "site_id": r.site_id, "organisation_id": r.organisation_id, "user_id": r.user_id,
                                 "outcome": r.outcome, "decided_at": _utc(r.decided_at),
                                 "created_at": _aware(r.created_at)})


def _slot(r: MeetingSlotRow) -> MeetingSlot:
    return MeetingSlot(id=r.id, booth_id=r.booth_id, starts_at=_aware(r.starts_at), ends_at=_aware(r.ends_at),
                       organisation_id=r.organisation_id, user_id=r.user_id)


class RfqRepository:
    """Files, RFQs, invitations, bids, contracts, threads, claims and exhibitions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ files and parts

    def add_file(self, f: StoredFile, storage_path: str, wrapped_key: bytes, key_id: str) -> None:
        """Keep an encrypted file's record."""
        self.session.add(RfqFileRow(id=f.id, organisation_id=f.organisation_id, user_id=f.user_id,
                                    filename=f.filename, media_type=f.media_type, size_bytes=f.size_bytes,
                                    sha256=f.sha256, storage_path=storage_path, wrapped_key=wrapped_key,
                                    key_id=key_id, created_at=f.created_at))
        self.session.flush()

    def file(self, file_id: str) -> tuple[StoredFile, str, bytes, str] | None:
        """A file's record with its storage path, wrapped key and key id."""
        r = self.session.get(RfqFileRow, file_id)
        return None if r is None else (_file(r), r.storage_path, bytes(r.wrapped_key), r.key_id)

    def part_brief(self, part_id: str) -> tuple[int, str, str, tuple[float, float, float] | None] | None:
        """(organisation id, file name, SHA-256, bounding box in mm) of a stored part."""
        r = self.session.get(PartRow, part_id)
        if r is None:
            return None
        box = (r.report or {}).get("bbox_mm")
        bbox = (float(box[0]), float(box[1]), float(box[2])) if isinstance(box, list) and len(box) == 3 else None
        return r.organisation_id, r.filename, r.sha256, bbox

    def parts_of(self, organisation_id: int, limit: int = 200) -> list[tuple[str, str]]:
        """(part id, file name) of an organisation's analysed parts, newest first."""
        q = (select(PartRow.id, PartRow.filename).where(PartRow.organisation_id == organisation_id,
                                                        PartRow.status == "ready")
             .order_by(PartRow.created_at.desc()).limit(limit))
        return [(str(i), str(n)) for i, n in self.session.execute(q)]

    def quotes_of_part(self, part_id: str, organisation_id: int) -> list[dict[str, Any]]:
        """The stored quotes (JSON of `domain.quote.Quote`) of an organisation's part, newest first."""
        q = (select(QuoteRow.quote).where(QuoteRow.part_id == part_id, QuoteRow.organisation_id == organisation_id)
             .order_by(QuoteRow.created_at.desc()))
        return [dict(x) for x in self.session.scalars(q)]

    # ------------------------------------------------------------------ RFQs and invitations

    def add_rfq(self, rfq: Rfq) -> None:
        """Keep a new RFQ."""
        doc = rfq.model_dump(mode="json", exclude={"id", "organisation_id", "user_id", "status", "bid_deadline",
                                                   "exhibition_id", "created_at"})
        self.session.add(RfqRow(id=rfq.id, organisation_id=rfq.organisation_id, user_id=rfq.user_id,
                                status=rfq.status.value, bid_deadline=rfq.bid_deadline,
                                exhibition_id=rfq.exhibition_id, doc=doc, created_at=rfq.created_at))
        self.session.flush()

    def rfq(self, rfq_id: str) -> Rfq | None:
        """An RFQ of any organisation (the service checks who may see it)."""
        r = self.session.get(RfqRow, rfq_id)
        return None if r is None else _rfq(r)

    def rfqs(self, organisation_id: int) -> list[Rfq]:
        """An organisation's RFQs, newest first."""
        q = select(RfqRow).where(RfqRow.organisation_id == organisation_id).order_by(RfqRow.created_at.desc())
        return [_rfq(r) for r in self.session.scalars(q)]

    def set_awarded(self, rfq_id: str, awarded: dict[str, str], status: RfqStatus,
                    tiers: Iterable[AwardedTier] = ()) -> None:
        """Record the parts and tiers awarded so far and the RFQ's status."""
        r = self.session.get(RfqRow, rfq_id)
        assert r is not None
        r.doc = {**r.doc, "awarded": awarded, "awarded_tiers": [t.model_dump(mode="json") for t in tiers]}
        r.status = status.value
        self.session.flush()

    def count_rfqs(self, exhibition_id: str) -> int:
        """RFQs posted at an exhibition."""
        q = select(func.count()).select_from(RfqRow).where(RfqRow.exhibition_id == exhibition_id)
        return int(self.session.scalar(q) or 0)

    def add_invitation(self, inv: Invitation) -> None:
        """Send an RFQ to a site."""
        self.session.add(RfqInvitationRow(rfq_id=inv.rfq_id, site_id=inv.site_id, source=inv.source, rank=inv.rank,
                                          thread_id=inv.thread_id))
        self.session.flush()

    def invitations(self, rfq_id: str) -> list[Invitation]:
        """The sites an RFQ went to, by rank."""
        q = select(RfqInvitationRow).where(RfqInvitationRow.rfq_id == rfq_id).order_by(RfqInvitationRow.rank)
        return [_invitation(r) for r in self.session.scalars(q)]

    def invitation(self, rfq_id: str, site_id: str) -> Invitation | None:
        """One site's invitation to an RFQ."""
        q = select(RfqInvitationRow).where(RfqInvitationRow.rfq_id == rfq_id, RfqInvitationRow.site_id == site_id)
        r = self.session.scalar(q)
        return None if r is None else _invitation(r)

    def invitations_of_site(self, site_id: str) -> list[Invitation]:
        """A site's invitations, newest first."""
        q = (select(RfqInvitationRow).where(RfqInvitationRow.site_id == site_id)
             .order_by(RfqInvitationRow.id.desc()))
        return [_invitation(r) for r in self.session.scalars(q)]

    def accept_nda(self, rfq_id: str, site_id: str, sha256: str, user_id: int, at: datetime) -> bool:
        """Record the NDA's acceptance (only where none is recorded yet); False if it was accepted already."""
        res = self.session.execute(
            update(RfqInvitationRow).where(RfqInvitationRow.rfq_id == rfq_id, RfqInvitationRow.site_id == site_id,
                                           RfqInvitationRow.nda_at.is_(None))
            .values(nda_sha256=sha256, nda_user_id=user_id, nda_at=at))
        return bool(res.rowcount)  # type: ignore[attr-defined]

    def revoke(self, rfq_id: str, site_id: str, at: datetime) -> None:
        """The owner ends a site's access to the files."""
        self.session.execute(update(RfqInvitationRow).where(RfqInvitationRow.rfq_id == rfq_id,
                                                            RfqInvitationRow.site_id == site_id)
                             .values(revoked_at=at))

    # ------------------------------------------------------------------ bids

    def add_bid(self, bid: Bid) -> None:
        """Keep a bid."""
        doc = bid.model_dump(mode="json", exclude={"id", "rfq_id", "site_id", "user_id", "status", "created_at"})
        self.session.add(BidRow(id=bid.id, rfq_id=bid.rfq_id, site_id=bid.site_id, user_id=bid.user_id,
                                status=bid.status.value, doc=doc, created_at=bid.created_at))
        self.session.flush()

    def bid(self, bid_id: str) -> Bid | None:
        """One bid."""
        r = self.session.get(BidRow, bid_id)
        return None if r is None else _bid(r)

    def bids(self, rfq_id: str, site_id: str | None = None) -> list[Bid]:
        """An RFQ's bids (of one site), oldest first."""
        q = select(BidRow).where(BidRow.rfq_id == rfq_id)
        if site_id is not None:
            q = q.where(BidRow.site_id == site_id)
        return [_bid(r) for r in self.session.scalars(q.order_by(BidRow.created_at, BidRow.id))]

    def set_bid_status(self, bid_id: str, status: BidStatus, expect: BidStatus | None = None) -> bool:
        """Move a bid to `status` (only from `expect` where given); False when it was not in `expect`."""
        q = update(BidRow).where(BidRow.id == bid_id)
        if expect is not None:
            q = q.where(BidRow.status == expect.value)
        return bool(self.session.execute(q.values(status=status.value)).rowcount)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ contracts

    def add_contract(self, c: Contract) -> None:
        """Keep a contract version."""
        self.session.add(ContractRow(id=c.id, rfq_id=c.rfq_id, order_id=c.order_id, organisation_id=c.organisation_id,
                                     site_id=c.site_id, version=c.version, previous_id=c.previous_id,
                                     status=c.status.value, total_cny=c.total_cny, terms=c.terms,
                                     created_at=c.created_at))
        self.session.flush()

    def contract(self, contract_id: str) -> Contract | None:
        """One contract version."""
        r = self.session.get(ContractRow, contract_id)
        return None if r is None else _contract(r)

    def contracts_of_order(self, order_id: str) -> list[Contract]:
        """The contract versions of an order, oldest first."""
        q = select(ContractRow).where(ContractRow.order_id == order_id).order_by(ContractRow.version)
        return [_contract(r) for r in self.session.scalars(q)]

    def accept_contract(self, contract_id: str, side: str, user_id: int, at: datetime) -> bool:
        """Record one side's acceptance of a draft (only once per side); False when that side had accepted or the
        version is no longer a draft."""
        col, who = (ContractRow.buyer_at, "buyer") if side == "buyer" else (ContractRow.factory_at, "factory")
        res = self.session.execute(
            update(ContractRow).where(ContractRow.id == contract_id, col.is_(None),
                                      ContractRow.status == ContractStatus.DRAFT.value)
            .values({f"{who}_user_id": user_id, f"{who}_at": at}))
        return bool(res.rowcount)  # type: ignore[attr-defined]

    def sign(self, contract_id: str, at: datetime) -> None:
        """Both sides accepted: the version is signed (and no longer changes)."""
        self.session.execute(update(ContractRow).where(ContractRow.id == contract_id,
                                                       ContractRow.status == ContractStatus.DRAFT.value)
                             .values(status=ContractStatus.SIGNED.value, signed_at=at))

    def supersede(self, contract_id: str) -> None:
        """A later signed version replaces this one."""
        self.session.execute(update(ContractRow).where(ContractRow.id == contract_id)
                             .values(status=ContractStatus.SUPERSEDED.value))

    def signed_between(self, start: datetime, end: datetime, site_ids: Iterable[str]) -> list[Contract]:
        """Contract versions signed in [start, end) with one of the sites (the projects signed at an exhibition)."""
        sites = list(site_ids)
        if not sites:
            return []
        q = select(ContractRow).where(ContractRow.signed_at >= start, ContractRow.signed_at < end,
                                      ContractRow.site_id.in_(sites), ContractRow.version == 1)
        return [_contract(r) for r in self.session.scalars(q)]

    # ------------------------------------------------------------------ threads and messages

    def thread_by_key(self, key: str) -> Thread | None:
        """The thread named `key` (rfq:<id>:<site> or order:<id>)."""
        r = self.session.scalar(select(ThreadRow).where(ThreadRow.key == key))
        return None if r is None else _thread(r)

    def add_thread(self, key: str, t: Thread) -> Thread:
        """Open a thread; the one stored when a concurrent transaction opened `key` first (the key is unique)."""
        try:
            with self.session.begin_nested():
                self.session.add(ThreadRow(id=t.id, key=key, kind=t.kind, ref_id=t.ref_id,
                                           organisation_id=t.organisation_id, site_ids={"sites": list(t.site_ids)},
                                           created_at=t.created_at))
        except IntegrityError:
            found = self.thread_by_key(key)
            if found is None:
                raise
            return found
        return t

    def set_thread_sites(self, thread_id: str, site_ids: Iterable[str]) -> Thread | None:
        """Name the sites that are parties of a thread (an order's, when its lines moved)."""
        r = self.session.get(ThreadRow, thread_id)
        if r is None:
            return None
        r.site_ids = {"sites": list(dict.fromkeys(site_ids))}
        self.session.flush()
        return _thread(r)

    def thread(self, thread_id: str) -> Thread | None:
        """One thread."""
        r = self.session.get(ThreadRow, thread_id)
        return None if r is None else _thread(r)

    def add_message(self, thread_id: str, *, user_id: int, author_email: str, author_role: str, body: str,
                    internal: bool, file_id: str | None, at: datetime) -> Message:
        """Append a message."""
        r = MessageRow(thread_id=thread_id, user_id=user_id, author_email=author_email, author_role=author_role,
                       body=body, internal=internal, file_id=file_id, created_at=at)
        self.session.add(r)
        self.session.flush()
        return _message(r)

    def messages(self, thread_id: str, with_internal: bool) -> list[Message]:
        """A thread's messages, oldest first (internal notes only `with_internal`)."""
        q = select(MessageRow).where(MessageRow.thread_id == thread_id)
        if not with_internal:
            q = q.where(MessageRow.internal.is_(False))
        return [_message(r) for r in self.session.scalars(q.order_by(MessageRow.id))]

    def mark_read(self, thread_id: str, user_id: int, last_message_id: int, at: datetime) -> None:
        """Move a user's read marker forward (never back)."""
        r = self.session.get(ThreadReadRow, (thread_id, user_id))
        if r is None:
            self.session.add(ThreadReadRow(thread_id=thread_id, user_id=user_id, last_message_id=last_message_id,
                                           read_at=at))
        elif last_message_id > r.last_message_id:
            r.last_message_id, r.read_at = last_message_id, at
        self.session.flush()

    def read_markers(self, thread_id: str) -> dict[int, int]:
        """user id -> the last message id that user has read."""
        q = select(ThreadReadRow).where(ThreadReadRow.thread_id == thread_id)
        return {r.user_id: r.last_message_id for r in self.session.scalars(q)}

    def emails(self, organisation_ids: Iterable[int] = (), site_ids: Iterable[str] = ()) -> list[str]:
        """The e-mail addresses of the users of the organisations and of the organisations running the sites."""
        orgs, sites = list(organisation_ids), list(site_ids)
        cond = []
        if orgs:
            cond.append(UserRow.organisation_id.in_(orgs))
        if sites:
            cond.append(UserRow.organisation_id.in_(select(OrganisationRow.id).where(OrganisationRow.site_id.in_(sites))))
        if not cond:
            return []
        q = select(UserRow.email).where(or_(*cond)).order_by(UserRow.email)
        return list(dict.fromkeys(self.session.scalars(q)))

    def organisations_of_sites(self, site_ids: Iterable[str]) -> dict[str, int]:
        """site id -> the organisation that runs it."""
        sites = list(site_ids)
        q = select(OrganisationRow.site_id, OrganisationRow.id).where(OrganisationRow.site_id.in_(sites))
        return {str(s): int(o) for s, o in self.session.execute(q)}

    # ------------------------------------------------------------------ claims

    def add_claim(self, c: Claim) -> None:
        """Keep a claim."""
        doc = c.model_dump(mode="json", include={"description", "photo_file_ids", "answer", "answered_at",
                                                 "refund_cny", "decision_note"})
        self.session.add(ClaimRow(id=c.id, order_id=c.order_id, line_id=c.line_id, site_id=c.site_id,
                                  organisation_id=c.organisation_id, user_id=c.user_id, outcome=None, doc=doc,
                                  created_at=c.created_at))
        self.session.flush()

    def claim(self, claim_id: str) -> Claim | None:
        """One claim."""
        r = self.session.get(ClaimRow, claim_id)
        return None if r is None else _claim(r)

    def claims(self, *, order_id: str | None = None, site_id: str | None = None, line_id: str | None = None,
               decided_since: datetime | None = None) -> list[Claim]:
        """Claims by order, site or line (decided since a time), oldest first."""
        q = select(ClaimRow)
        if order_id is not None:
            q = q.where(ClaimRow.order_id == order_id)
        if site_id is not None:
            q = q.where(ClaimRow.site_id == site_id)
        if line_id is not None:
            q = q.where(ClaimRow.line_id == line_id)
        if decided_since is not None:
            q = q.where(ClaimRow.decided_at >= decided_since)
        return [_claim(r) for r in self.session.scalars(q.order_by(ClaimRow.created_at, ClaimRow.id))]

    def update_claim(self, claim_id: str, changes: dict[str, Any], outcome: str | None = None,
                     decided_at: datetime | None = None) -> None:
        """Write the answer or the decision of a claim."""
        r = self.session.get(ClaimRow, claim_id)
        assert r is not None
        r.doc = {**r.doc, **changes}
        if outcome is not None:
            r.outcome, r.decided_at = outcome, decided_at
        self.session.flush()

    # ------------------------------------------------------------------ exhibitions

    def add_exhibition(self, e: Exhibition) -> None:
        """Keep an exhibition (booths are added one by one)."""
        self.session.add(ExhibitionRow(id=e.id, name=e.name, theme=e.theme, starts_on=e.starts_on.isoformat(),
                                       ends_on=e.ends_on.isoformat(), created_at=e.created_at))
        self.session.flush()

    def add_booth(self, b: Booth) -> None:
        """Add a booth with its meeting slots."""
        self.session.add(BoothRow(id=b.id, exhibition_id=b.exhibition_id, site_id=b.site_id,
                                  featured={"items": list(b.featured)}))
        self.session.flush()
        for s in b.slots:
            self.session.add(MeetingSlotRow(id=s.id, booth_id=b.id, starts_at=s.starts_at, ends_at=s.ends_at))
        self.session.flush()

    def update_exhibition(self, e: Exhibition) -> None:
        """Write an exhibition's name, theme and dates."""
        r = self.session.get_one(ExhibitionRow, e.id)
        r.name, r.theme, r.starts_on, r.ends_on = e.name, e.theme, e.starts_on.isoformat(), e.ends_on.isoformat()
        self.session.flush()

    def set_featured(self, booth_id: str, featured: Iterable[str]) -> None:
        """Write a booth's featured parts."""
        self.session.get_one(BoothRow, booth_id).featured = {"items": list(featured)}
        self.session.flush()

    def add_slots(self, slots: Iterable[MeetingSlot]) -> None:
        """Add meeting slots to a booth."""
        for s in slots:
            self.session.add(MeetingSlotRow(id=s.id, booth_id=s.booth_id, starts_at=s.starts_at, ends_at=s.ends_at))
        self.session.flush()

    def remove_slot(self, slot_id: str) -> bool:
        """Remove a slot nobody booked; False when it is booked (or gone)."""
        res = self.session.execute(delete(MeetingSlotRow).where(MeetingSlotRow.id == slot_id,
                                                                MeetingSlotRow.organisation_id.is_(None)))
        return bool(res.rowcount)  # type: ignore[attr-defined]

    def remove_booth(self, booth_id: str) -> None:
        """Remove a booth with its (unbooked) slots."""
        self.session.execute(delete(MeetingSlotRow).where(MeetingSlotRow.booth_id == booth_id))
        self.session.execute(delete(BoothRow).where(BoothRow.id == booth_id))
        self.session.flush()

    def _booths(self, exhibition_id: str) -> list[Booth]:
        rows = list(self.session.scalars(select(BoothRow).where(BoothRow.exhibition_id == exhibition_id)
                                         .order_by(BoothRow.site_id)))
        slots: dict[str, list[MeetingSlot]] = {r.id: [] for r in rows}
        if rows:
            q = (select(MeetingSlotRow).where(MeetingSlotRow.booth_id.in_(list(slots)))
                 .order_by(MeetingSlotRow.starts_at))
            for s in self.session.scalars(q):
                slots[s.booth_id].append(_slot(s))
        return [Booth(id=r.id, exhibition_id=r.exhibition_id, site_id=r.site_id,
                      featured=tuple(r.featured.get("items", [])), slots=tuple(slots[r.id])) for r in rows]

    def exhibition(self, exhibition_id: str) -> Exhibition | None:
        """An exhibition with its booths and their slots."""
        r = self.session.get(ExhibitionRow, exhibition_id)
        if r is None:
            return None
        return Exhibition(id=r.id, name=r.name, theme=r.theme, starts_on=date.fromisoformat(r.starts_on),
                          ends_on=date.fromisoformat(r.ends_on), booths=tuple(self._booths(r.id)),
                          created_at=_aware(r.created_at))

    def exhibitions(self) -> list[Exhibition]:
        """Every exhibition, newest first, with booths."""
        ids = list(self.session.scalars(select(ExhibitionRow.id).order_by(ExhibitionRow.starts_on.desc())))
        return [e for e in (self.exhibition(i) for i in ids) if e is not None]

    def book_slot(self, slot_id: str, organisation_id: int, user_id: int, at: datetime) -> bool:
        """Book a free slot; False when it was taken (one UPDATE: two bookers cannot both win)."""
        res = self.session.execute(update(MeetingSlotRow).where(MeetingSlotRow.id == slot_id,
                                                                MeetingSlotRow.organisation_id.is_(None))
                                   .values(organisation_id=organisation_id, user_id=user_id, booked_at=at))
        return bool(res.rowcount)  # type: ignore[attr-defined]
