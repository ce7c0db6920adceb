"""The checkout details of orders (`order_checkout`) and the design-sharing consent given after ordering.

Returns `domain.checkout` records; the only SQL of checkout. Used by services.checkout through the unit of
work (`uow.checkout`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from fabgrid.domain.checkout import Checkout, Contact, ShippingAddress, TaxDetails
from fabgrid.store.tables import OrderCheckoutRow, OrderRow


def _utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else (dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def _record(row: OrderCheckoutRow) -> Checkout:
    return Checkout(order_id=row.order_id, shipping=ShippingAddress.model_validate(row.shipping),
                    contact=Contact.model_validate(row.contact), po_number=row.po_number or "",
                    tax=TaxDetails.model_validate(row.tax) if row.tax else None, consent_at=_utc(row.consent_at),
                    created_at=_utc(row.created_at))


class CheckoutRepository:
    """Checkout details per order."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, c: Checkout, consent_user_id: int | None = None) -> None:
        """Record the checkout of a new order (flushed, not committed)."""
        self.session.add(OrderCheckoutRow(
            order_id=c.order_id, shipping=c.shipping.model_dump(mode="json"), contact=c.contact.model_dump(mode="json"),
            po_number=c.po_number, tax=c.tax.model_dump(mode="json") if c.tax else None, consent_at=c.consent_at,
            consent_user_id=consent_user_id if c.consent_at else None))
        self.session.flush()

    def get(self, order_id: str) -> Checkout | None:
        """The checkout of an order (None for an order placed without checkout)."""
        row = self.session.get(OrderCheckoutRow, order_id)
        return _record(row) if row is not None else None

    def give_consent(self, order_id: str, at: datetime, user_id: int) -> bool:
        """Set the order's design-sharing consent; False when it was given already. Records when and by whom
        on its checkout, if it has one."""
        order = self.session.get_one(OrderRow, order_id)
        if order.consent_design_sharing:
            return False
        order.consent_design_sharing = True
        row = self.session.get(OrderCheckoutRow, order_id)
        if row is not None:
            row.consent_at, row.consent_user_id = at, user_id
        self.session.flush()
        return True
