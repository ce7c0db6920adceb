"""Quote use case: load and analyse a part, price it over the network, return a `Quote` record.

Pure computation (no store): the same part and request give the same `input_hash` and prices; `now`
only moves ship dates and the expiry. Persistence with expiry lives in `services.quotes_store`.
Used by the API, the CLI (`fabgrid quote`, `fabgrid estimate`) and the store service.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fabgrid.config import Settings
from fabgrid.costing.leadtime import Routing
from fabgrid.costing.part import checked
from fabgrid.costing.quote import quote_network
from fabgrid.costing.rates import Rates, load_rates
from fabgrid.domain.catalog import Catalog, Network, ProcessFamily
from fabgrid.domain.geometry import PartReport
from fabgrid.domain.part import Part, Severity
from fabgrid.domain.quote import (
    Alternative,
    Limit,
    Offer,
    PriceBreak,
    Quote,
    QuoteRequest,
    Rejection,
    Unmakeable,
    input_hash,
)
from fabgrid.errors import InputError, NotFoundError
from fabgrid.network.geo import Logistics

__all__ = ["PreparedPart", "QuoteRequest", "content_key", "data_fingerprint", "dfm_errors", "estimate_file",
           "input_hash", "prepare_loaded", "prepare_part", "prepare_path", "quote_file", "quote_prepared",
           "quote_request", "slicer_config", "stored_report"]


@dataclass
class PreparedPart:
    """A loaded part ready for quoting, with the blocking DFM errors of its analysis and its content key
    (the file's SHA-256, or the mesh digest); reuse it for repeated quotes."""

    part: Part
    name: str
    dfm_errors: dict[str, list[str]] = field(default_factory=dict)
    key: str = ""
    #: the thinnest wall the analysis measured (mm), when it measured one
    min_wall_mm: float | None = None
    #: the processes the analysis checked (None: every process)
    analysed: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.key:
            self.key = self.part.digest


def content_key(sha256: str, units: str | None = None) -> str:
    """The part's key in the input hash: its file's SHA-256, combined with a unit override when there is one."""
    return sha256 if not units else hashlib.sha256(f"{sha256}:{units}".encode()).hexdigest()


def stored_report(report: PartReport | Mapping[str, Any] | None) -> PartReport | None:
    """An analysis report as the typed record (a stored report is validated again, not read as a dict)."""
    if report is None or isinstance(report, PartReport):
        return report
    try:
        return PartReport.model_validate(report)
    except ValidationError as exc:
        raise InputError(f"the part's stored analysis report is not readable ({exc.error_count()} errors)",
                         hint="upload the part again to analyse it anew", code="quote.report_invalid",
                         status=409) from None


def dfm_errors(report: PartReport | Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Blocking DFM errors per process id ("*" = every process) from an analysis report."""
    rep = stored_report(report)
    out: dict[str, list[str]] = {}
    for f in rep.findings if rep is not None else ():
        if f.severity is not Severity.ERROR or f.machine_model:
            continue  # machine-level findings (build volume) are handled per machine by the quote
        out.setdefault("*" if f.process is None else f.process.value, []).append(f.message)
    return out


def prepare_loaded(part: Part, report: PartReport | Mapping[str, Any] | None = None, key: str = "",
                   name: str | None = None) -> PreparedPart:
    """A loaded part (e.g. the one an analysis just read) ready for quoting; `report` supplies DFM errors."""
    rep = stored_report(report)
    return PreparedPart(checked(part), name or part.name, dfm_errors(rep), key,
                        rep.min_wall_mm if rep is not None else None)


def prepare_part(data: bytes, filename: str, units: str | None = None,
                 report: PartReport | Mapping[str, Any] | None = None) -> PreparedPart:
    """Load a part from its bytes (any supported format), repaired where that is safe (as its analysis
    repaired it: `geometry.repair.auto_repair_part`), a unit-less file that is implausibly small in mm read in
    the unit its size makes plausible (as its analysis read it); `report` (analysis) supplies DFM errors."""
    from fabgrid.geometry.load import load_bytes
    from fabgrid.geometry.repair import auto_repair_part

    return prepare_loaded(auto_repair_part(load_bytes(data, filename, units=units, guess=True))[0], report,
                          content_key(hashlib.sha256(data).hexdigest(), units), filename)


def prepare_path(path: str | Path, units: str | None = None, analyse: bool = True,
                 process: str | ProcessFamily | None = None, catalog: Catalog | None = None) -> PreparedPart:
    """Load a part file once; with `analyse`, run the DFM analysis (for `process`, default every
    process, with the rules of `catalog`, default the shipped one) so that blocking errors reject sites. The
    self-intersection search (a warning only, never blocking) is left out: it is the slowest stage and does not
    change a quote. The part is repaired first where that is safe (merged vertices, winding, small holes:
    `auto_repair_part`), and a unit-less file that is implausibly small in mm is read in the unit its size makes
    plausible."""
    from fabgrid.geometry import limits
    from fabgrid.geometry.load import load_bytes, read_part_file
    from fabgrid.geometry.repair import auto_repair_part

    p = Path(path)
    data = read_part_file(p)
    loaded, _ = auto_repair_part(load_bytes(data, p.name, units=units, guess=True))
    key = content_key(hashlib.sha256(data).hexdigest(), units)
    report = None
    if analyse:
        from fabgrid.geometry.report import Options, analyze_loaded

        if catalog is None:
            from fabgrid.data import load_catalog

            catalog = load_catalog()
        fam = _process(process)
        procs = [v for k, v in catalog.processes.items() if fam is None or k is fam]
        machines = [m for m in catalog.machine_models.values() if fam is None or m.process is fam]
        report = analyze_loaded(loaded, procs, machines, Options(self_intersections=False),
                                limits.Budget(limits.ANALYSIS_TIME_S, p.name))
    prepared = prepare_loaded(loaded, report, key, p.name)
    if analyse and fam is not None:
        prepared.analysed = (fam.value,)
    return prepared


_FINGERPRINTS: dict[tuple[int, int], tuple[Network, Rates, str]] = {}


def _fingerprint(network: Network, rates: Rates) -> str:
    """SHA-256 of the catalog, network and rates (computed once per loaded data set)."""
    key = (id(network), id(rates))
    hit = _FINGERPRINTS.get(key)
    if hit is None or hit[0] is not network or hit[1] is not rates:
        doc = json.dumps([network.model_dump(mode="json"), rates.model_dump(mode="json")], sort_keys=True)
        hit = (network, rates, hashlib.sha256(doc.encode()).hexdigest())
        _FINGERPRINTS[key] = hit
    return hit[2]


def data_fingerprint(network: Network | None = None, rates: Rates | None = None) -> str:
    """The fingerprint of the catalog, network and rates a quote is priced with (the shipped ones by default)."""
    if network is None:
        from fabgrid.data import load_network

        network = load_network()
    return _fingerprint(network, rates or load_rates())


def _process(process: str | ProcessFamily | None) -> ProcessFamily | None:
    if process is None or isinstance(process, ProcessFamily):
        return process
    try:
        return ProcessFamily(process)
    except ValueError:
        known = ", ".join(p.value for p in ProcessFamily)
        raise InputError(f"unknown process {process!r}", hint=f"use one of: {known}", code="quote.process") from None


def quote_prepared(prepared: PreparedPart, material: str, quantity: int = 1, process: str | None = None,
                   finish: str | None = None, need_by: date | None = None, destination: str | None = None,
                   now: datetime | None = None,
                   queued_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                   network: Network | None = None, rates: Rates | None = None,
                   certifications: tuple[str, ...] = (), route: Routing | None = None,
                   logistics: Logistics | None = None) -> Quote:
    """Offers for a prepared part over the network; `queued_h` = hours queued per (site, process)."""
    req = QuoteRequest(material=material, quantity=quantity, process=_process(process), finish=finish,
                       need_by=need_by, destination=destination, certifications=certifications)
    return quote_request(prepared, req, now=now, queued_h=queued_h, network=network, rates=rates, route=route,
                         logistics=logistics)


#: Quantities of the price-break table (the asked quantity is added).
PRICE_BREAKS = (1, 10, 100, 1000)


@functools.cache
def routing() -> Routing:
    """What follows a build at a site, from the shipped data (cool-down, steps, inspection, stations), for quotes
    made without a database (`fabgrid quote`); stored quotes use the stored network's (`NetworkData.routing`)."""
    from fabgrid.data import load_document
    from fabgrid.services.network import DATASETS, routing_of

    return routing_of(load_document(DATASETS["routes"]), load_document(DATASETS["stations"]))


def price_breaks(prepared: PreparedPart, req: QuoteRequest, offers: list[Offer], network: Network, rates: Rates,
                 now: datetime, queued_h: Mapping[tuple[str, ProcessFamily], float] | None,
                 logistics: Logistics | None, route: Routing,
                 priority_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                 station_h: Mapping[tuple[str, str], float] | None = None,
                 queue_due: Mapping[tuple[str, ProcessFamily], Sequence[tuple[datetime, float]]] | None = None,
                 occupancy_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                 closed: Mapping[str, str] | None = None,
                 ) -> list[PriceBreak]:
    """The cheapest standard offer at 1, 10, 100, 1000 and the asked quantity (ascending), in the same request."""
    out = []
    for qty in sorted({*PRICE_BREAKS, req.quantity}):
        found = offers if qty == req.quantity else quote_network(
            prepared.part, network, replace(req, quantity=qty), rates, now, queued_h, prepared.dfm_errors,
            logistics, route, priority_h, station_h, cheapest_only=True, queued_due=queue_due,
            occupancy_h=occupancy_h, closed=closed)[0]
        best = found[0] if found else None
        count = len(found) if qty == req.quantity else None
        out.append(PriceBreak(quantity=qty, offers=count, site=best.site if best else None,
                              unit_price_cny=best.unit_price_cny if best else None,
                              total_price_cny=best.total_price_cny if best else None,
                              unit_price_incl_vat_cny=best.unit_price_incl_vat_cny if best else None,
                              total_price_incl_vat_cny=best.total_price_incl_vat_cny if best else None,
                              delivery_date=best.delivery_date if best else None))
    return out


#: Alternatives named when nothing can make a part.
MAX_ALTERNATIVES = 5


def _limits(prepared: PreparedPart, req: QuoteRequest, rejected: list[Rejection], network: Network) -> list[Limit]:
    """What stops every site: the largest envelope of the process against the part, the thinnest wall against the
    process's minimum, and how many sites gave each other reason."""
    cat = network.catalog
    mat = cat.materials[req.material]
    proc = mat.process
    part = prepared.part
    out: list[Limit] = []
    codes: dict[str, list[Rejection]] = {}
    for r in rejected:
        codes.setdefault(r.code, []).append(r)
    models = {network.machine_model(m).id for s in network.sites.values() for m in s.machines
              if network.machine_model(m).process is proc and mat.id in network.machine_model(m).materials}
    if "too_big" in codes or not any(part.fits(cat.machine_models[m].build_volume_mm) for m in models):
        big = max(models, key=lambda m: math.prod(cat.machine_models[m].build_volume_mm), default=None)
        x, y, z = part.bbox_mm
        if big is not None:
            ex, ey, ez = cat.machine_models[big].build_volume_mm
            out.append(Limit(code="too_big", message=(
                f"the part is {x:.0f} x {y:.0f} x {z:.0f} mm; the largest {proc.value} build envelope in the network "
                f"for {mat.id} is {ex:.0f} x {ey:.0f} x {ez:.0f} mm ({big})"),
                figures={"part_x_mm": round(x, 1), "part_y_mm": round(y, 1), "part_z_mm": round(z, 1),
                         "envelope_x_mm": ex, "envelope_y_mm": ey, "envelope_z_mm": ez, "machine_model": big}))
    if "dfm" in codes:
        need = cat.processes[proc].min_wall_mm if proc in cat.processes else None
        first = codes["dfm"][0].reason
        figures: dict[str, float | str] = {}
        if prepared.min_wall_mm is not None:
            figures["min_wall_mm"] = round(prepared.min_wall_mm, 2)
        if need is not None:
            figures["process_min_wall_mm"] = need
        wall = (f"; thinnest wall {prepared.min_wall_mm:.2f} mm, {proc.value} needs {need:g} mm"
                if prepared.min_wall_mm is not None and need is not None and prepared.min_wall_mm < need else "")
        out.append(Limit(code="dfm", message=f"{first}{wall}", figures=figures))
    # sites without the process or the material say nothing about the part, unless they are all there is
    quiet = {"too_big", "dfm"} | ({"no_process", "material_not_stocked", "material_not_supported"} if out else set())
    for code, rs in sorted(codes.items()):
        if code in quiet:
            continue
        out.append(Limit(code=code, message=f"{len(rs)} site(s): {rs[0].reason}", figures={"sites": len(rs)}))
    return out


def unmakeable(prepared: PreparedPart, req: QuoteRequest, rejected: list[Rejection], network: Network, rates: Rates,
               now: datetime, queued_h: Mapping[tuple[str, ProcessFamily], float] | None,
               logistics: Logistics | None, route: Routing, closed: Mapping[str, str] | None = None) -> Unmakeable:
    """When no site offers: the limits, and other materials (of this or another process) that get offers for the
    same part, most offers first; a request for quote by hand is suggested. A process the part's analysis did not
    check is left out (its DFM errors are unknown)."""
    out: list[Alternative] = []
    for mat in sorted(network.catalog.materials.values(), key=lambda m: m.id):
        if mat.id == req.material or (prepared.analysed is not None and mat.process.value not in prepared.analysed):
            continue
        fin = req.finish if req.finish and mat.process in getattr(network.catalog.finishes.get(req.finish),
                                                                  "processes", ()) else None
        alt = replace(req, material=mat.id, process=None, finish=fin)
        found, _ = quote_network(prepared.part, network, alt, rates, now, queued_h, prepared.dfm_errors, logistics,
                                 route, closed=closed)
        if found:
            out.append(Alternative(process=mat.process, material=mat.id, offers=len(found),
                                   unit_price_cny=found[0].unit_price_cny,
                                   delivery_date=min(o.delivery_date for o in found)))
    out.sort(key=lambda a: (-a.offers, a.unit_price_cny, a.material))
    return Unmakeable(limits=_limits(prepared, req, rejected, network), alternatives=out[:MAX_ALTERNATIVES],
                      rfq_suggested=True)


def quote_request(prepared: PreparedPart, req: QuoteRequest, now: datetime | None = None,
                  queued_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  network: Network | None = None, rates: Rates | None = None,
                  logistics: Logistics | None = None,
                  priority_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  station_h: Mapping[tuple[str, str], float] | None = None,
                  queue_due: Mapping[tuple[str, ProcessFamily], Sequence[tuple[datetime, float]]] | None = None,
                  occupancy_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  route: Routing | None = None, closed: Mapping[str, str] | None = None) -> Quote:
    """Offers for a prepared part and a request; its `input_hash` is `domain.quote.input_hash` of the
    request, the part's content key and the data fingerprint (what the store keys its quotes by).
    `priority_h`, `station_h` and `queue_due`: the express part of the queue, the stations' queued hours and the
    other queued lines' dispatch deadlines, `occupancy_h` the hours the queue holds the machines
    (`services.promises.open_queue`); `closed` the sites taking no new work now, with the reason."""
    if network is None:
        from fabgrid.data import load_network

        network = load_network()
    rates = rates or load_rates()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise InputError("now must be timezone-aware", code="quote.now")
    route = route or routing()
    offers, rejected = quote_network(prepared.part, network, req, rates, now, queued_h, prepared.dfm_errors,
                                     logistics, route, priority_h, station_h, queued_due=queue_due,
                                     occupancy_h=occupancy_h, closed=closed)
    breaks = price_breaks(prepared, req, offers, network, rates, now, queued_h, logistics, route, priority_h,
                          station_h, queue_due, occupancy_h, closed) if offers else []
    return Quote(
        input_hash=input_hash(req, prepared.key, _fingerprint(network, rates)),
        part_name=prepared.name, material=req.material, quantity=req.quantity, process=req.family,
        finish=req.finish, need_by=req.need_by, destination=req.destination, created_at=now,
        expires_at=now + timedelta(days=rates.validity_days), offers=offers, rejected=rejected,
        vat_pct=rates.vat_pct, price_breaks=breaks,
        unmakeable=None if offers else unmakeable(prepared, req, rejected, network, rates, now, queued_h,
                                                  logistics, route, closed),
    )


def quote_file(path: str | Path, material: str, quantity: int = 1, process: str | None = None,
               finish: str | None = None, need_by: date | None = None, destination: str | None = None,
               units: str | None = None, analyse: bool = True, now: datetime | None = None,
               settings: Settings | None = None) -> Quote:
    """Load, analyse and quote a part file over the shipped network (the CLI's `fabgrid quote`); with `settings`,
    the validated network comes from the cache in its data directory (`services.shipped`)."""
    if settings is not None:
        from fabgrid.services.shipped import shipped_network

        data = shipped_network(settings)
        network, rates, logistics, route = data.network, data.rates, data.logistics, data.routing
    else:
        from fabgrid.data import load_network

        network, rates, logistics, route = load_network(), load_rates(), None, routing()
    cat = network.catalog
    mat = cat.material(material, process)
    prepared = prepare_path(path, units=units, analyse=analyse, process=mat.process, catalog=cat)
    q = quote_prepared(prepared, mat.id, quantity, process, finish, need_by, destination, now=now, network=network,
                       rates=rates, route=route, logistics=logistics)
    if not q.offers and analyse:
        # the alternatives need the other processes' DFM findings: analyse once more for every process
        every = prepare_path(path, units=units, analyse=True, process=None, catalog=cat)
        q = quote_prepared(every, mat.id, quantity, process, finish, need_by, destination, now=q.created_at,
                           network=network, rates=rates, route=route, logistics=logistics)
    return q


def estimate_file(path: str | Path, machine: str, material: str | None = None, quantity: int = 1,
                  units: str | None = None) -> dict[str, Any]:
    """Estimate of a part file on one machine model (the CLI's `fabgrid estimate`)."""
    from fabgrid.costing.base import estimate
    from fabgrid.data import load_catalog

    catalog = load_catalog()
    model = catalog.machine_models.get(machine)
    if model is None:
        raise NotFoundError(f"unknown machine model {machine!r}",
                            hint=f"use one of: {', '.join(sorted(catalog.machine_models))}", code="estimate.machine")
    mat = catalog.material(material, model.process) if material else catalog.materials[model.materials[0]]
    if mat.id not in model.materials:
        raise InputError(f"machine model {model.id!r} does not run {mat.id!r}",
                         hint=f"use one of: {', '.join(model.materials)}", code="estimate.material")
    prepared = prepare_path(path, units=units, analyse=False)
    part = prepared.part
    if not part.fits(model.build_volume_mm):
        x, y, z = part.bbox_mm
        raise InputError(f"{prepared.name}: {x:.1f} x {y:.1f} x {z:.1f} mm does not fit {model.id} "
                         f"{model.build_volume_mm}", hint="pick a larger machine", code="estimate.too_big")
    est = estimate(part, model, mat, quantity, load_rates())
    doc = est.model_dump(mode="json")
    doc.update(part=prepared.name, volume_mm3=part.solid_volume_mm3, bbox_mm=list(part.bbox_mm))
    return doc


def slicer_config(machine: str, material: str | None = None) -> str:
    """PrusaSlicer .ini profile equivalent to our FDM profile of `machine` (with `material`)."""
    from fabgrid.costing.fdm import fdm_profile, slicer_ini
    from fabgrid.data import load_catalog

    catalog = load_catalog()
    model = catalog.machine_models.get(machine)
    if model is None:
        raise NotFoundError(f"unknown machine model {machine!r}",
                            hint=f"use one of: {', '.join(sorted(catalog.machine_models))}", code="estimate.machine")
    mat = catalog.materials.get(material or (model.materials[0] if model.materials else ""))
    if material is not None and mat is None:
        raise NotFoundError(f"unknown material {material!r}", code="estimate.material")
    return slicer_ini(fdm_profile(model, mat, load_rates()))
