"""The park's online exhibitions: dates, a theme and booths (a verified factory's showroom with featured parts);
buyers browse the booths, post RFQs to exhibitors (`services.rfq.create_rfq` with the exhibition) and book
matchmaking meetings in booth time slots (no double booking); the operator creates and edits them (dates, theme,
booths of verified factories with featured parts, slots added and free slots removed); the counts the park
reports: exhibitors, RFQs, meetings, and the projects signed (contracts both sides accepted during the exhibition,
with their total value).

Depends on the store, services.factories and the domain; never on api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabgrid.config import Settings
from fabgrid.domain.rfq import Booth, Exhibition, MeetingSlot
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import factories, network
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.messages import is_operator
from fabgrid.store.uow import UnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_SLOTS = 200
MAX_DAYS = 60


@dataclass(frozen=True)
class Counts:
    """What the exhibition page counts."""

    exhibitors: int
    rfqs: int
    meetings: int
    projects_signed: int
    signed_value_cny: float


@dataclass(frozen=True)
class ExhibitionView:
    """An exhibition with its booths (slots booked or free) and its counts."""

    exhibition: Exhibition
    counts: Counts
    site_names: dict[str, str]


#: The days an exhibition may have (a date such as 0001-01-01 has no time in Asia/Shanghai to begin at).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _operator(who: Principal) -> None:
    if not is_operator(who):
        raise InputError("the park's operator runs exhibitions", code="exhibition.not_operator", status=403)


def _checked(name: str, theme: str, starts_on: date, ends_on: date) -> tuple[str, str]:
    if not name.strip():
        raise InputError("an exhibition needs a name", code="exhibition.name")
    if not (starts_on >= FIRST_DAY and ends_on <= LAST_DAY):
        raise InputError(f"{starts_on}..{ends_on} is outside {FIRST_DAY}..{LAST_DAY}", hint="give the exhibition's "
                         "real dates", code="exhibition.dates")
    if ends_on < starts_on:
        raise InputError(f"ends_on {ends_on} is before starts_on {starts_on}", hint="the last day comes after the "
                         "first", code="exhibition.dates")
    if (ends_on - starts_on).days > MAX_DAYS:
        raise InputError(f"an exhibition lasts at most {MAX_DAYS} days", code="exhibition.dates")
    return name.strip()[:200], theme.strip()[:500]


def create(settings: Settings, who: Principal, name: str, theme: str, starts_on: date, ends_on: date) -> Exhibition:
    """A new exhibition (operator)."""
    _operator(who)
    name, theme = _checked(name, theme, starts_on, ends_on)
    e = Exhibition(id=new_id("exh"), name=name, theme=theme, starts_on=starts_on, ends_on=ends_on, created_at=now())
    with UnitOfWork(settings.database_url) as uow:
        uow.rfq.add_exhibition(e)
        uow.commit()
    return e


def _exhibition(uow: UnitOfWork, exhibition_id: str) -> Exhibition:
    e = uow.rfq.exhibition(exhibition_id)
    if e is None:
        raise NotFoundError(f"exhibition {exhibition_id!r} not found", hint="GET /api/v1/exhibitions lists them",
                            code="exhibition.not_found")
    return e


def _booth(e: Exhibition, booth_id: str) -> Booth:
    b = next((x for x in e.booths if x.id == booth_id), None)
    if b is None:
        raise NotFoundError(f"exhibition {e.id} has no booth {booth_id!r}", code="exhibition.booth_not_found")
    return b


def update(settings: Settings, who: Principal, exhibition_id: str, name: str, theme: str, starts_on: date,
           ends_on: date) -> Exhibition:
    """Change an exhibition's name, theme and dates (operator); every meeting slot must stay within the dates."""
    _operator(who)
    name, theme = _checked(name, theme, starts_on, ends_on)
    with UnitOfWork(settings.database_url) as uow:
        e = _exhibition(uow, exhibition_id)
        changed = e.model_copy(update={"name": name, "theme": theme, "starts_on": starts_on, "ends_on": ends_on})
        start, end = _window(changed)
        outside = [s for b in e.booths for s in b.slots if s.starts_at < start or s.ends_at > end]
        if outside:
            raise InputError(f"{len(outside)} meeting slot(s) would lie outside {starts_on}..{ends_on}, the first at "
                             f"{outside[0].starts_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Asia/Shanghai)",
                             hint="remove those slots first, or keep the dates around them", code="exhibition.dates",
                             status=409)
        uow.rfq.update_exhibition(changed)
        uow.commit()
        return _exhibition(uow, exhibition_id)


