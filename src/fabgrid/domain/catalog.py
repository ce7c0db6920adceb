"""Typed records of the catalog and the network: processes, materials, machines, sites.

These are the contract every engine reads. Pydantic v2 models, frozen; no I/O, no database,
no web. Loading and validating the shipped YAML lives in `fabgrid.data`.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Record(BaseModel):
    """Base of the catalog records: frozen, unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ProcessFamily(StrEnum):
    """The manufacturing process families the platform plans for."""

    FDM = "fdm"
    SLA = "sla"
    SLS = "sls"
    MJF = "mjf"
    METAL_PBF = "metal_pbf"
    CNC = "cnc"

    @property
    def is_additive(self) -> bool:
        """True for every process but CNC machining."""
        return self is not ProcessFamily.CNC


class Finish(Record):
    """A post-processing option a buyer can choose (dyeing, vapour smoothing, ...)."""

    id: str
    name: str
    #: The name on zh-CN pages and documents (empty: `name` in both languages).
    name_zh: str = ""
    processes: tuple[ProcessFamily, ...]
    time_s_per_part: float = Field(ge=0)
    time_s_per_cm2: float = Field(ge=0, default=0.0)
    cost_cny_per_part: float = Field(ge=0, default=0.0)
    lead_days: int = Field(ge=0, default=0)


class NestingMethod(StrEnum):
    """How the parts of one build are arranged: packed in 3D in a powder bed, laid out on a plate, or
    not at all (a machining job is one part in a fixture)."""

    VOLUME = "volume"
    PLATE = "plate"
    NONE = "none"


class OrientationRule(StrEnum):
    """Which orientation of a part a process prefers (the choosers of `geometry.orient`)."""

    LEAST_SUPPORT = "least_support"
    LEAST_HEIGHT = "least_height"
    LARGEST_BASE = "largest_base"


class SupportModel(StrEnum):
    """What holds a part up while it is built: nothing to model (`none`: the bed, the resin's own
    supports left to the slicer, or the fixture), the unfused powder (`powder`), or support columns
    anchored to the plate that nesting and costing model (`columns`)."""

    NONE = "none"
    POWDER = "powder"
    COLUMNS = "columns"


class ProcessCapability(Record):
    """What the platform does with a process, in one place: nesting, orientation, costing and the
    simulator read it (processes.yaml's `capability` block, explained there).

    nesting / nest_spacing_mm: how builds are arranged and the default gap between parts;
    orientation: the chooser of the recommended orientation;
    shared_builds: parts of several orders (customers) may share one build;
    supports / support_lift_mm: the support model and, for `columns`, the lift off the plate;
    unattended: a started job runs without an operator (no operator time while it runs);
    round_the_clock: machines run through unstaffed hours (long batched builds), else they deliver the
    site's staffed hours, an operator clearing and starting each job.
    """

    nesting: NestingMethod
    nest_spacing_mm: float = Field(ge=0, le=50, default=0.0)
    orientation: OrientationRule
    shared_builds: bool
    supports: SupportModel
    support_lift_mm: float = Field(ge=0, le=50, default=0.0)
    unattended: bool
    round_the_clock: bool

    @model_validator(mode="after")
    def _consistent(self) -> ProcessCapability:
        if self.nesting is NestingMethod.NONE and self.shared_builds:
            raise ValueError("a process without builds (nesting: none) cannot share builds")
        if self.supports is not SupportModel.COLUMNS and self.support_lift_mm:
            raise ValueError("support_lift_mm is only for supports: columns")
        return self


class Process(Record):
    """A process family with its design rules, post-processing steps and capability record."""

    id: ProcessFamily
    name: str
    name_zh: str = ""
    description: str
    min_wall_mm: float = Field(gt=0)
    min_hole_mm: float = Field(gt=0)
    min_gap_mm: float = Field(gt=0)
    min_feature_mm: float = Field(gt=0)
    tolerance_mm: float = Field(gt=0)
    needs_escape_holes: bool = False
    min_escape_hole_mm: float = Field(ge=0, default=0.0)
    overhang_angle_deg: float | None = Field(default=None, ge=0, le=90)
    post_processing: tuple[str, ...] = ()
    capability: ProcessCapability
    source: str

    @model_validator(mode="after")
    def _supports_need_an_angle(self) -> Process:
        if self.capability.supports is SupportModel.COLUMNS and self.overhang_angle_deg is None:
            raise ValueError(f"process {self.id.value}: supports: columns needs overhang_angle_deg")
        return self


