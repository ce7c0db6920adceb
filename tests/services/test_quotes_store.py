"""The stored-quote key and the per-process cache of prepared parts."""

from __future__ import annotations

import threading
import time
from datetime import date

from fabgrid.services import quotes_store
from fabgrid.services.quotes_store import QuoteRequest, input_hash


def test_input_hash_depends_on_every_input() -> None:
    base = QuoteRequest(part_id="prt_1", material="fdm_pla", quantity=5, need_by=date(2030, 1, 2),
                        destination="Changsha")
    h = input_hash(base, "a" * 64)
    assert h == input_hash(QuoteRequest(**base.__dict__), "a" * 64)
    assert input_hash(QuoteRequest(**base.__dict__ | {"part_id": "prt_2"}), "a" * 64) == h  # by content, not id
    for change in ({"material": "fdm_petg"}, {"quantity": 6}, {"process": "fdm"}, {"finish": "sanded"},
                   {"need_by": date(2030, 1, 3)}, {"destination": "Wuhan"}):
        assert input_hash(QuoteRequest(**base.__dict__ | change), "a" * 64) != h, change
    assert input_hash(base, "b" * 64) != h


def test_prepared_parts_are_made_once_under_concurrency() -> None:
    cache = quotes_store._Prepared()
    made: list[int] = []

    def make() -> str:
        made.append(1)
        time.sleep(0.2)
        return "prepared"

    out: list[str] = []
    threads = [threading.Thread(target=lambda: out.append(cache.get_or_make("p", make))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == ["prepared"] * 6 and len(made) == 1
    for i in range(quotes_store.PREPARED_CACHE_SIZE + 2):
        cache.get_or_make(f"k{i}", lambda: "x")
    assert len(cache._items) == quotes_store.PREPARED_CACHE_SIZE
