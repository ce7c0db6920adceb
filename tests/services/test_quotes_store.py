"""The stored-quote key and the per-process cache of prepared parts."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest

from fabgrid.config import Settings
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.errors import InputError
from fabgrid.services import accounts, quotes_store
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


def test_upload_and_first_quote_parse_the_design_once(settings: Settings, buyer: accounts.Principal,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An inline analysis hands its loaded part to the quote cache: the first quote neither decrypts nor
    parses the design again, and its stored quote is keyed by the engine's own input hash."""
    import trimesh

    from fabgrid.geometry import load
    from fabgrid.services import analysis, designs, parts

    _seed_network(settings)
    parses: list[str] = []
    reads: list[str] = []
    real_load, real_read = load.load_bytes, designs.read_design
    counted = lambda *a, **k: parses.append(a[1]) or real_load(*a, **k)  # noqa: E731
    monkeypatch.setattr(load, "load_bytes", counted)
    monkeypatch.setattr(analysis, "load_bytes", counted)  # imported by name there
    monkeypatch.setattr(designs, "read_design", lambda *a, **k: reads.append("read") or real_read(*a, **k))
    data = trimesh.creation.box((20.0, 20.0, 10.0)).export(file_type="stl")
    part, job = parts.upload_bytes(settings, buyer, "bracket.stl", data)
    assert job is None and part.status == "ready"
    doc, created = quotes_store.create_quote(settings, buyer, QuoteRequest(part_id=part.id, material="fdm_pla",
                                                                           quantity=2, destination="Changsha"))
    assert created and doc.offers and not doc.expired
    # the upload parsed it once, in its analysis child (services.analysis.analyze_isolated); the quote, in
    # this process, neither parses nor decrypts it again
    assert parses == [] and reads == []
    assert doc.request["destination"] == "Changsha" and doc.request["part_sha256"] == part.sha256
    again, created = quotes_store.create_quote(settings, buyer, QuoteRequest(part_id=part.id, material="fdm_pla",
                                                                             quantity=2, destination="Changsha"))
    assert not created and again.id == doc.id and again.input_hash == doc.input_hash
    assert again.quote == doc.quote  # the stored JSON re-validates to the same record


def _seed_network(settings: Settings) -> None:
    """Load the shipped network into the test database where quoting reads it from there."""
    import importlib.util

    if importlib.util.find_spec("fabgrid.services.network") is None:
        return
    from fabgrid.services import network
    from fabgrid.store.uow import UnitOfWork

    with UnitOfWork(settings.database_url) as uow:
        network.seed(uow)
        uow.commit()


def test_quote_request_takes_the_process_by_id() -> None:
    assert QuoteRequest(material="pla", process="sls").family is ProcessFamily.SLS
    assert QuoteRequest(material="pla", process="").family is None
    with pytest.raises(InputError) as err:
        QuoteRequest(material="pla", process="laser-cutting")
    assert err.value.code == "quote.process"
