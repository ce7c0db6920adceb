"""The buyers' notices of a disruption's moves (services.disruptions): the timeline's text of each move in both
languages, and per order the webhook events, a message in the order's thread and the e-mail."""

from __future__ import annotations

from fabgrid.config import Settings
from fabgrid.domain.disruption import DisruptionMove, NetworkDisruption
from fabgrid.domain.order import Order, OrderLine
from fabgrid.services import mail, messages, timeline, webhooks
from fabgrid.services._util import now
from fabgrid.store.uow import UnitOfWork


def text(d: NetworkDisruption, m: DisruptionMove) -> timeline.Note:
    """The buyer's notice of one move (the timeline's text, in both languages)."""
    start = d.start.date().isoformat()
    window = (timeline.note("disruption_window", start=start, end=d.end.date().isoformat()) if d.end else
              timeline.note("disruption_open", start=start))
    what = {"disruption": d.id, "kind": d.kind.value, "target": d.target, "window": window}
    if m.to_site is None:
        return timeline.note("disruption_unplaced", **what, site=m.from_site)
    old = m.old_date.isoformat()
    delivery = (timeline.note("delivery_slips", old_date=old, date=m.new_date.isoformat())
                if m.slips and m.new_date is not None else timeline.note("delivery_kept", old_date=old))
    price = f"{m.old_price_cny:.2f}"
    if m.moved:
        return timeline.note("disruption_moved", **what, site=m.from_site, new_site=m.to_site, price=price,
                             delivery=delivery)
    return timeline.note("disruption_kept_site", **what, price=price, delivery=delivery)


_ZH_KIND = {"site": "工厂停产", "machine": "设备停机", "province": "省内物流中断", "route": "线路中断",
            "material": "材料短缺"}


def email(d: NetworkDisruption, order_id: str, notes: list[timeline.Note]) -> tuple[str, str]:
    subject = f"订单 {order_id} 受{_ZH_KIND[d.kind.value]}影响 / Order {order_id} affected by a disruption"
    body = ("您的订单受到网络中断的影响，详情如下。请在订单页面接受新的交货日期或取消该行。\n\n"
            + "\n".join(timeline.text(n.key, n.args, "zh") for n in notes)
            + "\n\nYour order is affected by a disruption of the network:\n\n" + "\n".join(n.text for n in notes)
            + f"\n\n/orders/{order_id} · /api/v1/orders/{order_id}/acceptance\n")
    return subject, body


def notify(uow: UnitOfWork, settings: Settings, d: NetworkDisruption, order: Order,
            changes: list[tuple[OrderLine, DisruptionMove, timeline.Note]]) -> list[str]:
    """Timeline events are the caller's; here the webhook events, the message in the order's thread (the buyer reads
    it on the order page, in both languages) and the e-mail of one order's changes."""
    job_ids: list[str] = []
    author = uow.users.get(d.declared_by)
    thread = messages.open_thread(uow, "order", order.id, f"order:{order.id}", order.organisation_id,
                                  [str(ln.site_id or ln.offer_site_id) for ln in order.lines])
    body = ("\n".join(timeline.text(n.key, n.args, "zh") for _, _, n in changes) + "\n\n"
            + "\n".join(n.text for _, _, n in changes))
    uow.rfq.add_message(thread.id, user_id=d.declared_by, author_email=author.email if author else "operator",
                        author_role="operator", body=body[:messages.MAX_BODY], internal=False, file_id=None,
                        at=now())
    for ln, m, text in changes:
        data = {"order_id": order.id, "status": ln.status.value, "site_id": ln.site_id, "line_id": ln.id,
                "note": text.text, "disruption": {"id": d.id, "kind": d.kind.value, "target": d.target,
                                             **m.model_dump(mode="json")},
                "links": {"order": f"/api/v1/orders/{order.id}", "acceptance": f"/api/v1/orders/{order.id}/acceptance"}}
        job_ids += webhooks.emit(uow, order.organisation_id, "order.status", data)
    to = uow.network_disruptions.emails(order.organisation_id)
    if settings.smtp_url and to:
        subject, body = email(d, order.id, [t for _, _, t in changes])
        job = mail.queue(uow, to, subject, body, organisation_id=order.organisation_id)
        job_ids.append(job.id)
    return job_ids
