"""The order repository: orders with their lines and timelines in, `fabgrid.domain.order` records out.

Each method works on the unit of work's session and never commits. The order's stored status is kept equal to
that of its least advanced line. Depends on the ORM tables and the domain records only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fabgrid.domain.catalog import ProcessFamily
from fabgrid.domain.order import FeatureSpec, Inspection, Order, OrderEvent, OrderLine, OrderStatus, order_status
from fabgrid.errors import InputError
from fabgrid.store.tables import IdempotencyKeyRow, OrderEventRow, OrderLineRow, OrderRow


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _line(r: OrderLineRow) -> OrderLine:
    return OrderLine(
        id=r.id, order_id=r.order_id, position=r.position, quote_id=r.quote_id, part_id=r.part_id,
        site_id=r.site_id, offer_site_id=r.offer_site_id, process=ProcessFamily(r.process), material=r.material,
        finish=r.finish, quantity=r.quantity, tier=r.tier, unit_price_cny=r.unit_price_cny,
        total_price_cny=r.total_price_cny, lead_time_days=r.lead_time_days,
        delivery_date=date.fromisoformat(r.delivery_date), machine_h=r.machine_h, status=OrderStatus(r.status),
        inspection=Inspection.model_validate(r.inspection) if r.inspection else None,
        certifications=tuple(r.certifications or ()),
        feature_plan=tuple(FeatureSpec.model_validate(f) for f in r.feature_plan or ()))


def _event(e: OrderEventRow) -> OrderEvent:
    return OrderEvent(status=OrderStatus(e.status), at=_utc(e.at), site_id=e.site_id, line_id=e.line_id,
                      note=e.note, note_key=e.note_key, note_args=dict(e.note_args or {}))


class OrderRepository:
    """Orders, their lines and timelines."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ reads

    def _orders(self, rows: Iterable[OrderRow], with_events: bool = True) -> list[Order]:
        rows = list(rows)
        if not rows:
            return []
        ids = [r.id for r in rows]
        lines: dict[str, list[OrderLine]] = {i: [] for i in ids}
        q = select(OrderLineRow).where(OrderLineRow.order_id.in_(ids)).order_by(OrderLineRow.position)
        for ln in self.session.scalars(q):
            lines[ln.order_id].append(_line(ln))
        events: dict[str, list[OrderEvent]] = {i: [] for i in ids}
        if with_events:
            eq = select(OrderEventRow).where(OrderEventRow.order_id.in_(ids)).order_by(OrderEventRow.id)
            for e in self.session.scalars(eq):
                events[e.order_id].append(_event(e))
        return [Order(id=r.id, organisation_id=r.organisation_id, user_id=r.user_id, status=OrderStatus(r.status),
                      destination=r.destination, consent_design_sharing=r.consent_design_sharing,
                      created_at=_utc(r.created_at), lines=tuple(lines[r.id]), events=tuple(events[r.id]))
                for r in rows]

    def get(self, order_id: str, organisation_id: int | None = None) -> Order | None:
        """The order if it belongs to `organisation_id` (None: any, for operators and workers)."""
        row = self.session.get(OrderRow, order_id)
        if row is None or (organisation_id is not None and row.organisation_id != organisation_id):
            return None
        return self._orders([row])[0]

    def for_site(self, site_id: str, order_id: str) -> Order | None:
        """The order if at least one of its lines is allocated to `site_id`."""
        order = self.get(order_id)
        return order if order is not None and order.lines_at(site_id) else None

    def find(self, *, organisation_id: int | None = None, site_id: str | None = None,
             statuses: Iterable[OrderStatus] = (), part_id: str | None = None, limit: int = 200,
             with_events: bool = True) -> list[Order]:
        """Orders filtered by organisation, by a line's site / status / part; newest first.

        With `site_id` or `statuses`, an order is found when one of its lines matches both."""
        q = select(OrderRow)
        if organisation_id is not None:
            q = q.where(OrderRow.organisation_id == organisation_id)
        wanted = [s.value for s in statuses]
        if site_id is not None or wanted or part_id is not None:
            sub = select(OrderLineRow.order_id)
            if site_id is not None:
                sub = sub.where(OrderLineRow.site_id == site_id)
            if wanted:
                sub = sub.where(OrderLineRow.status.in_(wanted))
            if part_id is not None:
                sub = sub.where(OrderLineRow.part_id == part_id)
            q = q.where(OrderRow.id.in_(sub))
        q = q.order_by(OrderRow.created_at.desc(), OrderRow.id).limit(limit)
        return self._orders(self.session.scalars(q), with_events)

    def lines(self, *, site_id: str | None = None, statuses: Iterable[OrderStatus] = (),
              exclude_orders: Iterable[str] = (), limit: int = 100_000) -> list[OrderLine]:
        """Order lines (of every organisation) by site and status, oldest first."""
        q = select(OrderLineRow)
        if site_id is not None:
            q = q.where(OrderLineRow.site_id == site_id)
        wanted = [s.value for s in statuses]
        if wanted:
            q = q.where(OrderLineRow.status.in_(wanted))
        skip = list(exclude_orders)
        if skip:
            q = q.where(OrderLineRow.order_id.not_in(skip))
        q = q.order_by(OrderLineRow.order_id, OrderLineRow.position).limit(limit)
        return [_line(r) for r in self.session.scalars(q)]

    def count_by_status(self) -> dict[OrderStatus, int]:
        """Orders per (order) status."""
        q = select(OrderRow.status, func.count()).group_by(OrderRow.status)
        return {OrderStatus(s): int(n) for s, n in self.session.execute(q)}

    def quote_ordered(self, quote_id: str) -> bool:
        """True when a line of some order already holds `quote_id`."""
        q = select(func.count()).select_from(OrderLineRow).where(OrderLineRow.quote_id == quote_id)
        return bool(self.session.scalar(q))

    def idempotency_key(self, organisation_id: int, key: str) -> tuple[str, str] | None:
        """(request hash, order id) of the organisation's `Idempotency-Key`, or None when it is new."""
        row = self.session.get(IdempotencyKeyRow, (organisation_id, key))
        return None if row is None else (row.request_hash, row.order_id)

    # ------------------------------------------------------------------ writes

    def remember_key(self, organisation_id: int, key: str, request_hash: str, order_id: str) -> None:
        """Record the `Idempotency-Key` of a new order in its transaction (flushed). A key taken meanwhile by a
        concurrent request is a 409 (`order.duplicate`)."""
        self.session.add(IdempotencyKeyRow(organisation_id=organisation_id, key=key, request_hash=request_hash,
                                           order_id=order_id, created_at=datetime.now(UTC)))
        try:
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            raise InputError("another request with this Idempotency-Key placed an order meanwhile",
                             code="order.duplicate", status=409) from None

    def add(self, order: Order) -> None:
        """Insert a new order with its lines (flushed, not committed). A quote already ordered is a 409."""
        self.session.add(OrderRow(id=order.id, organisation_id=order.organisation_id, user_id=order.user_id,
                                  destination=order.destination, status=order_status(order.lines).value,
                                  consent_design_sharing=order.consent_design_sharing, created_at=order.created_at))
        self.session.flush()  # the header before its lines (no ORM relationship orders the inserts)
        for ln in order.lines:
            self.session.add(OrderLineRow(
                id=ln.id, order_id=order.id, position=ln.position, quote_id=ln.quote_id, part_id=ln.part_id,
                site_id=ln.site_id, offer_site_id=ln.offer_site_id, process=ln.process.value, material=ln.material,
                finish=ln.finish, quantity=ln.quantity, tier=ln.tier, unit_price_cny=ln.unit_price_cny,
                total_price_cny=ln.total_price_cny, lead_time_days=ln.lead_time_days,
                delivery_date=ln.delivery_date.isoformat(), machine_h=ln.machine_h, status=ln.status.value,
                inspection=ln.inspection.model_dump(mode="json") if ln.inspection else None,
                certifications=list(ln.certifications) or None))
        try:
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            raise InputError("a quote of this order was ordered already", hint="GET /api/v1/orders lists your "
                             "orders; ask for a new quote to order the part again", code="order.duplicate",
                             status=409) from None

    def add_line(self, ln: OrderLine) -> None:
        """Add a line to an existing order (a claim's remake); the order's status follows its least advanced
        line."""
        self.session.add(OrderLineRow(
            id=ln.id, order_id=ln.order_id, position=ln.position, quote_id=ln.quote_id, part_id=ln.part_id,
            site_id=ln.site_id, offer_site_id=ln.offer_site_id, process=ln.process.value, material=ln.material,
            finish=ln.finish, quantity=ln.quantity, tier=ln.tier, unit_price_cny=ln.unit_price_cny,
            total_price_cny=ln.total_price_cny, lead_time_days=ln.lead_time_days,
            delivery_date=ln.delivery_date.isoformat(), machine_h=ln.machine_h, status=ln.status.value,
            certifications=list(ln.certifications) or None))
        self.session.flush()
        order = self.session.get_one(OrderRow, ln.order_id)
        statuses = self.session.scalars(select(OrderLineRow.status).where(OrderLineRow.order_id == ln.order_id))
        order.status = min((OrderStatus(s) for s in statuses), key=lambda s: s.rank).value
        self.session.flush()

    def update_line(self, line_id: str, *, status: OrderStatus | None = None, site_id: str | None = None,
                    inspection: Inspection | None = None,
                    feature_plan: tuple[FeatureSpec, ...] | None = None) -> OrderLine:
        """Change a line's status, site (a reroute also moves the offer's site), inspection or inspection plan; the
        order's status follows its least advanced line."""
        row = self.session.get_one(OrderLineRow, line_id)
        if feature_plan is not None:
            row.feature_plan = [f.model_dump(mode="json") for f in feature_plan] or None
        if status is not None:
            row.status = status.value
        if site_id is not None:
            row.site_id = row.offer_site_id = site_id
        if inspection is not None:
            row.inspection = inspection.model_dump(mode="json")
        self.session.flush()
        statuses = self.session.scalars(select(OrderLineRow.status).where(OrderLineRow.order_id == row.order_id))
        order = self.session.get_one(OrderRow, row.order_id)
        order.status = min((OrderStatus(s) for s in statuses), key=lambda s: s.rank).value
        return _line(row)

    def event(self, order_id: str, status: OrderStatus, note: str = "", actor_user_id: int | None = None,
              line: OrderLine | None = None, site_id: str | None = None, at: datetime | None = None,
              note_key: str | None = None, note_args: Mapping[str, Any] | None = None) -> OrderEvent:
        """Append a timeline event of the order (of `line` when given); `note_key` and `note_args` say which text of
        the timeline's catalog `note` is, with its values (services.timeline)."""
        ev = OrderEventRow(order_id=order_id, line_id=line.id if line else None, status=status.value,
                           site_id=site_id if site_id is not None else (line.site_id if line else None),
                           note=note[:500], actor_user_id=actor_user_id, note_key=note_key,
                           note_args=dict(note_args) if note_key and note_args else None)
        if at is not None:
            ev.at = at
        self.session.add(ev)
        self.session.flush()
        return _event(ev)

    def events(self, order_id: str) -> list[OrderEvent]:
        """The order's timeline, oldest first."""
        q = select(OrderEventRow).where(OrderEventRow.order_id == order_id).order_by(OrderEventRow.id)
        return [_event(e) for e in self.session.scalars(q)]

    def delivered_at(self, line_id: str) -> datetime | None:
        """When the line was delivered, or None."""
        q = select(OrderEventRow.at).where(OrderEventRow.line_id == line_id,
                                           OrderEventRow.status == OrderStatus.DELIVERED.value)
        at = self.session.scalar(q.order_by(OrderEventRow.id).limit(1))
        return _utc(at) if at is not None else None