def _new_slots(e: Exhibition, booth_id: str, slots: Sequence[tuple[datetime, int]],
               existing: Sequence[MeetingSlot] = ()) -> list[MeetingSlot]:
    """Meeting slots (start, minutes) checked: 5..240 minutes, within the exhibition's days, no overlap."""
    if len(slots) + len(existing) > MAX_SLOTS:
        raise InputError(f"a booth has at most {MAX_SLOTS} slots", code="exhibition.slots")
    start, end = _window(e)
    made: list[MeetingSlot] = []
    for i, (at, minutes) in enumerate(slots):
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)  # stored as UTC
        if not 5 <= minutes <= 240:
            raise InputError(f"slots[{i}]: minutes must be 5..240", code="exhibition.slots")
        stop = at + timedelta(minutes=minutes)
        if at < start or stop > end:
            raise InputError(f"slots[{i}] lies outside the exhibition ({e.starts_on}..{e.ends_on}, Asia/Shanghai)",
                             code="exhibition.slots")
        if any(at < m.ends_at and m.starts_at < stop for m in (*existing, *made)):
            raise InputError(f"slots[{i}] overlaps another slot of the booth", code="exhibition.slots")
        made.append(MeetingSlot(id=new_id("slt"), booth_id=booth_id, starts_at=at, ends_at=stop))
    return made


def _featured(featured: Sequence[str]) -> tuple[str, ...]:
    return tuple(f.strip()[:200] for f in featured if f.strip())[:20]


def add_booth(settings: Settings, who: Principal, exhibition_id: str, site_id: str, featured: Sequence[str],
              slots: Sequence[tuple[datetime, int]]) -> Booth:
    """A verified factory's booth with featured parts and meeting slots (start, minutes), within the dates."""
    _operator(who)
    if not any(p.site.id == site_id for p in factories.search(settings, verified_only=True)):
        raise InputError(f"site {site_id!r} is not a verified factory", hint="the showroom lists them",
                         code="exhibition.site")
    with UnitOfWork(settings.database_url) as uow:
        e = _exhibition(uow, exhibition_id)
        if any(b.site_id == site_id for b in e.booths):
            raise InputError(f"site {site_id} has a booth already", code="exhibition.booth_exists", status=409)
        booth_id = new_id("bth")
        booth = Booth(id=booth_id, exhibition_id=exhibition_id, site_id=site_id, featured=_featured(featured),
                      slots=tuple(_new_slots(e, booth_id, slots)))
        uow.rfq.add_booth(booth)
        uow.commit()
        return booth


def edit_booth(settings: Settings, who: Principal, exhibition_id: str, booth_id: str, featured: Sequence[str],
               slots: Sequence[tuple[datetime, int]] = ()) -> Booth:
    """Change a booth's featured parts and add meeting slots (operator)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        e = _exhibition(uow, exhibition_id)
        b = _booth(e, booth_id)
        uow.rfq.add_slots(_new_slots(e, booth_id, slots, b.slots))
        uow.rfq.set_featured(booth_id, _featured(featured))
        uow.commit()
        return _booth(_exhibition(uow, exhibition_id), booth_id)


def remove_slot(settings: Settings, who: Principal, exhibition_id: str, slot_id: str) -> None:
    """Remove a meeting slot nobody booked (operator); 409 when booked."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        e = _exhibition(uow, exhibition_id)
        if not any(s.id == slot_id for b in e.booths for s in b.slots):
            raise NotFoundError(f"slot {slot_id!r} not found at exhibition {exhibition_id}",
                                code="exhibition.slot_not_found")
        if not uow.rfq.remove_slot(slot_id):
            raise InputError(f"slot {slot_id} is booked", hint="a booked meeting stays", code="exhibition.slot_taken",
                             status=409)
        uow.commit()


