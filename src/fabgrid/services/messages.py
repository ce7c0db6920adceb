"""Message threads about an RFQ (one per invited site) and about an order, between the buyer, the factory and the
park's operators: text and encrypted attachments, read markers, operator-only internal notes, e-mail to the other
parties (SMTP at FABGRID_SMTP_URL, sent by a background job) and the `message.created` webhook event. Only the
parties see a thread; to anyone else it does not exist (404).

Depends on the store, services.jobs/webhooks/attachments and the domain; never on api, web or cli.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.order import Order, OrderStatus
from fabgrid.domain.rfq import Message, Thread
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import access, attachments, jobs, mail, webhooks
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

MAX_BODY = 5000


@lru_cache(maxsize=1)
def texts() -> dict[str, Any]:
    """The shipped texts of RFQs, contracts and e-mails (data/rfq_texts.yaml)."""
    from fabgrid.data import load_document

    return dict(load_document("rfq_texts.yaml"))


def is_operator(who: Principal) -> bool:
    """The park's operators (and admins) see every thread and its internal notes."""
    return access.allows(who, ("operator",))


def may_see(t: Thread, who: Principal) -> bool:
    """Whether the caller is a party of the thread."""
    if is_operator(who):
        return True
    if who.role == "factory":
        return who.site_id is not None and who.site_id in t.site_ids
    return who.organisation_id == t.organisation_id


def open_thread(uow: UnitOfWork, kind: str, ref_id: str, key: str, organisation_id: int,
                site_ids: Iterable[str]) -> Thread:
    """The thread named `key`, opened on first use (in the caller's unit of work)."""
    found = uow.rfq.thread_by_key(key)
    if found is not None:
        return found
    t = Thread(id=new_id("thr"), kind=kind, ref_id=ref_id, organisation_id=organisation_id,
               site_ids=tuple(dict.fromkeys(site_ids)), created_at=now())
    return uow.rfq.add_thread(key, t)


def order_thread(settings: Settings, who: Principal, order_id: str) -> Thread:
    """The thread of an order (buyer, the sites holding its lines, operators); 404 to anyone else."""
    with UnitOfWork(settings.database_url) as uow:
        o = uow.orders.get(order_id)
        if o is None:
            raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
        sites = _order_sites(o)
        probe = Thread(id="-", kind="order", ref_id=o.id, organisation_id=o.organisation_id,
                       site_ids=tuple(sites), created_at=o.created_at)
        if not may_see(probe, who):
            raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
        t = _current(uow, open_thread(uow, "order", o.id, f"order:{o.id}", o.organisation_id, sites))
        uow.commit()
        return t


def _order_sites(o: Order) -> list[str]:
    """The sites holding an order's lines now (a line not allocated yet: the site of the offer ordered)."""
    return list(dict.fromkeys(str(ln.site_id or ln.offer_site_id) for ln in o.lines
                              if (ln.site_id or ln.offer_site_id) and ln.status is not OrderStatus.CANCELLED))


def _current(uow: UnitOfWork, t: Thread) -> Thread:
    """An order's thread with the sites that hold its lines now as its parties: a line re-allocated (a decline, a
    disruption) takes the conversation to the new site and away from the old one."""
    if t.kind != "order":
        return t
    o = uow.orders.get(t.ref_id)
    if o is None:
        return t
    sites = _order_sites(o)
    if sites == list(t.site_ids):
        return t
    return uow.rfq.set_thread_sites(t.id, sites) or t


def _visible(uow: UnitOfWork, who: Principal, thread_id: str) -> Thread:
    t = uow.rfq.thread(thread_id)
    if t is not None:
        t = _current(uow, t)
    if t is None or not may_see(t, who):
        raise NotFoundError(f"thread {thread_id!r} not found", code="thread.not_found")
    return t


@dataclass(frozen=True)
class ThreadView:
    """A thread with the messages the caller may read and everybody's read markers (user id -> message id)."""

    thread: Thread
    messages: tuple[Message, ...]
    read: dict[int, int]
    unread: int


