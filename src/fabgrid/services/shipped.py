"""The shipped network for quotes made without a database (`fabgrid quote`): the catalog, sites, rates and routes
of the packaged YAML, validated once and then kept in the user's data directory (`<data_dir>/cache/`) as a pickle.

The file's name is a key of what it was made from: every packaged data file and every module below the entry points
(path, size and modification time; the layer rules keep api, cli, web, workers and app out of what builds these
records), the Python and pydantic versions. A changed data file, an edited module or an upgrade gives a new key, so
the YAML is read and validated again (and older files are removed). A cache that cannot be read or written is
ignored. Depends on config, fabgrid.data (when the cache misses) and the engines' records.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import pydantic
import pydantic_core

import fabgrid
from fabgrid.config import Settings
from fabgrid.costing.leadtime import Routing
from fabgrid.costing.rates import Rates, load_rates
from fabgrid.domain.catalog import Network
from fabgrid.network.geo import Logistics, load_logistics

__all__ = ["ShippedNetwork", "cache_key", "shipped_network"]

#: bump when ShippedNetwork changes shape
_FORMAT = 2
_PREFIX = "shipped-network-"
#: the entry points (docs/architecture.md, "Layers"): nothing below them imports them
_ENTRY_POINTS = frozenset({"api", "cli", "web", "workers", "app.py"})


@dataclass(frozen=True, eq=False)  # Logistics holds numpy arrays: compare the fields
class ShippedNetwork:
    """The packaged network (with its catalog), the costing rates, the logistics and the sites' routes, as `fabgrid
    quote` uses them: the records of `fabgrid.data.load_network()`, `load_rates()`, `network.geo.load_logistics()`
    and `services.quotes.routing()`."""

    network: Network
    rates: Rates
    logistics: Logistics
    routing: Routing


def cache_key() -> str:
    """SHA-256 of what the shipped network is made from: the package's modules below the entry points and its data
    files (relative path, size, modification time in ns), the Python version and the pydantic versions (they read
    the pickle)."""
    h = hashlib.sha256(f"{_FORMAT}|{sys.version}|{pydantic.VERSION}|{pydantic_core.__version__}".encode())
    root = os.path.dirname(os.path.realpath(fabgrid.__file__))
    stack = [("", False)]
    while stack:
        rel, in_data = stack.pop()
        with os.scandir(os.path.join(root, rel)) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            name = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir():
                if e.name != "__pycache__" and not (not rel and e.name in _ENTRY_POINTS):
                    stack.append((name, in_data or name == "data"))
            elif (e.name.endswith(".py") or in_data) and not (not rel and e.name in _ENTRY_POINTS):
                st = e.stat()
                h.update(f"{name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _load() -> ShippedNetwork:
    """Read and validate the packaged YAML (what the cache holds)."""
    from fabgrid.data import load_network
    from fabgrid.services.quotes import routing

    return ShippedNetwork(network=load_network(), rates=load_rates(), logistics=load_logistics(), routing=routing())


def _read(path: Path) -> ShippedNetwork | None:
    try:
        found = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file is a miss, whatever unpickling raises
        return None
    return found if isinstance(found, ShippedNetwork) else None


def _write(path: Path, shipped: ShippedNetwork) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{_PREFIX}*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(shipped, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)  # atomic: a concurrent quote reads the old file or the new one, never half
    except OSError:
        pass  # a read-only data directory: every quote reads the YAML, as without the cache


@functools.lru_cache(maxsize=4)
def _cached(cache_dir: Path, key: str) -> ShippedNetwork:
    path = cache_dir / f"{_PREFIX}{key[:32]}.pickle"
    shipped = _read(path)
    if shipped is None:
        shipped = _load()
        _write(path, shipped)
    return shipped


def shipped_network(settings: Settings) -> ShippedNetwork:
    """The packaged network, rates and routes: from the cache in `settings.data_dir` while its key holds, else
    validated from the YAML (about 60 ms) and written there for the next process."""
    return _cached(settings.data_dir / "cache", cache_key())
