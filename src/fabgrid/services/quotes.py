"""Quote use case: load and analyse a part, price it over the network, return a `Quote` record.

Pure computation (no store): the same part and request give the same `input_hash` and prices; `now`
only moves ship dates and the expiry. Persistence with expiry lives in `services.quotes_store`.
Used by the API, the CLI (`fabgrid quote`, `fabgrid estimate`) and the store service.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fabgrid.costing.part import checked
from fabgrid.costing.quote import quote_network
from fabgrid.costing.rates import Rates, load_rates
from fabgrid.domain.catalog import Network, ProcessFamily
from fabgrid.domain.geometry import PartReport
from fabgrid.domain.part import Part, Severity
from fabgrid.domain.quote import Quote, QuoteRequest, input_hash
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
    return PreparedPart(checked(part), name or part.name, dfm_errors(report), key)


def prepare_part(data: bytes, filename: str, units: str | None = None,
                 report: PartReport | Mapping[str, Any] | None = None) -> PreparedPart:
    """Load a part from its bytes (any supported format), repaired where that is safe (as its analysis
    repaired it: `geometry.repair.auto_repair_part`); `report` (analysis) supplies DFM errors."""
    from fabgrid.geometry.load import load_bytes
    from fabgrid.geometry.repair import auto_repair_part

    return prepare_loaded(auto_repair_part(load_bytes(data, filename, units=units))[0], report,
                          content_key(hashlib.sha256(data).hexdigest(), units), filename)


def prepare_path(path: str | Path, units: str | None = None, analyse: bool = True,
                 process: str | ProcessFamily | None = None) -> PreparedPart:
    """Load a part file once; with `analyse`, run the DFM analysis (for `process`, default every
    process) so that blocking errors reject sites. The self-intersection search (a warning only,
    never blocking) is left out: it is the slowest stage and does not change a quote. The part is
    repaired first where that is safe (merged vertices, winding, small holes: `auto_repair_part`)."""
    from fabgrid.geometry import limits
    from fabgrid.geometry.load import load_bytes, read_part_file
    from fabgrid.geometry.repair import auto_repair_part

    p = Path(path)
    data = read_part_file(p)
    loaded, _ = auto_repair_part(load_bytes(data, p.name, units=units))
    key = content_key(hashlib.sha256(data).hexdigest(), units)
    report = None
    if analyse:
        from fabgrid.data import load_catalog
        from fabgrid.geometry.report import Options, analyze_loaded

        catalog = load_catalog()
        fam = _process(process)
        procs = [v for k, v in catalog.processes.items() if fam is None or k is fam]
        machines = [m for m in catalog.machine_models.values() if fam is None or m.process is fam]
        report = analyze_loaded(loaded, procs, machines, Options(self_intersections=False),
                                limits.Budget(limits.ANALYSIS_TIME_S, p.name))
    return prepare_loaded(loaded, report, key, p.name)


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
                   certifications: tuple[str, ...] = ()) -> Quote:
    """Offers for a prepared part over the network; `queued_h` = hours queued per (site, process)."""
    req = QuoteRequest(material=material, quantity=quantity, process=_process(process), finish=finish,
                       need_by=need_by, destination=destination, certifications=certifications)
    return quote_request(prepared, req, now=now, queued_h=queued_h, network=network, rates=rates)


def quote_request(prepared: PreparedPart, req: QuoteRequest, now: datetime | None = None,
                  queued_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  network: Network | None = None, rates: Rates | None = None,
                  logistics: Logistics | None = None) -> Quote:
    """Offers for a prepared part and a request; its `input_hash` is `domain.quote.input_hash` of the
    request, the part's content key and the data fingerprint (what the store keys its quotes by)."""
    if network is None:
        from fabgrid.data import load_network

        network = load_network()
    rates = rates or load_rates()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise InputError("now must be timezone-aware", code="quote.now")
    offers, rejected = quote_network(prepared.part, network, req, rates, now, queued_h, prepared.dfm_errors,
                                     logistics)
    return Quote(
        input_hash=input_hash(req, prepared.key, _fingerprint(network, rates)),
        part_name=prepared.name, material=req.material, quantity=req.quantity, process=req.family,
        finish=req.finish, need_by=req.need_by, destination=req.destination, created_at=now,
        expires_at=now + timedelta(days=rates.validity_days), offers=offers, rejected=rejected,
    )


def quote_file(path: str | Path, material: str, quantity: int = 1, process: str | None = None,
               finish: str | None = None, need_by: date | None = None, destination: str | None = None,
               units: str | None = None, analyse: bool = True, now: datetime | None = None) -> Quote:
    """Load, analyse and quote a part file (the CLI's `fabgrid quote`)."""
    from fabgrid.data import load_catalog

    mat = load_catalog().material(material, process)
    prepared = prepare_path(path, units=units, analyse=analyse, process=mat.process)
    return quote_prepared(prepared, mat.id, quantity, process, finish, need_by, destination, now=now)


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
