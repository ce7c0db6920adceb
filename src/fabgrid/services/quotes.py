"""Quote use case: load and analyse a part, price it over the network, return a `Quote` record.

Pure computation (no store): the same part and request give the same `input_hash` and prices; `now`
only moves ship dates and the expiry. Persistence with expiry lives in `services.quotes_store`.
Used by the API, the CLI (`fabgrid quote`, `fabgrid estimate`) and the store service.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fabgrid.costing.part import CostingPart
from fabgrid.costing.rates import Rates, load_rates
from fabgrid.domain.catalog import Network, ProcessFamily
from fabgrid.domain.part import Severity
from fabgrid.domain.quote import Quote
from fabgrid.errors import InputError, NotFoundError


@dataclass
class PreparedPart:
    """A loaded part ready for quoting, with its blocking DFM errors; reuse it for repeated quotes."""

    part: CostingPart
    name: str


def _mesh(vertices: Any, faces: Any) -> Any:
    import trimesh

    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def _dfm_errors(report: Any) -> dict[str, list[str]]:
    """Blocking DFM errors per process id ("*" = every process) from an analysis report."""
    if report is None:
        return {}
    findings = report.get("findings", []) if isinstance(report, dict) else getattr(report, "findings", [])
    out: dict[str, list[str]] = {}
    for f in findings:
        get = f.get if isinstance(f, dict) else (lambda k, f=f: getattr(f, k, None))
        if str(get("severity")) != Severity.ERROR.value or get("machine_model"):
            continue  # machine-level findings (build volume) are handled per machine by the quote
        proc = get("process")
        key = "*" if proc is None else str(getattr(proc, "value", proc))
        out.setdefault(key, []).append(str(get("message")))
    return out


def _prepared(loaded: Any, name: str, report: Any) -> PreparedPart:
    mesh = _mesh(loaded.vertices, loaded.faces)
    hull = report.get("convex_hull_volume_mm3") if isinstance(report, dict) else \
        getattr(report, "convex_hull_volume_mm3", None)
    part = CostingPart.from_mesh(mesh, name=name, dfm_errors=_dfm_errors(report),
                                 hull_volume_mm3=float(hull) if isinstance(hull, int | float) else None)
    return PreparedPart(part, name)


def prepare_part(data: bytes, filename: str, units: str | None = None, report: Any = None) -> PreparedPart:
    """Load a part from its bytes (any supported format); `report` (analysis) supplies DFM errors."""
    from fabgrid.geometry.load import load_bytes

    return _prepared(load_bytes(data, filename, units=units), filename, report)


def prepare_path(path: str | Path, units: str | None = None, analyse: bool = True,
                 process: str | ProcessFamily | None = None) -> PreparedPart:
    """Load a part file once; with `analyse`, run the DFM analysis (for `process`, default every
    process) so that blocking errors reject sites. The self-intersection search (a warning only,
    never blocking) is left out: it is the slowest stage and does not change a quote."""
    from fabgrid.geometry import limits
    from fabgrid.geometry.load import load_path

    p = Path(path)
    loaded = load_path(p, units=units)
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
    return _prepared(loaded, p.name, report)


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


def input_hash(part: CostingPart, material: str, quantity: int, process: str | None, finish: str | None,
               need_by: date | None, to_city: str | None, network: Network, rates: Rates) -> str:
    """SHA-256 of everything the price depends on: the mesh, the request, the catalog and the rates."""
    doc = {"part": part.digest, "material": material, "quantity": quantity, "process": process,
           "finish": finish, "need_by": need_by.isoformat() if need_by else None, "to_city": to_city,
           "data": _fingerprint(network, rates)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _process(process: str | ProcessFamily | None) -> ProcessFamily | None:
    if process is None or isinstance(process, ProcessFamily):
        return process
    try:
        return ProcessFamily(process)
    except ValueError:
        known = ", ".join(p.value for p in ProcessFamily)
        raise InputError(f"unknown process {process!r}", hint=f"use one of: {known}", code="quote.process") from None


def quote_prepared(prepared: PreparedPart, material: str, quantity: int = 1, process: str | None = None,
                   finish: str | None = None, need_by: date | None = None, to_city: str | None = None,
                   now: datetime | None = None,
                   queued_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                   network: Network | None = None, rates: Rates | None = None,
                   certifications: tuple[str, ...] = ()) -> Quote:
    """Offers for a prepared part over the network; `queued_h` = hours queued per (site, process)."""
    from fabgrid.costing.quote import QuoteRequest, quote_network

    if network is None:
        from fabgrid.data import load_network

        network = load_network()
    rates = rates or load_rates()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise InputError("now must be timezone-aware", code="quote.now")
    req = QuoteRequest(material=material, quantity=quantity, process=_process(process), finish=finish,
                       need_by=need_by, to_city=to_city, certifications=certifications)
    offers, rejected = quote_network(prepared.part, network, req, rates, now, queued_h)
    return Quote(
        input_hash=input_hash(prepared.part, material, quantity, process, finish, need_by, to_city, network, rates),
        part_name=prepared.name, material=material, quantity=quantity, process=req.process, finish=finish,
        need_by=need_by, to_city=to_city, created_at=now, expires_at=now + timedelta(days=rates.validity_days),
        offers=offers, rejected=rejected,
    )


def quote_file(path: str | Path, material: str, quantity: int = 1, process: str | None = None,
               finish: str | None = None, need_by: date | None = None, to_city: str | None = None,
               units: str | None = None, analyse: bool = True, now: datetime | None = None) -> Quote:
    """Load, analyse and quote a part file (the CLI's `fabgrid quote`)."""
    from fabgrid.data import load_catalog

    mat = load_catalog().material(material, process)
    prepared = prepare_path(path, units=units, analyse=analyse, process=mat.process)
    return quote_prepared(prepared, mat.id, quantity, process, finish, need_by, to_city, now=now)


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
    doc.update(part=prepared.name, volume_mm3=part.volume_mm3, bbox_mm=list(part.bbox_mm))
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
