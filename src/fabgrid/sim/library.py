"""Part library of the simulator and its costing facts, computed ONCE per part and reused by every order.

Parts are generated with trimesh.creation (plus the watertight meshes of a folder when given); each
part gets one material. Offers come from the real quote engine (`costing.quote.quote_network`) at a
few quantities; machine times from `costing.base.estimate`; packing density from the real nesting
engine (`nesting.volume.pack_parts`, `nesting.plate.arrange`) run once. Never imports store/web/cli.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from statistics import median

import numpy as np
import trimesh

from fabgrid.costing.base import estimate
from fabgrid.costing.part import Part, from_mesh
from fabgrid.costing.postprocess import post_process
from fabgrid.costing.quote import quote_network
from fabgrid.costing.rates import Rates, load_rates
from fabgrid.domain.catalog import MachineModel, NestingMethod, Network, ProcessFamily
from fabgrid.domain.quote import QuoteRequest
from fabgrid.domain.sim import SimParams
from fabgrid.errors import InputError


@dataclass(frozen=True)
class ModelFacts:
    """Machine-time facts of one part on one machine model (hours are per part unless named)."""

    marginal_h: float      # machine time each extra copy adds to a build (producing; the ISO 22400 PRU)
    fixed_h: float         # time a build of this part carries once (warm-up, cool-down, set-up)
    ideal_unit_h: float    # machine hours per unit at a full build, set-up shares included (capacity)
    fraction: float        # share of one build one copy takes (0: one line per job, CNC)
    material_g: float      # material consumed per copy, incl. supports and non-recycled powder


@dataclass(frozen=True)
class Offer:
    """A site's offer for the part at a quantity: standard unit price and the machine model it uses."""

    site: str
    model: str
    unit_price_cny: float
    lead_days: int


@dataclass
class PartFacts:
    """Everything the event loop needs about one part of the library."""

    name: str
    material: str
    process: ProcessFamily
    volume_mm3: float
    part_g: float
    finishing_h: float                       # finishing + handling operator time per copy
    offers: dict[int, dict[str, Offer]]      # quote quantity -> site -> offer
    value_added_cny: dict[int, float]        # quote quantity -> value added per copy
    models: dict[str, ModelFacts] = field(default_factory=dict)

    def bucket(self, quantity: int) -> int:
        """The quote quantity nearest to `quantity` on a log scale."""
        qs = sorted(self.offers)
        return min(qs, key=lambda q: abs(math.log(q) - math.log(max(quantity, 1))))


@dataclass
class Library:
    """The parts, by material, with the packing densities measured by the nesting engine."""

    parts: list[PartFacts]
    density_volume: float
    density_plate: float
    density_source: str
    by_material: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, p in enumerate(self.parts):
            self.by_material.setdefault(p.material, []).append(i)


def _generated_mesh(rng: np.random.Generator, size_min: float, size_max: float) -> trimesh.Trimesh:
    kind = int(rng.integers(0, 5))
    s = float(np.exp(rng.uniform(np.log(size_min), np.log(size_max))))
    r = rng.uniform(0.3, 1.0, size=3)
    if kind == 0:
        mesh: trimesh.Trimesh = trimesh.creation.box(extents=(s * r[0], s * r[1], s * r[2] * 0.6))
    elif kind == 1:
        mesh = trimesh.creation.cylinder(radius=s * r[0] / 2, height=s * r[1], sections=32)
    elif kind == 2:
        mesh = trimesh.creation.capsule(height=s * r[0], radius=s * r[1] / 4, count=(12, 12))
    elif kind == 3:
        ro = s * r[0] / 2
        mesh = trimesh.creation.annulus(r_min=ro * 0.6, r_max=ro, height=s * r[1] * 0.5, sections=32)
    else:
        ball = trimesh.creation.icosphere(subdivisions=2, radius=s * r[0] / 2)
        scale = np.array([1.0, float(r[1] / r[0]), 0.7])
        mesh = trimesh.Trimesh(vertices=np.asarray(ball.vertices) * scale, faces=np.asarray(ball.faces))
    mesh.apply_translation(-mesh.bounds[0])
    return mesh


