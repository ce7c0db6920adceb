"""The one network service: the network as the store holds it (sites, machines, stock, rates, the catalog, the
costing and logistics data), seeded once from the shipped YAML, read by quoting, the queue ahead, allocation,
the operator's map, the factory portal and the live demo alike, and changed through here.

Readers get a `NetworkData` cached per database and network revision, so a change in the database is seen by
the next reader and an unchanged network is not read again. Depends on the store, fabgrid.data (seeding only)
and the engines' parsers of their data (costing.rates, network.geo); never on api, web or cli.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fabgrid.config import Settings
from fabgrid.costing.leadtime import Routing
from fabgrid.costing.rates import Rates, parse_rates
from fabgrid.domain.catalog import Network, ProcessFamily, Site
from fabgrid.domain.order import QUEUED_AT_SITE
from fabgrid.errors import InputError, NotFoundError
from fabgrid.network.geo import Logistics, parse_logistics

if TYPE_CHECKING:  # the store (SQLAlchemy, 0.4-0.6 s to import) only where a database is opened: `fabgrid quote`
    from fabgrid.store.uow import UnitOfWork  # reads the shipped data through `routing_of` and opens none

#: Data sets seeded beside the network: name -> packaged file.
DATASETS = {"costing": "costing.yaml", "logistics": "logistics.yaml", "routes": "scheduling/routes.yaml",
            "stations": "finishes.yaml", "factory_rules": "factory_rules.yaml"}
#: Bounds of a machine-hour rate a site may set (CNY/h).
MAX_MACHINE_RATE_CNY_PER_H = 10_000.0

UowFactory = Callable[[], "UnitOfWork"]


@dataclass(frozen=True)
class NetworkData:
    """Everything the engines are handed about the network, at one revision."""

    revision: int
    network: Network
    rates: Rates
    logistics: Logistics
    #: what follows a build at a site (cool-down, steps, inspection, stations), for the quote's dates
    routing: Routing


@dataclass(frozen=True)
class SeedResult:
    """What `seed` did: whether it loaded the shipped network, and the rows per table afterwards."""

    seeded: bool
    counts: dict[str, int]


_cache: dict[str, NetworkData] = {}
_lock = threading.Lock()


def _shipped() -> tuple[Network, dict[str, dict[str, Any]]]:
    from fabgrid.data import load_document, load_network

    return load_network(), {name: _dataset(name, load_document(file)) for name, file in DATASETS.items()}


def _dataset(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """What the store keeps of a packaged file: all of it, but of finishes.yaml only its station kinds (the
    finishes themselves are catalog records)."""
    return {"station_kinds": doc.get("station_kinds")} if name == "stations" else doc


def seed(uow: UnitOfWork, replace: bool = False) -> SeedResult:
    """Load the shipped network into an empty database (the caller commits). With `replace`, make the database
    hold exactly the shipped network again (a factory's changes are overwritten)."""
    if uow.catalog.is_seeded() and not replace:
        return SeedResult(seeded=False, counts=uow.catalog.counts())
    network, datasets = _shipped()
    return SeedResult(seeded=True, counts=uow.catalog.sync(network, datasets))


def current(uow: UnitOfWork) -> NetworkData:
    """The network of the database of `uow`, at its current revision (cached per database and revision)."""
    key = uow.database_key
    rev = uow.catalog.revision()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit.revision == rev:
        return hit
    costing, logistics = uow.catalog.dataset("costing"), uow.catalog.dataset("logistics")
    if costing is None or logistics is None or not uow.catalog.is_seeded():
        raise InputError("the database holds no network yet", hint="run `fabgrid db seed` (the server seeds an "
                         "empty database when it starts)", code="network.not_seeded", status=503)
    routes, stations = uow.catalog.dataset("routes"), uow.catalog.dataset("stations")
    if routes is None or stations is None:  # a database seeded before routes were stored: the shipped ones
        from fabgrid.data import load_document

        routes = routes or load_document(DATASETS["routes"])
        stations = stations or _dataset("stations", load_document(DATASETS["stations"]))
    data = NetworkData(revision=rev, network=uow.catalog.network(), rates=parse_rates(costing),
                       logistics=parse_logistics(logistics), routing=routing_of(routes, stations))
    with _lock:
        _cache[key] = data
    return data


def routing_of(routes: dict[str, Any], stations: dict[str, Any]) -> Routing:
    """What follows a build at a site, as the sites' planner models it (routes.yaml: cool-down, steps,
    inspection) with the station kinds (finishes.yaml `station_kinds`), from the documents the store keeps."""
    from fabgrid.data import parse_station_kinds
    from fabgrid.scheduling.workload import parse_routes

    r = parse_routes(routes)
    return Routing(cool_down=dict(r.cool_down),
                   attended={k: v.attended for k, v in r.steps.items()},
                   min_h={k: v.min_h for k, v in r.steps.items()}, default_min_h=r.steps["default"].min_h,
                   inspection_s_per_part=r.inspection_s_per_part, inspection_min_h=r.inspection_min_h,
                   station_kinds=parse_station_kinds(stations))


def site(uow: UnitOfWork, site_id: str) -> Site:
    """One site of the network; 404 naming where the list is."""
    s = current(uow).network.sites.get(site_id)
    if s is None:
        raise NotFoundError(f"site {site_id!r} does not exist", hint="GET /api/v1/sites lists the sites",
                            code="site.not_found")
    return s


def open_machine_hours(uow: UnitOfWork, site_id: str | None = None,
                       exclude_orders: set[str] | None = None) -> dict[tuple[str, ProcessFamily], float]:
    """Machine hours of the work queued at each site (allocated or in production), per (site, process): the one
    figure the quote's queue ahead, the allocation's free capacity, the operator's load and the factory's
    workload all use. `site_id` restricts it to one site; `exclude_orders` leaves orders out (a reroute)."""
    out: dict[tuple[str, ProcessFamily], float] = {}
    for ln in uow.orders.lines(site_id=site_id, statuses=QUEUED_AT_SITE, exclude_orders=exclude_orders or ()):
        if ln.site_id is None:
            continue
        key = (ln.site_id, ln.process)
        out[key] = out.get(key, 0.0) + ln.machine_h
    return out


def set_machine_rate(uow: UnitOfWork, site_id: str, machine_model: str, rate_cny_per_h: float | None) -> Site:
    """Set (or with None clear) a site's own machine-hour rate for one of its machine models; the next quote
    prices with it. The caller commits."""
    s = site(uow, site_id)
    models = {m.model for m in s.machines}
    if machine_model not in models:
        raise InputError(f"site {site_id} has no {machine_model!r} machine", hint=f"one of {', '.join(sorted(models))}",
                         code="site.machine_model", status=422)
    rates = dict(s.machine_rates_cny_per_h)
    if rate_cny_per_h is None:
        rates.pop(machine_model, None)
    elif not 0 < rate_cny_per_h <= MAX_MACHINE_RATE_CNY_PER_H:
        raise InputError(f"machine-hour rate {rate_cny_per_h} CNY/h is outside 0 < rate <= "
                         f"{MAX_MACHINE_RATE_CNY_PER_H:.0f}", hint="give the rate in CNY per machine hour",
                         code="site.rate", status=422)
    else:
        rates[machine_model] = float(rate_cny_per_h)
    changed = s.model_copy(update={"machine_rates_cny_per_h": rates})
    uow.catalog.put_site(changed)
    return changed


def put_site(uow: UnitOfWork, changed: Site) -> Site:
    """Store a changed site after checking it against the catalog (machine models and materials exist, each
    material is run by one of its machines). The caller commits."""
    cat = current(uow).network.catalog
    unknown = [m.model for m in changed.machines if m.model not in cat.machine_models]
    if unknown:
        raise InputError(f"unknown machine model(s) {', '.join(unknown)}", hint="GET /api/v1/machine-models",
                         code="site.machine_model", status=422)
    runnable = {mat for m in changed.machines for mat in cat.machine_models[m.model].materials}
    bad = [mat for mat in changed.materials if mat not in runnable]
    if bad:
        raise InputError(f"material(s) {', '.join(bad)} are not run by any machine of site {changed.id}",
                         hint="add a machine that runs them or remove the material", code="site.material",
                         status=422)
    validated = Site.model_validate(changed.model_dump())
    uow.catalog.put_site(validated)
    return validated


# ---------------------------------------------------------------- reads for the pages and the API


def network_of(settings: Settings) -> Network:
    """The network (sites and catalog) of the configured database."""
    from fabgrid.store.uow import UnitOfWork

    with UnitOfWork(settings.database_url) as uow:
        return current(uow).network


def site_names(settings: Settings) -> dict[str, str]:
    """Site id -> name, for pages that show where work goes."""
    return {s.id: s.name for s in network_of(settings).sites.values()}
