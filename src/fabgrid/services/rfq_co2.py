"""CO2 of the bids of an RFQ where the factory's machines are known (issue 19): per part and bidding site, the
production CO2 per part of the costing engine's energy model (the site's machines, material, grid factor), the
part quoted at its smallest tier by the bidding sites only; used where the buyer's instant quotes have no offer
of that site.

Depends on the store, services.quotes/quotes_store/designs/network and the domain; never on api, web or cli.
"""

from __future__ import annotations

from collections.abc import Iterable

from fabgrid.config import Settings
from fabgrid.domain.rfq import Rfq
from fabgrid.errors import InputError
from fabgrid.services import designs, network, quotes_store
from fabgrid.store.uow import UnitOfWork


def modelled_co2_per_part(settings: Settings, r: Rfq, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str],
                                                                                               float]:
    """(part id, site) -> production CO2 per part (kg) from the energy model, for the pairs asked whose part is
    analysed and whose site can make it; the others are left out."""
    from fabgrid.services import quotes as engine

    wanted: dict[str, set[str]] = {}
    for pid, sid in pairs:
        wanted.setdefault(pid, set()).add(sid)
    if not wanted:
        return {}
    out: dict[tuple[str, str], float] = {}
    with UnitOfWork(settings.database_url) as uow:
        data = network.current(uow)
        stored = {pid: uow.parts.get(pid, r.organisation_id) for pid in wanted}
    for p in r.parts:
        part, sites = stored.get(p.part_id), wanted.get(p.part_id, set())
        known = {s: data.network.sites[s] for s in sorted(sites) if s in data.network.sites}
        if part is None or part.status != "ready" or not known:
            continue
        material = p.material or next(iter(next(iter(known.values())).materials), None)
        if material is None:
            continue
        try:
            prepared = quotes_store.prepared_part(part, lambda sp=part: engine.prepare_part(
                designs.read_design(settings, sp), sp.filename, units=sp.units,
                report=engine.stored_report(sp.report)))
            q = engine.quote_prepared(prepared, material, min(p.quantities), p.process,
                                      network=data.network.model_copy(update={"sites": known}), rates=data.rates)
        except InputError:
            continue
        for o in q.offers:
            if o.site in known and o.quantity > 0:
                out.setdefault((p.part_id, o.site), o.co2_kg / o.quantity)
    return out