def _meshes(params: SimParams, n_parts: int, mesh_dir: Path | None, seed: int) -> list[tuple[str, trimesh.Trimesh]]:
    rng = np.random.default_rng([seed, 7])
    out = [(f"gen-{i:03d}", _generated_mesh(rng, params.library.size_mm.min, params.library.size_mm.max))
           for i in range(n_parts)]
    if mesh_dir is not None and mesh_dir.is_dir():
        from fabgrid.geometry.formats import by_extension
        from fabgrid.geometry.load import load_path

        for f in sorted(mesh_dir.iterdir()):
            if by_extension(f.suffix) is None:
                continue
            try:
                m = load_path(f).trimesh  # the one part loader; its mesh is this library's to move
            except InputError:
                continue
            if not m.is_watertight or m.volume <= 0:
                continue
            ext = np.asarray(m.extents)
            if ext.min() < 2.0 or ext.max() > 250.0:
                continue
            m.apply_translation(-m.bounds[0])
            out.append((f"mesh-{f.stem}", m))
    return out


def _assign_materials(params: SimParams, network: Network, n: int, seed: int) -> list[str]:
    w = {m: x for m, x in params.demand.material_weights.items() if m in network.catalog.materials}
    if not w:
        raise InputError("sim.yaml: demand.material_weights names no material of the catalog",
                         hint="use material ids of materials.yaml", code="sim.params")
    mats = sorted(w)
    first = sorted(mats, key=lambda m: -w[m])[:n]
    rng = np.random.default_rng([seed, 8])
    p = np.array([w[m] for m in mats])
    rest = [mats[i] for i in rng.choice(len(mats), size=max(n - len(first), 0), p=p / p.sum())]
    return first + rest


def _model_facts(part: Part, model: MachineModel, network: Network, material: str, rates: Rates,
                 q_ref: int, density_volume: float, density_plate: float) -> ModelFacts:
    mat = network.catalog.materials[material]
    e1 = estimate(part, model, mat, 1, rates)
    eq = estimate(part, model, mat, q_ref, rates)
    b = max(eq.builds, 1)
    t1, tq = e1.job_time_s / 3600.0, eq.job_time_s / 3600.0
    marginal = max((tq - b * t1) / max(q_ref - b, 1), 1e-4) if q_ref > b else t1
    fixed = max(t1 - marginal, 0.0)
    bx, by, bz = model.build_volume_mm
    nesting = network.catalog.processes[model.process].capability.nesting
    if nesting is NestingMethod.VOLUME:
        fraction = part.solid_volume_mm3 / (density_volume * bx * by * bz)
    elif nesting is NestingMethod.NONE:
        fraction = 0.0
    else:
        x, y, _ = part.bbox_mm
        fraction = (x * y) / (density_plate * bx * by)
    return ModelFacts(marginal_h=marginal, fixed_h=fixed, ideal_unit_h=eq.time_s / 3600.0,
                      fraction=min(max(fraction, 1e-4), 1.0), material_g=eq.material_g)


def measure_density(network: Network, meshes: list[tuple[str, trimesh.Trimesh]], time_limit_s: float,
                    defaults: tuple[float, float]) -> tuple[float, float, str]:
    """Packing densities of a mixed powder-bed build and of a full FDM plate, by the real nesting engine."""
    from fabgrid.nesting.parts import part_from_mesh
    from fabgrid.nesting.plate import arrange
    from fabgrid.nesting.volume import pack_parts

    models = network.catalog.machine_models.values()
    sls = min((m for m in models if m.process is ProcessFamily.SLS), key=lambda m: m.id, default=None)
    fdm = min((m for m in models if m.process is ProcessFamily.FDM), key=lambda m: m.id, default=None)
    small = [(n, m) for n, m in meshes if float(np.max(m.extents)) < 80.0][:6]
    dv, dp = defaults
    notes = []
    if sls is not None and small:
        proc = network.catalog.processes[sls.process]
        builds = pack_parts([part_from_mesh(m, n, copies=3) for n, m in small], sls, process=proc,
                            spacing_mm=proc.capability.nest_spacing_mm, time_limit_s=time_limit_s)
        dv = float(builds[0].density)
        notes.append(f"volume {dv:.3f} (nesting.volume on {len(small)} parts x3 in {sls.id})")
    if fdm is not None and small:
        bed = fdm.build_volume_mm[0] * fdm.build_volume_mm[1]
        areas = [float(m.extents[0] * m.extents[1]) for _, m in small]
        copies = max(2, math.ceil(1.5 * bed / max(sum(areas), 1.0)))
        proc = network.catalog.processes[fdm.process]
        plates = arrange([part_from_mesh(m, n, copies=copies) for n, m in small], fdm, process=proc,
                         spacing_mm=proc.capability.nest_spacing_mm, time_limit_s=time_limit_s)
        full = plates[0]
        if len(plates) > 1:
            bbox_area = sum(p.size_mm[0] * p.size_mm[1] for p in full.placements)
            dp = min(bbox_area / bed, 1.0)
            notes.append(f"plate {dp:.3f} (nesting.plate, bounding-box area of a full {fdm.id} plate)")
    return dv, dp, "; ".join(notes) or "defaults of sim.yaml (nesting not run)"