class Material(Record):
    """A material for one process, with its price, density and key properties."""

    id: str
    name: str
    name_zh: str = ""
    process: ProcessFamily
    density_g_cm3: float = Field(gt=0, lt=25)
    price_cny_per_kg: float = Field(gt=0)
    embodied_co2_kg_per_kg: float = Field(ge=0)
    refresh_ratio: float | None = Field(default=None, ge=0, le=1)
    tensile_strength_mpa: float | None = Field(default=None, gt=0)
    elongation_pct: float | None = Field(default=None, ge=0)
    heat_deflection_c: float | None = None
    properties: dict[str, str | float] = Field(default_factory=dict)
    source: str


class PowerDraw(Record):
    """Electrical power of a machine per state, in W."""

    producing_w: float = Field(ge=0)
    idle_w: float = Field(ge=0)
    setup_w: float = Field(ge=0)
    standby_w: float = Field(ge=0)


class MachineModel(Record):
    """A real machine model with its published specification.

    `params` carries the process-specific figures the costing model of the machine's process
    family reads (e.g. FDM ``print_speed_mm_s``, SLS ``scan_speed_mm_s``, CNC ``spindle_kw``);
    each costing module validates the keys it needs.
    """

    id: str
    vendor: str
    model: str
    #: The vendor's and the model's names on zh-CN pages where they differ (empty: as in English).
    vendor_zh: str = ""
    model_zh: str = ""
    process: ProcessFamily
    build_volume_mm: tuple[float, float, float]
    layer_height_mm: tuple[float, float] = (0.0, 0.0)
    default_layer_height_mm: float = Field(ge=0, default=0.0)
    power: PowerDraw
    price_cny: float = Field(gt=0)
    lifetime_h: float = Field(gt=0)
    maintenance_cny_per_year: float = Field(ge=0)
    params: dict[str, float] = Field(default_factory=dict)
    materials: tuple[str, ...]
    source: str

    @field_validator("build_volume_mm")
    @classmethod
    def _positive_volume(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) <= 0:
            raise ValueError("every build volume dimension must be > 0 mm")
        return v

    @model_validator(mode="after")
    def _layers_ordered(self) -> MachineModel:
        lo, hi = self.layer_height_mm
        if lo > hi:
            raise ValueError(f"layer_height_mm min {lo} is above max {hi}")
        return self


class Machine(Record):
    """One installed machine at a site."""

    id: str
    model: str


class Station(Record):
    """A post-processing or inspection station at a site (depowdering, wash/cure, ...)."""

    id: str
    kind: str
    count: int = Field(ge=1, default=1)


class Shift(Record):
    """A working shift, in the site's local time (Asia/Shanghai)."""

    name: str
    start: time
    end: time


