"""Use cases of checkout: the shipping address and contact, the purchase-order number and the company's tax
details for the fapiao are checked (the unified social credit code by GB 32100), a review of the lines at their
quoted prices with VAT shown separately, the order placed with its details in one transaction, the
design-sharing consent (a required choice at checkout, or given later from the order page: the factories then
see it), cancellation before production starts (the policy after it), and reorder of a delivered line at a fresh
quote.

Depends on services.orders, services.quotes_store, services.factories (the credit-code rule), the store through
the unit of work (`uow.orders`, `uow.checkout`); never on api, web or cli.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import ValidationError

from fabgrid.config import Settings
from fabgrid.domain.checkout import Checkout, Contact, InvoiceKind, ShippingAddress, TaxDetails
from fabgrid.domain.order import Order, OrderLine, OrderStatus
from fabgrid.domain.quote import QuoteRequest
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import jobs, orders, quotes_store, timeline
from fabgrid.services._util import now
from fabgrid.services.accounts import Principal
from fabgrid.services.factories import credit_code_rule
from fabgrid.services.quotes_store import StoredQuote
from fabgrid.store.uow import UnitOfWork

_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,28}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$")
_POSTAL_CN = re.compile(r"^[0-9]{6}$")
_ACCOUNT = re.compile(r"^[0-9 \-]{8,40}$")
#: Line statuses a buyer may still cancel: production has not started.
CANCELLABLE = frozenset({OrderStatus.PLACED, OrderStatus.ALLOCATED})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class CheckoutForm:
    """The buyer's checkout, checked: where it ships, who to call, PO number, tax details (None: no company
    fapiao) and the consent choice (True: consent now; False: later from the order page)."""

    shipping: ShippingAddress
    contact: Contact
    po_number: str = ""
    tax: TaxDetails | None = None
    consent: bool = False


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _need(raw: Mapping[str, Any], key: str, label: str) -> str:
    value = _text(raw, key)
    if not value:
        raise InputError(f"{label} is missing", hint=f"fill in {key}", code=f"checkout.{key}")
    return value


def _phone(value: str, key: str) -> str:
    if not _PHONE.fullmatch(value):
        raise InputError(f"{key} {value!r} is not a telephone number", hint="digits, spaces, '-', '(', ')' and a "
                         "leading '+', e.g. 0731-88886666 or +86 138 0000 0000", code=f"checkout.{key}")
    return value


def check_credit_code(code: str) -> str:
    """A unified social credit code normalised (spaces and hyphens dropped, upper case) and checked by GB 32100
    (InputError naming the wrong character)."""
    from fabgrid.domain.factory import normalise_code

    norm = normalise_code(code)
    problem = credit_code_rule().problem(norm)
    if problem is not None:
        hint = f"the check character should be {problem.expected!r}" if problem.expected else \
            "copy the 18 characters from the business licence (营业执照)"
        raise InputError(f"tax_credit_code: {problem.message}", hint=hint, code="checkout.tax_credit_code")
    return norm


def parse(raw: Mapping[str, Any]) -> CheckoutForm:
    """The checkout from flat fields (the page's form, the API's body flattened): shipping_*, contact_*,
    po_number, tax_* and invoice_kind, consent ("yes" / "later", or a bool). Every problem is an InputError
    naming its field; the consent must be chosen."""
    shipping = ShippingAddress(
        recipient=_need(raw, "shipping_recipient", "the recipient's name"),
        phone=_phone(_need(raw, "shipping_phone", "the recipient's telephone"), "shipping_phone"),
        province=_text(raw, "shipping_province")[:40], city=_need(raw, "shipping_city", "the city")[:80],
        district=_text(raw, "shipping_district")[:80], street=_need(raw, "shipping_street", "the street address")[:200],
        postal_code=_text(raw, "shipping_postal_code"))
    if shipping.postal_code and not _POSTAL_CN.fullmatch(shipping.postal_code):
        raise InputError(f"shipping_postal_code {shipping.postal_code!r} is not a postal code", hint="six digits, "
                         "e.g. 410000", code="checkout.shipping_postal_code")
    email = _text(raw, "contact_email")
    if email and not _EMAIL.fullmatch(email):
        raise InputError(f"contact_email {email!r} is not an e-mail address", code="checkout.contact_email")
    contact = Contact(name=_text(raw, "contact_name") or shipping.recipient,
                      phone=_phone(_text(raw, "contact_phone") or shipping.phone, "contact_phone"), email=email)
    po = _text(raw, "po_number")
    if len(po) > 60:
        raise InputError("po_number is longer than 60 characters", code="checkout.po_number")
    tax = _tax(raw)
    consent = raw.get("consent")
    if isinstance(consent, str):
        if consent not in ("yes", "later"):
            raise InputError("choose whether the factories may download the design now or later",
                             hint="consent=yes (now) or consent=later (from the order page)", code="checkout.consent")
        consent = consent == "yes"
    elif consent is None:
        raise InputError("choose whether the factories may download the design now or later",
                         hint="consent=yes (now) or consent=later (from the order page)", code="checkout.consent")
    return CheckoutForm(shipping=shipping, contact=contact, po_number=po, tax=tax, consent=bool(consent))


def _tax(raw: Mapping[str, Any]) -> TaxDetails | None:
    kind_text = _text(raw, "invoice_kind") or InvoiceKind.NORMAL.value
    try:
        kind = InvoiceKind(kind_text)
    except ValueError:
        raise InputError(f"invoice_kind {kind_text!r} is not known", hint="vat_special or vat_normal",
                         code="checkout.invoice_kind") from None
    name, code = _text(raw, "tax_company_name"), _text(raw, "tax_credit_code")
    if not name and not code and kind is InvoiceKind.NORMAL:
        return None  # no company fapiao asked for
    name = _need(raw, "tax_company_name", "the company name on the fapiao")
    code = check_credit_code(_need(raw, "tax_credit_code", "the unified social credit code"))
    fields = {k: _text(raw, f"tax_{k}") for k in ("address", "phone", "bank_name", "bank_account")}
    if kind is InvoiceKind.SPECIAL:
        for k, label in (("address", "the registered address"), ("phone", "the company telephone"),
                         ("bank_name", "the bank"), ("bank_account", "the bank account")):
            if not fields[k]:
                raise InputError(f"a VAT special invoice needs {label}", hint=f"fill in tax_{k}, or ask for a normal "
                                 "VAT invoice (invoice_kind=vat_normal)", code=f"checkout.tax_{k}")
    if fields["phone"]:
        _phone(fields["phone"], "tax_phone")
    if fields["bank_account"] and not _ACCOUNT.fullmatch(fields["bank_account"]):
        raise InputError("tax_bank_account is not a bank account number", hint="8 to 40 digits",
                         code="checkout.tax_bank_account")
    try:
        return TaxDetails(company_name=name, credit_code=code, kind=kind, **fields)
    except ValidationError as exc:
        raise InputError(f"tax details: {exc.errors()[0]['msg']}", code="checkout.tax") from None


# ---------------------------------------------------------------- review


@dataclass(frozen=True)
class ReviewLine:
    """One line as it will be ordered: its quote, the chosen site and tier, price and delivery date."""

    quote: StoredQuote
    site: str | None
    tier: str
    unit_price_cny: Decimal
    total_cny: Decimal
    delivery_date: date | None


@dataclass(frozen=True)
class Review:
    """The review page: the lines, the checkout details, net total, VAT at its rate and the total with VAT
    (each rounded to the cent, adding up)."""

    lines: list[ReviewLine]
    form: CheckoutForm
    net_cny: Decimal
    vat_pct: Decimal | None
    vat_cny: Decimal | None
    gross_cny: Decimal | None


def money(value: float | Decimal) -> Decimal:
    """An amount in CNY to the cent (half up), from its decimal text (35.15 stays 35.15)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def review(settings: Settings, who: Principal, lines: Sequence[orders.LineRequest], form: CheckoutForm) -> Review:
    """What placing `lines` with `form` would order, at the quoted prices (nothing is written). The line total is
    quantity x the unit price to the cent (20 x 35.15 = 703.00), VAT on the net sum at the quotes' rate."""
    if not lines:
        raise InputError("nothing to order", hint="add offers to the cart from a quote page", code="cart.empty")
    out: list[ReviewLine] = []
    rates: set[float] = set()
    for ln in lines:
        q = quotes_store.get_quote(settings, who, ln.quote_id)
        offer = next((o for o in q.quote.offers if o.site == ln.site), None) if ln.site else \
            min(q.quote.offers, key=lambda o: o.total_price_cny, default=None)
        if offer is None:
            raise InputError(f"quote {ln.quote_id} has no offer of site {ln.site}", code="order.offer", status=422)
        tier = ln.tier or "standard"
        chosen = next((t for t in offer.tiers if t.tier == tier), None)
        unit = money(chosen.unit_price_cny if chosen else offer.unit_price_cny)
        out.append(ReviewLine(quote=q, site=ln.site, tier=tier, unit_price_cny=unit,
                              total_cny=(unit * offer.quantity).quantize(CENT),
                              delivery_date=chosen.delivery_date if chosen else offer.delivery_date))
        if q.quote.vat_pct is not None:
            rates.add(float(q.quote.vat_pct))
    net = sum((r.total_cny for r in out), Decimal("0.00"))
    if len(rates) == 1:
        pct = Decimal(str(rates.pop()))
        vat = (net * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        return Review(lines=out, form=form, net_cny=net, vat_pct=pct, vat_cny=vat, gross_cny=net + vat)
    return Review(lines=out, form=form, net_cny=net, vat_pct=None, vat_cny=None, gross_cny=None)


# ---------------------------------------------------------------- placing, consent, cancellation, reorder


def place(settings: Settings, who: Principal, lines: Sequence[orders.LineRequest], form: CheckoutForm,
          idempotency_key: str | None = None) -> Order:
    """Order `lines` with the checkout details, in the order's own transaction (`orders.place_order`)."""
    consent_at = now() if form.consent else None

    def record(uow: UnitOfWork, order: Order) -> None:
        uow.checkout.add(Checkout(order_id=order.id, shipping=form.shipping, contact=form.contact,
                                  po_number=form.po_number, tax=form.tax, consent_at=consent_at), who.user_id)

    if idempotency_key is None:
        return orders.place_order(settings, who, lines, form.consent, on_placed=record)
    return orders.place_order_once(settings, who, idempotency_key, lines, form.consent, on_placed=record).order


def checkout_of(settings: Settings, who: Principal, order_id: str) -> Checkout | None:
    """The checkout details of an order the caller may see (None: ordered without checkout)."""
    orders.get_order(settings, who, order_id)  # 404 unless the caller may see the order
    with UnitOfWork(settings.database_url) as uow:
        return uow.checkout.get(order_id)


def _own(uow: UnitOfWork, who: Principal, order_id: str) -> Order:
    order = uow.orders.get(order_id, who.organisation_id)
    if order is None:
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    return order


def give_consent(settings: Settings, who: Principal, order_id: str) -> Order:
    """The buyer consents to design sharing after ordering: the factories holding its lines may download the
    designs from now on (their work list shows the link); recorded on the timeline. Idempotent."""
    with UnitOfWork(settings.database_url) as uow:
        order = _own(uow, who, order_id)
        if uow.checkout.give_consent(order.id, now(), who.user_id):
            timeline.event(uow, order.id, order.status, timeline.note("consented"), who.user_id)
        uow.commit()
        got = uow.orders.get(order_id)
    assert got is not None
    return got


def cancellable(line: OrderLine) -> bool:
    """Whether the buyer may cancel the line: production has not started (placed or allocated)."""
    return line.status in CANCELLABLE


def cancel(settings: Settings, who: Principal, order_id: str, line_ids: Sequence[str] = (), reason: str = "") -> Order:
    """Cancel the order's lines (all when `line_ids` is empty) while production has not started. A line in
    production or beyond is a 409 naming the policy: it is made and charged as ordered, or cancelled by
    agreement with the factory for the work already done."""
    with UnitOfWork(settings.database_url) as uow:
        order = _own(uow, who, order_id)
        chosen = [ln for ln in order.lines if not line_ids or ln.id in line_ids]
        unknown = set(line_ids) - {ln.id for ln in order.lines}
        if unknown:
            raise NotFoundError(f"order {order_id} has no line {sorted(unknown)[0]}", code="order.line")
        live = [ln for ln in chosen if ln.status is not OrderStatus.CANCELLED]
        late = [ln for ln in live if not cancellable(ln)]
        if late:
            raise InputError(f"line {late[0].position} is {late[0].status.value}: production has started, so it "
                             "can no longer be cancelled online", hint="after production starts a line is made and "
                             "invoiced as ordered; ask the factory through the order's messages to stop it against "
                             "the work already done", code="order.cancel_too_late", status=409)
        if not live:
            raise InputError(f"order {order_id} has nothing left to cancel", code="order.cancelled", status=409)
        note = "cancelled by the buyer before production" + (f": {reason[:200]}" if reason else "")
        job_ids: list[str] = []
        for ln in live:
            job_ids += orders.set_line_status(uow, order, ln, OrderStatus.CANCELLED, who, note)
        uow.commit()
        got = uow.orders.get(order_id)
    for j in job_ids:
        jobs.submit(settings, j)
    assert got is not None
    return got


def reorder(settings: Settings, who: Principal, order_id: str, line_id: str) -> StoredQuote:
    """A fresh quote for a delivered line: the same part, material, process, finish, quantity and destination,
    priced now (the old price is not kept). The buyer orders it from the quote as usual."""
    order = orders.get_order(settings, who, order_id)
    if order.organisation_id != who.organisation_id:
        raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
    line = order.line(line_id)
    if line is None:
        raise NotFoundError(f"order {order_id} has no line {line_id}", code="order.line")
    if line.status is not OrderStatus.DELIVERED:
        raise InputError(f"line {line.position} is {line.status.value}; only a delivered line is reordered",
                         code="order.reorder", status=409)
    old = quotes_store.get_quote(settings, who, line.quote_id)
    req = QuoteRequest(part_id=line.part_id, material=line.material, quantity=line.quantity, process=line.process,
                       finish=line.finish, destination=order.destination,
                       certifications=tuple(old.request.get("certifications") or ()))
    quote, _ = quotes_store.create_quote(settings, who, req)
    return quote