def library_inputs(params: SimParams) -> str:
    """The assumptions `build_library` reads, as one string: two parameter sets with the same string
    (e.g. scenarios of a sweep that differ in policy settings only) share one library."""
    doc = {"library": params.library.model_dump(mode="json"), "start_date": params.start_date.isoformat(),
           "material_weights": params.demand.material_weights,
           "handling_s_per_part": params.operators.handling_s_per_part,
           "default_density": params.fabgrid.default_density.model_dump(mode="json"),
           "packing_time_limit_s": params.fabgrid.packing_time_limit_s}
    return json.dumps(doc, sort_keys=True)


def build_library(network: Network, params: SimParams, *, n_parts: int | None = None, mesh_dir: Path | None = None,
                  measure_packing: bool = True, seed: int = 0, rates: Rates | None = None,
                  densities: tuple[float, float, str] | None = None) -> Library:
    """Generate the part library and compute every costing fact once (seconds, not per order).
    `densities` (volume, plate, source), e.g. those another process measured, replace the nesting run."""
    rates = rates or load_rates()
    n = params.library.generated_parts if n_parts is None else n_parts
    meshes = _meshes(params, n, mesh_dir, seed)
    d = params.fabgrid.default_density
    if densities is not None:
        dv, dp, src = densities
    elif measure_packing:
        dv, dp, src = measure_density(network, meshes, params.fabgrid.packing_time_limit_s, (d.volume, d.plate))
    else:
        dv, dp, src = d.volume, d.plate, "defaults of sim.yaml (nesting not run)"
    mats = _assign_materials(params, network, len(meshes), seed)
    now = datetime.combine(params.start_date, time(0, 0), tzinfo=UTC)
    handling = params.operators.handling_s_per_part
    parts: list[PartFacts] = []
    for (name, mesh), material in zip(meshes, mats, strict=True):
        cp = from_mesh(mesh, name)
        mat = network.catalog.materials[material]
        offers: dict[int, dict[str, Offer]] = {}
        va: dict[int, float] = {}
        for q in params.library.quote_quantities:
            found, _ = quote_network(cp, network, QuoteRequest(material=material, quantity=q), rates, now)
            offers[q] = {o.site: Offer(o.site, o.machine, o.unit_price_cny, o.lead_time_days) for o in found}
            if found:
                mat_cny = float(found[0].breakdown.get("material_cny", 0.0))
                va[q] = max(median(o.unit_price_cny for o in found) - mat_cny, 0.0)
        if not any(offers.values()):
            continue
        post = post_process(network.catalog, mat.process, cp.area_mm2, None)
        used = {o.model for per in offers.values() for o in per.values()}
        facts = {m: _model_facts(cp, network.catalog.machine_models[m], network, material, rates,
                                 params.library.reference_quantity, dv, dp) for m in sorted(used)}
        parts.append(PartFacts(name=name, material=material, process=mat.process, volume_mm3=cp.solid_volume_mm3,
                               part_g=cp.solid_volume_mm3 * mat.density_g_cm3 / 1000.0,
                               finishing_h=(post.operator_s + handling) / 3600.0, offers=offers,
                               value_added_cny=va, models=facts))
    if not parts:
        raise InputError("no part of the library can be made by the network", code="sim.library")
    return Library(parts=parts, density_volume=dv, density_plate=dp, density_source=src)
