"""Typed records of checkout: where an order ships (address and contact), the buyer's purchase-order number, the
company's tax details for the invoice (fapiao: name, unified social credit code, address and telephone, bank and
account) and the design-sharing consent given at checkout or later.

Pydantic v2, frozen; no I/O, no database, no web. The checks that need shipped data (GB 32100 check character)
are done by `services.checkout`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class InvoiceKind(StrEnum):
    """The kind of fapiao the buyer asks for: a VAT special invoice (增值税专用发票, input VAT deductible: needs the
    full tax details) or a normal VAT invoice (增值税普通发票: name and tax id)."""

    SPECIAL = "vat_special"
    NORMAL = "vat_normal"


class ShippingAddress(_Frozen):
    """Where the parts go and who receives them."""

    recipient: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=5, max_length=30)
    province: str = Field(default="", max_length=40)
    city: str = Field(min_length=1, max_length=80)
    district: str = Field(default="", max_length=80)
    street: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(default="", max_length=10)

    def one_line(self) -> str:
        """The address as one line (province, city, district, street, postal code)."""
        return " ".join(p for p in (self.province, self.city, self.district, self.street, self.postal_code) if p)


class Contact(_Frozen):
    """The buyer's contact for this order (questions about the order, delivery notices)."""

    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=5, max_length=30)
    email: str = Field(default="", max_length=254)


class TaxDetails(_Frozen):
    """The buyer company's details a fapiao carries (购买方: 名称, 纳税人识别号, 地址电话, 开户行及账号)."""

    company_name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=18, max_length=18, description="unified social credit code (GB 32100)")
    address: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=30)
    bank_name: str = Field(default="", max_length=100)
    bank_account: str = Field(default="", max_length=40)
    kind: InvoiceKind = InvoiceKind.NORMAL


class Checkout(_Frozen):
    """What the buyer gave at checkout for one order."""

    order_id: str
    shipping: ShippingAddress
    contact: Contact
    po_number: str = Field(default="", max_length=60)
    tax: TaxDetails | None = None
    consent_at: datetime | None = None
    created_at: datetime | None = None