def read_thread(settings: Settings, who: Principal, thread_id: str, mark_read: bool = True) -> ThreadView:
    """A thread's messages (internal notes for operators only); moves the caller's read marker to the last one."""
    with UnitOfWork(settings.database_url) as uow:
        t = _visible(uow, who, thread_id)
        msgs = uow.rfq.messages(thread_id, with_internal=is_operator(who))
        before = uow.rfq.read_markers(thread_id).get(who.user_id, 0)
        unread = sum(1 for m in msgs if m.id > before and m.user_id != who.user_id)
        if mark_read and msgs:
            uow.rfq.mark_read(thread_id, who.user_id, msgs[-1].id, now())
            uow.commit()
        return ThreadView(t, tuple(msgs), uow.rfq.read_markers(thread_id), unread)


def _email_jobs(uow: UnitOfWork, settings: Settings, to: list[str], subject: str, body: str) -> list[str]:
    if not settings.smtp_url or not to:
        return []
    return [mail.queue(uow, to, subject, body).id]


def notify(uow: UnitOfWork, settings: Settings, *, organisation_ids: Iterable[int] = (),
           site_ids: Iterable[str] = (), subject: str, body: str, skip: Iterable[str] = ()) -> list[str]:
    """Queue one e-mail to the users of the organisations and of the sites' organisations (not to `skip`)."""
    left = set(skip)
    to = [e for e in uow.rfq.emails(organisation_ids, site_ids) if e not in left]
    return _email_jobs(uow, settings, to, subject, body)


def post(settings: Settings, who: Principal, thread_id: str, body: str, internal: bool = False,
         file_id: str | None = None) -> Message:
    """Add a message (or, for an operator, an internal note) to a thread the caller is a party of; the other
    parties get an e-mail and their organisations the `message.created` webhook event (not for internal notes)."""
    text = body.strip()
    if not text:
        raise InputError("a message needs a text", code="message.empty")
    if len(text) > MAX_BODY:
        raise InputError(f"a message has at most {MAX_BODY} characters, not {len(text)}", code="message.too_long")
    if internal and not is_operator(who):
        raise InputError("only the park's operators write internal notes", code="message.internal", status=403)
    with UnitOfWork(settings.database_url) as uow:
        t = _visible(uow, who, thread_id)
        if file_id is not None:
            attachments.own_file(uow, who, file_id)
        m = uow.rfq.add_message(thread_id, user_id=who.user_id, author_email=who.email, author_role=who.role,
                                body=text, internal=internal, file_id=file_id, at=now())
        uow.rfq.mark_read(thread_id, who.user_id, m.id, m.created_at)
        job_ids: list[str] = []
        if not internal:
            what = f"{t.kind} {t.ref_id}"
            subject = str(texts()["email"]["message"]["subject"]).format(what=what)
            job_ids += notify(uow, settings, organisation_ids=[t.organisation_id], site_ids=t.site_ids,
                              subject=subject, body=f"{who.name} <{who.email}>:\n\n{text}\n\n/api/v1/threads/{t.id}",
                              skip=[who.email])
            data = {"thread_id": t.id, "kind": t.kind, "ref_id": t.ref_id, "message_id": m.id,
                    "author_role": who.role, "links": {"thread": f"/api/v1/threads/{t.id}/messages"}}
            orgs = {t.organisation_id, *uow.rfq.organisations_of_sites(t.site_ids).values()}
            for org in sorted(orgs - {who.organisation_id}):
                job_ids += webhooks.emit(uow, org, "message.created", data)
        uow.commit()
    for j in job_ids:
        jobs.submit(settings, j)
    return m


def attachment(settings: Settings, who: Principal, thread_id: str, file_id: str) -> attachments.FileData:
    """A file attached to a message of the thread, for its parties (internal notes' files for operators)."""
    with UnitOfWork(settings.database_url) as uow:
        _visible(uow, who, thread_id)
        msgs = uow.rfq.messages(thread_id, with_internal=is_operator(who))
        if not any(m.file_id == file_id for m in msgs):
            raise NotFoundError(f"file {file_id!r} is not attached to thread {thread_id}", code="file.not_found")
        return attachments.read(settings, uow, file_id)