class Calendar(Record):
    """Working days and shifts of a site."""

    shifts: tuple[Shift, ...]
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    @field_validator("workdays")
    @classmethod
    def _weekday_range(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("workdays are weekday numbers 0 (Monday) .. 6 (Sunday)")
        return v

    def is_workday(self, day: date) -> bool:
        """True when the site works on `day` (weekday rule, holidays, make-up workdays)."""
        if day in self.extra_workdays:
            return True
        return day.weekday() in self.workdays and day not in self.holidays

    def hours_per_workday(self) -> float:
        """Scheduled hours on a working day, summed over shifts (overnight shifts wrap)."""
        total = 0.0
        for s in self.shifts:
            start = s.start.hour * 60 + s.start.minute
            end = s.end.hour * 60 + s.end.minute
            total += ((end - start) % (24 * 60) or 24 * 60) / 60.0
        return total


class QualityRecord(Record):
    """A site's track record, used to rank offers and in the simulator."""

    on_time_rate: float = Field(ge=0, le=1)
    first_pass_yield: float = Field(ge=0, le=1)
    rating: float = Field(ge=0, le=5)
    orders_completed: int = Field(ge=0)


class Maintenance(Record):
    """Days (`start` to `end` inclusive, site time) a machine (`machine_id`) or the whole site (None) is down."""

    start: date
    end: date
    machine_id: str | None = None


class Site(Record):
    """A factory of the network. Companies are fictional; places and tariffs are real."""

    id: str
    name: str
    city: str
    province: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    park: str | None = None
    machines: tuple[Machine, ...]
    stations: tuple[Station, ...] = ()
    materials: tuple[str, ...]
    labour_cny_per_h: float = Field(gt=0)
    electricity_cny_per_kwh: float = Field(gt=0)
    grid_co2_kg_per_kwh: float = Field(ge=0)
    certifications: tuple[str, ...] = ()
    calendar: Calendar
    quality: QualityRecord
    #: The site's own machine-hour rate per machine model id (CNY/h); a model without one is priced at the
    #: catalog-derived rate (depreciation + maintenance, `costing.price.machine_rate_cny_per_h`).
    machine_rates_cny_per_h: dict[str, float] = Field(default_factory=dict)
    #: Declared by the factory on its storefront (services.factories): a markup on the material cost, its own
    #: minimum order value (the higher of it and the process minimum applies), "at capacity" (no offers) and a
    #: maximum queue ahead in machine hours (no offers beyond it), and the version of its rates that offers cite.
    material_markup: float = Field(default=0.0, ge=0, le=5)
    minimum_order_cny: float = Field(default=0.0, ge=0)
    at_capacity: bool = False
    max_queue_h: float | None = Field(default=None, gt=0)
    rate_version: int = Field(default=0, ge=0)
    #: A factory on probation takes no single order above this value (CNY); None once it is verified.
    max_order_cny: float | None = Field(default=None, gt=0)
    #: Expiry of a certification where the factory declared it; an expired one no longer matches work needing it.
    certificate_expiry: dict[str, date] = Field(default_factory=dict)
    #: Provinces the factory ships to (ids of provinces.yaml); empty: every destination.
    ships_to: tuple[str, ...] = ()
    #: The factory's own price per part of a finish (finish id -> CNY), replacing the costed finishing step.
    finishes_cny: dict[str, float] = Field(default_factory=dict)
    #: Maintenance windows of the site or of one machine: no capacity on those days (the quote's dates wait).
    maintenance: tuple[Maintenance, ...] = ()

    def ships_to_province(self, province: str | None) -> bool:
        """True when the factory delivers to `province` (None: no destination given)."""
        return not self.ships_to or province is None or province in self.ships_to


class Catalog(Record):
    """Processes, materials, finishes and machine models, indexed by id."""

    processes: dict[ProcessFamily, Process]
    materials: dict[str, Material]
    finishes: dict[str, Finish]
    machine_models: dict[str, MachineModel]


    def material(self, name: str, process: ProcessFamily | str | None = None) -> Material:
        """The material called `name`: its id (``fdm_pla``), its id without the process (``pla``), or
        its name (``PLA``), case-insensitive; `process` settles names offered by several processes.

        Raises `InputError` naming the choices when `name` is unknown or ambiguous.
        """
        from fabgrid.errors import InputError

        if name in self.materials:
            return self.materials[name]
        key = name.strip().lower()
        found = [m for m in self.materials.values()
                 if key in (m.id.lower(), m.id.lower().split("_", 1)[-1], m.name.lower())
                 and (process is None or m.process == process)]
        if len(found) == 1:
            return found[0]
        if found:
            raise InputError(f"material {name!r} is offered by several processes: "
                             f"{', '.join(m.id for m in found)}",
                             hint="give the full material id, or the process with --process",
                             code="material.ambiguous")
        raise InputError(f"unknown material {name!r}", hint=f"use one of: {', '.join(sorted(self.materials))}",
                         code="material.unknown", status=404)


class Network(Record):
    """The sites of the network with the catalog they refer to."""

    catalog: Catalog
    sites: dict[str, Site]

    def site(self, site_id: str) -> Site:
        """The site with id `site_id`; KeyError names the known ids."""
        try:
            return self.sites[site_id]
        except KeyError:
            raise KeyError(f"unknown site {site_id!r}") from None

    def machine_model(self, machine: Machine) -> MachineModel:
        """The model record of an installed machine."""
        return self.catalog.machine_models[machine.model]


# ---------------------------------------------------------------- names in the reader's language

_BILINGUAL = re.compile(r"^(?P<zh>[^A-Za-z(（]*[\u2e80-\u9fff][^A-Za-z(（]*?)\s*[(（]?\s*"
                        r"(?P<en>[A-Za-z][^\u2e80-\u9fff]*?)\s*[)）]?$")


def bilingual(text: str, lang: str) -> str:
    """One language's half of a name written in both, Chinese first, as the shipped sites and parks are
    ("星沙增材制造 Xingsha Additive Works", "长沙经济技术开发区 (Changsha ETDZ, Xingsha)"): the Chinese half for
    `lang` zh / zh-CN, else the English one. A name in one language (as a factory may write it) is kept whole."""
    m = _BILINGUAL.match(text.strip())
    if m is None:
        return text
    return m["zh"].strip() if lang.lower().startswith("zh") else m["en"].strip()


def local_name(record: object, lang: str) -> str:
    """The name of a catalog or network record (process, material, finish, machine model, site) or of a bare
    name in `lang`: its `name_zh` on zh pages where the catalog has one, else its name (a bilingual one
    halved, `bilingual`). A machine model is its vendor and model. None gives ''."""
    if record is None:
        return ""
    zh = lang.lower().startswith("zh")
    if isinstance(record, str):
        return bilingual(record, lang)
    if isinstance(record, MachineModel):
        vendor = record.vendor_zh if zh and record.vendor_zh else record.vendor
        return f"{vendor} {record.model_zh if zh and record.model_zh else record.model}"
    name_zh = getattr(record, "name_zh", "")
    if zh and name_zh:
        return str(name_zh)
    return bilingual(str(getattr(record, "name", record)), lang)