def remove_booth(settings: Settings, who: Principal, exhibition_id: str, booth_id: str) -> None:
    """Remove a booth whose slots nobody booked (operator); 409 otherwise."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        b = _booth(_exhibition(uow, exhibition_id), booth_id)
        if any(s.organisation_id is not None for s in b.slots):
            raise InputError(f"booth {booth_id} has booked meetings", hint="a booked meeting stays",
                             code="exhibition.booth_booked", status=409)
        uow.rfq.remove_booth(booth_id)
        uow.commit()


def _window(e: Exhibition) -> tuple[datetime, datetime]:
    """The exhibition's first and last day in Asia/Shanghai, as UTC [start, end)."""
    start = datetime.combine(e.starts_on, time(), SHANGHAI).astimezone(UTC)
    end = datetime.combine(e.ends_on + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)
    return start, end


def _view(uow: UnitOfWork, e: Exhibition, who: Principal | None) -> ExhibitionView:
    start, end = _window(e)
    sites = [b.site_id for b in e.booths]
    signed = uow.rfq.signed_between(start, end, sites)
    meetings = sum(1 for b in e.booths for s in b.slots if s.organisation_id is not None)
    if who is None or not is_operator(who):  # a buyer sees which slots are taken, not by whom (its own: yes)
        mine = who.organisation_id if who is not None else None
        booths = tuple(b.model_copy(update={"slots": tuple(
            s if s.organisation_id in (None, mine) else s.model_copy(update={"organisation_id": -1, "user_id": None})
            for s in b.slots)}) for b in e.booths)
        e = e.model_copy(update={"booths": booths})
    net = network.current(uow).network
    net_names = {sid: net.sites[sid].name for sid in sites if sid in net.sites}
    return ExhibitionView(e, Counts(exhibitors=len(sites), rfqs=uow.rfq.count_rfqs(e.id), meetings=meetings,
                                    projects_signed=len(signed),
                                    signed_value_cny=round(sum(c.total_cny for c in signed), 2)), net_names)


def list_exhibitions(settings: Settings, who: Principal | None = None) -> list[ExhibitionView]:
    """Every exhibition, newest first, with its counts."""
    with UnitOfWork(settings.database_url) as uow:
        return [_view(uow, e, who) for e in uow.rfq.exhibitions()]


def get_exhibition(settings: Settings, exhibition_id: str, who: Principal | None = None) -> ExhibitionView:
    """One exhibition with booths, slots and counts."""
    with UnitOfWork(settings.database_url) as uow:
        return _view(uow, _exhibition(uow, exhibition_id), who)


def book(settings: Settings, who: Principal, exhibition_id: str, slot_id: str) -> MeetingSlot:
    """A buyer books a free meeting slot of a booth; 409 when it is taken."""
    if who.role == "factory":
        raise InputError("buyers book meetings with exhibitors", code="exhibition.not_buyer", status=403)
    with UnitOfWork(settings.database_url) as uow:
        e = uow.rfq.exhibition(exhibition_id)
        slot = next((s for b in (e.booths if e else ()) for s in b.slots if s.id == slot_id), None)
        if e is None or slot is None:
            raise NotFoundError(f"slot {slot_id!r} not found at exhibition {exhibition_id!r}",
                                code="exhibition.slot_not_found")
        if slot.ends_at <= now():
            raise InputError(f"slot {slot_id} is over", code="exhibition.slot_past", status=409)
        if not uow.rfq.book_slot(slot_id, who.organisation_id, who.user_id, now()):
            raise InputError(f"slot {slot_id} is booked already", hint="choose another slot of the booth",
                             code="exhibition.slot_taken", status=409)
        uow.commit()
        return slot.model_copy(update={"organisation_id": who.organisation_id, "user_id": who.user_id})
