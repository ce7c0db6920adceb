"""Use case of a part list (issue 17, item 5): several parts of the organisation quoted at once, each with its
own quantity, in one material, process, finish, need-by date and destination; each part gets its own stored
quote (its own line when ordered), and a part that cannot be quoted gets its problem beside the others' quotes.

Depends on services.quotes_store only; never on api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from fabgrid.config import Settings
from fabgrid.domain.quote import Offer
from fabgrid.errors import InputError
from fabgrid.services import quotes_store
from fabgrid.services.accounts import Principal
from fabgrid.services.quotes_store import QuoteRequest, StoredQuote

#: Parts one list may quote (the cart holds as many).
MAX_LIST_PARTS = 20


@dataclass(frozen=True)
class ListItem:
    """One part of the list and its quantity."""

    part_id: str
    quantity: int


@dataclass(frozen=True)
class ListResult:
    """A part's quote (and its cheapest offer, None when nothing offers), or the problem that kept it unquoted."""

    part_id: str
    quantity: int
    quote: StoredQuote | None = None
    best: Offer | None = None
    problem: InputError | None = None


def check_items(items: Sequence[ListItem]) -> None:
    """The list's shape: 1 to MAX_LIST_PARTS parts, each once, quantities 1 to 100000 (InputError naming it)."""
    if not items:
        raise InputError("the part list is empty", hint="tick or name at least one part", code="partlist.empty")
    if len(items) > MAX_LIST_PARTS:
        raise InputError(f"a part list has at most {MAX_LIST_PARTS} parts, not {len(items)}",
                         hint="quote the rest in a second list", code="partlist.too_many")
    seen: set[str] = set()
    for i, it in enumerate(items):
        if it.part_id in seen:
            raise InputError(f"items[{i}]: part {it.part_id} is in the list twice", hint="give it one quantity",
                             code="partlist.duplicate")
        seen.add(it.part_id)
        if not 1 <= it.quantity <= 100_000:
            raise InputError(f"items[{i}]: quantity must be 1 to 100000, not {it.quantity}",
                             code="partlist.quantity")


def quote_list(settings: Settings, who: Principal, items: Sequence[ListItem], *, material: str,
               process: str | None = None, finish: str | None = None, need_by: date | None = None,
               destination: str | None = None) -> list[ListResult]:
    """Quote every part of the list with its quantity (in list order). A part that is not analysed, unknown or
    otherwise refused is a result with its problem; the rate limit's refusal stops the list (429)."""
    check_items(items)
    base = QuoteRequest(material=material, process=process, finish=finish, need_by=need_by, destination=destination)
    out: list[ListResult] = []
    for it in items:
        try:
            q, _ = quotes_store.create_quote(settings, who, replace(base, part_id=it.part_id, quantity=it.quantity))
        except InputError as exc:
            if exc.status == 429:
                raise
            out.append(ListResult(it.part_id, it.quantity, problem=exc))
            continue
        best = min(q.quote.offers, key=lambda o: (o.total_price_cny, o.delivery_date, o.site), default=None)
        out.append(ListResult(it.part_id, it.quantity, quote=q, best=best))
    return out
