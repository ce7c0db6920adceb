"""The shipped network's cache (issue 15): the same records as the YAML, read back from the data directory, made
again when a data file or a module below the entry points changes, ignored when it is unreadable."""

from __future__ import annotations

import os
import pickle
import types
from pathlib import Path

import pytest

from fabgrid.config import load_settings
from fabgrid.costing.rates import load_rates
from fabgrid.data import load_network
from fabgrid.network.geo import load_logistics
from fabgrid.services import shipped
from fabgrid.services.quotes import routing


def _settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(env={"FABGRID_DATA_DIR": str(tmp_path)})


def _files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("shipped-network-*.pickle"))


def test_the_cache_holds_the_records_of_the_yaml_and_is_read_back(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shipped._cached.cache_clear()
    made = shipped.shipped_network(_settings(tmp_path))
    assert made.network == load_network() and made.rates == load_rates() and made.routing == routing()
    assert repr(made.logistics) == repr(load_logistics())
    [file] = _files(tmp_path)
    # another process: nothing cached in memory, and the YAML must not be read again
    shipped._cached.cache_clear()
    monkeypatch.setattr(shipped, "_load", lambda: pytest.fail("the cache was not read"))
    again = shipped.shipped_network(_settings(tmp_path))
    assert again is not made and (again.network, again.rates, again.routing) == (made.network, made.rates, made.routing)
    assert repr(again.logistics) == repr(made.logistics)
    assert again.network.model_dump(mode="json") == load_network().model_dump(mode="json")
    assert _files(tmp_path) == [file]


def test_an_unreadable_cache_is_made_again(tmp_path: Path) -> None:
    shipped._cached.cache_clear()
    shipped.shipped_network(_settings(tmp_path))
    [file] = _files(tmp_path)
    file.write_bytes(b"not a pickle")
    shipped._cached.cache_clear()
    assert shipped.shipped_network(_settings(tmp_path)).network == load_network()
    assert isinstance(pickle.loads(file.read_bytes()), shipped.ShippedNetwork)
    file.write_bytes(pickle.dumps({"a": "dict"}))  # readable, but not what the cache holds
    shipped._cached.cache_clear()
    assert shipped.shipped_network(_settings(tmp_path)).rates == load_rates()


def test_a_new_key_replaces_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped._cached.cache_clear()
    shipped.shipped_network(_settings(tmp_path))
    [old] = _files(tmp_path)
    monkeypatch.setattr(shipped, "cache_key", lambda: "f" * 64)
    shipped._cached.cache_clear()
    shipped.shipped_network(_settings(tmp_path))
    assert [f.name for f in _files(tmp_path)] == [f"shipped-network-{'f' * 32}.pickle"] and not old.exists()


def test_the_key_follows_data_files_and_modules_but_not_the_entry_points(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "fabgrid"
    for rel in ("__init__.py", "app.py", "domain/catalog.py", "data/sites.yaml", "data/geo/cities.csv",
                "web/pages.py", "web/static/app.js", "cli/quote.py", "geometry/notes.txt"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("x")
    monkeypatch.setattr(shipped, "fabgrid", types.SimpleNamespace(__file__=str(pkg / "__init__.py")))
    key = shipped.cache_key()

    def touched(rel: str) -> str:
        path = pkg / rel
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        return shipped.cache_key()

    for rel in ("web/pages.py", "web/static/app.js", "cli/quote.py", "app.py", "geometry/notes.txt"):
        assert touched(rel) == key, rel
    for rel in ("data/sites.yaml", "data/geo/cities.csv", "domain/catalog.py", "__init__.py"):
        new = touched(rel)
        assert new != key, rel
        key = new
