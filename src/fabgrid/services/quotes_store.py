"""Use cases of stored quotes: price an analysed part over the network and keep the offers with their
validity; the same input (part bytes, material, quantity, process, finish, need-by, destination) within
the validity gives the same stored quote back. Reads are scoped to the caller's organisation.

The offers come from the costing engine through `fabgrid.services.quotes`; this module adds storage,
the queue of open orders per site, rate limiting and scoping. Depends on the store, designs, ratelimit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.quote import Quote, QuoteRequest, StoredQuote, input_hash
from fabgrid.domain.records import StoredPart
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, factories, network, promises, ratelimit
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.network import NetworkData
from fabgrid.store.uow import UnitOfWork

#: Prepared parts kept per process for repeated quotes (decrypt + load + prepare once per part; an inline
#: analysis hands its loaded part in, so the first quote of a fresh upload loads nothing).
PREPARED_CACHE_SIZE = 16

__all__ = ["QuoteRequest", "StoredQuote", "create_quote", "get_quote", "input_hash", "keep_prepared", "list_quotes"]


class _Prepared:
    """A small LRU of prepared parts (whatever the costing engine prepares from the mesh), single-flight:
    concurrent first quotes of one part wait for one preparation instead of each doing it."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}

    def put(self, key: str, value: Any) -> None:
        """Keep `value` under `key` (the most recently used)."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > PREPARED_CACHE_SIZE:
                self._items.popitem(last=False)

    def get_or_make(self, key: str, make: Any) -> Any:
        """The cached value for `key`, else `make()` (called by one thread per key at a time)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._making.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = make()
            with self._lock:
                self._items[key] = value
                self._making.pop(key, None)
                while len(self._items) > PREPARED_CACHE_SIZE:
                    self._items.popitem(last=False)
            return value


_prepared = _Prepared()


def _cache_key(part_id: str, sha256: str, units: str | None = None) -> str:
    # the unit is part of the key: a part read in another unit (PATCH /parts/{id}) is another loaded part, also
    # for a server process that did not analyse it again
    return f"{part_id}:{sha256}:{units or ''}"


def cached_part(part_id: str, sha256: str, units: str | None = None) -> Any:
    """The loaded `domain.Part` of a stored part read in `units` when it is in the quote cache (None otherwise)."""
    with _prepared._lock:
        hit = _prepared._items.get(_cache_key(part_id, sha256, units))
    return getattr(hit, "part", None)


def prepared_part(part: StoredPart, make: Any) -> Any:
    """The stored part prepared for quoting: from the cache, or made by `make()` and kept."""
    return _prepared.get_or_make(_cache_key(part.id, part.sha256, part.units), make)


def keep_prepared(part_id: str, sha256: str, prepared: Any, units: str | None = None) -> None:
    """Keep a part prepared for quoting (`services.quotes.PreparedPart`, e.g. the part an inline analysis
    just loaded, read in `units`) so that its first quote neither decrypts nor parses the design again."""
    _prepared.put(_cache_key(part_id, sha256, units), prepared)


def _check(req: QuoteRequest) -> str:
    """The stored part the request names; InputError for a request the store cannot quote."""
    if not req.part_id:
        raise InputError("part_id is required", hint="upload the part first: POST /api/v1/parts",
                         code="quote.part_id")
    if not 1 <= req.quantity <= 100_000:
        raise InputError(f"quantity must be 1 to 100000, not {req.quantity}", code="quote.quantity")
    if not req.material.strip():
        raise InputError("material is required", hint="GET /api/v1/catalog/materials lists them",
                         code="quote.material")
    if req.need_by is not None and req.need_by < now().date():
        raise InputError(f"need_by {req.need_by} is in the past", hint="give a future date",
                         code="quote.need_by")
    return req.part_id


def _queued_hours(uow: UnitOfWork) -> dict[tuple[str, Any], float]:
    """Machine hours of the open order lines per (site, process): the quote engine's queue ahead of a new job."""
    return dict(network.open_machine_hours(uow))


def _compute(settings: Settings, part: StoredPart, req: QuoteRequest, queued_h: dict[tuple[str, Any], float],
             data: NetworkData,
             extras: promises.OpenQueue | None = None, closed: dict[str, str] | None = None) -> Quote:
    """Price the part with the costing engine (`services.quotes`)."""
    from fabgrid.services import quotes as engine

    prepared = _prepared.get_or_make(_cache_key(part.id, part.sha256, part.units), lambda: engine.prepare_part(
        designs.read_design(settings, part), part.filename, units=part.units,
        report=engine.stored_report(part.report)))
    q = extras or promises.OpenQueue({}, {}, {}, {})
    return engine.quote_request(prepared, req, queued_h=queued_h, priority_h=q.priority_h, station_h=q.station_h,
                                queue_due=q.due, occupancy_h=q.occupancy_h,
                                network=data.network, rates=data.rates,
                                logistics=data.logistics, route=data.routing, closed=closed)


def create_quote(settings: Settings, who: Principal, req: QuoteRequest) -> tuple[StoredQuote, bool]:
    """Quote a part of the caller's organisation; returns (quote, created). Rate limited ("quote").

    An equal request whose stored quote is still valid, and not ordered yet, returns that quote (created=False).
    """
    part_id = _check(req)
    ratelimit.take(settings, who, "quote")
    with UnitOfWork(settings.database_url) as uow:
        part = designs.owner_part(uow, who, part_id)
        if part.status != "ready":
            raise InputError(f"part {part.id} is {part.status}, not analysed: it cannot be quoted yet",
                             hint="poll GET /api/v1/parts/{id} until its status is ready"
                             if part.status in ("queued", "running") else "upload a corrected file",
                             code="quote.part_not_ready", status=409)
        from fabgrid.services.quotes import content_key, data_fingerprint

        data = network.current(uow)
        digest = input_hash(req, content_key(part.sha256, part.units), data_fingerprint(data.network, data.rates))
        existing = uow.quotes.by_hash(who.organisation_id, digest, now())
        if existing is not None and not uow.orders.quote_ordered(existing.id):
            return existing, False  # an ordered quote cannot be ordered again: the same part again is a new quote
        queued = _queued_hours(uow)
        extras = promises.open_queue(uow)
        # a factory on probation at its cap of open lines is not offered (ordering it would be refused)
        closed = factories.probation_full(uow, data.network.sites)
    quote = _compute(settings, part, req, queued, data, extras, closed)
    with UnitOfWork(settings.database_url) as uow:
        stored = uow.quotes.add(new_id("quo"), organisation_id=who.organisation_id, user_id=who.user_id,
                                part_id=part.id, input_hash=digest,
                                request=req.canonical(part.sha256) | {"part_id": part.id}, quote=quote)
        uow.commit()
        return stored, True


def get_quote(settings: Settings, who: Principal, quote_id: str) -> StoredQuote:
    """One quote of the caller's organisation (another organisation's quote is 'not found')."""
    with UnitOfWork(settings.database_url) as uow:
        found = uow.quotes.get(quote_id, who.organisation_id)
        if found is None:
            raise NotFoundError(f"quote {quote_id!r} not found", code="quote.not_found")
        return found


def list_quotes(settings: Settings, who: Principal, limit: int = 100) -> list[StoredQuote]:
    """The caller's organisation's quotes, newest first."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.quotes.find(who.organisation_id, limit)
