"""A factory runs its own storefront: machines (catalog models or custom ones), materials in stock with lots,
rates (machine-hour rate per model, material markup, minimum order, finishing prices), calendar (shifts,
holidays, maintenance windows), capacity ("at capacity", maximum queue) and the provinces it ships to, for the
caller's own site only. Maintenance windows, finishing prices and ship regions are copied onto the site record,
which the quote reads (its dates, its price, whether it offers to a destination).

Every change is validated (a clear 422 and nothing changed), versioned (the storefront's version; rates also
their rate version, which offers cite) and stored through services.network, which bumps the network revision so
the next quote sees it. Depends on the store, services.network and the domain; never on api, web or cli.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.catalog import Calendar, Machine, MachineModel, Maintenance, PowerDraw, ProcessFamily, Shift, Site
from fabgrid.domain.factory import CalendarEntry, CalendarEntryKind, MachineDeclaration, MaterialStock, Storefront
from fabgrid.errors import InputError
from fabgrid.services import network
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: Limits of what a storefront may declare (documented in the API).
MAX_MACHINES = 200
MAX_BUILD_MM = 6000.0
MAX_POWER_W = 500_000.0
MAX_MARKUP = 5.0  # +500 % on the material cost
MAX_MINIMUM_ORDER_CNY = 1_000_000.0
MAX_FINISH_CNY = 100_000.0
MAX_QUEUE_H = 10_000.0
MAX_CALENDAR_ENTRIES = 500


@dataclass(frozen=True)
class StorefrontView:
    """The caller's site as the network holds it, its storefront, and the catalog models of its machines."""

    site: Site
    storefront: Storefront
    machine_models: dict[str, MachineModel]

    @property
    def version(self) -> int:
        """The storefront's version (every accepted change adds one)."""
        return self.storefront.version


def _site_of(who: Principal) -> str:
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory with an approved site has a storefront",
                         hint="apply to join: POST /api/v1/factories/applications", code="factory.no_site",
                         status=403)
    return who.site_id


def _view(uow: UnitOfWork, site_id: str) -> StorefrontView:
    data = network.current(uow)
    site = network.site(uow, site_id)
    front = uow.factories.storefront(site_id) or Storefront(site_id=site_id, rate_version=site.rate_version)
    models = {m.model: data.network.catalog.machine_models[m.model] for m in site.machines
              if m.model in data.network.catalog.machine_models}
    return StorefrontView(site=site, storefront=front, machine_models=models)


def storefront(settings: Settings, who: Principal) -> StorefrontView:
    """The caller's storefront."""
    site_id = _site_of(who)
    with UnitOfWork(settings.database_url) as uow:
        return _view(uow, site_id)


def _save(uow: UnitOfWork, who: Principal, view: StorefrontView, kind: str, site: Site, front: Storefront,
          doc: dict[str, Any], rates_changed: bool = False) -> StorefrontView:
    rate_version = front.rate_version + (1 if rates_changed else 0)
    front = front.model_copy(update={"version": front.version + 1, "rate_version": rate_version})
    site = site.model_copy(update={"rate_version": rate_version})
    network.put_site(uow, site)
    uow.factories.put_storefront(front)
    uow.factories.log(kind, actor_user_id=who.user_id, site_id=site.id, version=front.version, doc=doc)
    uow.commit()
    return _view(uow, site.id)


# ---------------------------------------------------------------------------- machines


def _custom_model(cat: dict[str, MachineModel], site_id: str, i: int, decl: MachineDeclaration,
                  today: str) -> MachineModel:
    c = decl.custom
    assert c is not None
    where = f"machines[{i}].model.custom"
    try:
        proc = ProcessFamily(c.process.strip().lower())
    except ValueError:
        raise InputError(f"{where}.process {c.process!r} is not a process",
                         hint=f"one of {', '.join(p.value for p in ProcessFamily)}", code="storefront.process",
                         status=422) from None
    dims = c.build_volume_mm
    if any(not 0 < d <= MAX_BUILD_MM for d in dims):
        raise InputError(f"{where}.build_volume_mm {list(dims)}: every dimension must be above 0 and at most "
                         f"{MAX_BUILD_MM:.0f} mm", hint="give the machine's usable build volume x, y, z in mm",
                         code="storefront.build_volume", status=422)
    if not 0 < c.power_w <= MAX_POWER_W:
        raise InputError(f"{where}.power_w {c.power_w} must be above 0 and at most {MAX_POWER_W:.0f} W",
                         hint="the machine's electrical power while producing, in W", code="storefront.power",
                         status=422)
    same = [m for m in cat.values() if m.process is proc and not m.id.startswith("custom-")]
    if c.like is not None:
        base = cat.get(c.like)
        if base is None or base.process is not proc:
            raise InputError(f"{where}.like {c.like!r} is not a catalog {proc.value} machine model",
                             hint=", ".join(m.id for m in same), code="storefront.machine_model", status=422)
    elif not same:
        raise InputError(f"{where}: the catalog has no {proc.value} machine to cost it like", status=422,
                         code="storefront.process")
    else:
        vol = dims[0] * dims[1] * dims[2]
        base = min(same, key=lambda m: (abs(m.build_volume_mm[0] * m.build_volume_mm[1] * m.build_volume_mm[2] - vol),
                                        m.id))
    mats = tuple(c.materials) if c.materials is not None else base.materials
    bad = [m for m in mats if m not in base.materials]
    if bad:
        raise InputError(f"{where}.materials {', '.join(bad)} are not {proc.value} materials a machine like "
                         f"{base.id} runs", hint=", ".join(base.materials), code="storefront.material", status=422)
    k = c.power_w / max(base.power.producing_w, 1e-9)
    return base.model_copy(update={
        "id": f"custom-{site_id}-{i + 1:02d}", "vendor": c.vendor or "custom",
        "model": c.model or f"custom {proc.value}",
        "build_volume_mm": tuple(float(d) for d in dims), "materials": mats,
        "power": PowerDraw(producing_w=c.power_w, idle_w=base.power.idle_w * k, setup_w=base.power.setup_w * k,
                           standby_w=base.power.standby_w * k),
        "source": f"declared by factory {site_id} on {today}; costed like {base.id} ({base.source})"})


def put_machines(settings: Settings, who: Principal, machines: Sequence[MachineDeclaration]) -> StorefrontView:
    """Replace the site's machine list. Rates of models no longer there are dropped; a stocked material that no
    machine runs any more is refused (remove it from the materials first)."""
    site_id = _site_of(who)
    if len(machines) > MAX_MACHINES:
        raise InputError(f"at most {MAX_MACHINES} machines per site", code="storefront.limit", status=422)
    with UnitOfWork(settings.database_url) as uow:
        view = _view(uow, site_id)
        net = network.current(uow).network
        cat = dict(net.catalog.machine_models)
        elsewhere = {m.id for s in net.sites.values() if s.id != site_id for m in s.machines}
        out: list[Machine] = []
        names: dict[str, str] = {}
        today = datetime.now(UTC).date().isoformat()
        n = 0
        for i, decl in enumerate(machines):
            if (decl.model is None) == (decl.custom is None):
                raise InputError(f"machines[{i}].model: give a catalog machine model id or {{custom: {{...}}}}",
                                 hint="GET /api/v1/machine-models lists the catalog", code="storefront.machine_model",
                                 status=422)
            if decl.model is not None:
                foreign = decl.model.startswith("custom-") and decl.model not in view.machine_models
                if decl.model not in cat or foreign:
                    raise InputError(f"machines[{i}].model {decl.model!r} is not a machine model of the catalog",
                                     hint="GET /api/v1/machine-models lists them, or declare {custom: {process, "
                                          "build_volume_mm, power_w}}", code="storefront.machine_model", status=422)
                model_id = decl.model
            else:
                mm = _custom_model(cat, site_id, i, decl, today)
                uow.catalog.put_machine_model(mm)
                cat[mm.id] = mm
                model_id = mm.id
            if decl.id is not None:
                mid = decl.id
            else:
                n += 1
                taken = {m.id for m in out} | elsewhere | {d.id for d in machines if d.id}
                while f"{site_id}-m{n:02d}" in taken:
                    n += 1
                mid = f"{site_id}-m{n:02d}"
            if mid in elsewhere or any(m.id == mid for m in out):
                raise InputError(f"machines[{i}].id {mid!r} is used by another machine", hint="leave id out to get one",
                                 code="storefront.machine_id", status=422)
            out.append(Machine(id=mid, model=model_id))
            if decl.name:
                names[mid] = decl.name.strip()
        models = {m.model for m in out}
        runnable = {mat for m in out for mat in cat[m.model].materials}
        orphan = [s.material for s in view.storefront.stock if s.material not in runnable]
        if orphan:
            raise InputError(f"material(s) {', '.join(dict.fromkeys(orphan))} in stock would be run by no machine",
                             hint="PUT /api/v1/factory/materials without them first, or keep a machine that runs them",
                             code="storefront.material", status=422)
        rates = {k: v for k, v in view.site.machine_rates_cny_per_h.items() if k in models}
        site = view.site.model_copy(update={"machines": tuple(out), "machine_rates_cny_per_h": rates})
        front = view.storefront.model_copy(update={"machine_names": names})
        doc = {"machines": [m.model_dump() for m in out]}
        changed = rates != view.site.machine_rates_cny_per_h
        return _save(uow, who, view, "machines", site, front, doc, rates_changed=changed)


# ---------------------------------------------------------------------------- materials


def put_materials(settings: Settings, who: Principal, stock: Sequence[MaterialStock]) -> StorefrontView:
    """Replace the materials in stock (several lots of one material may be listed). A material is offered while
    its stock is above 0 kg."""
    site_id = _site_of(who)
    with UnitOfWork(settings.database_url) as uow:
        view = _view(uow, site_id)
        cat = network.current(uow).network.catalog
        procs = sorted({m.process.value for m in view.machine_models.values()})
        for i, s in enumerate(stock):
            mat = cat.materials.get(s.material)
            if mat is None:
                raise InputError(f"materials[{i}].material {s.material!r} is not a material of the catalog",
                                 hint="GET /api/v1/materials lists them", code="storefront.material", status=422)
            runs = [m.id for m in view.machine_models.values() if mat.id in m.materials]
            if not runs:
                raise InputError(f"materials[{i}].material {mat.id} is a {mat.process.value} material that none of "
                                 f"your machines runs (your processes: {', '.join(procs) or 'none'})",
                                 hint="add a machine that runs it first (PUT /api/v1/factory/machines)",
                                 code="storefront.material", status=422)
        offered = tuple(dict.fromkeys(s.material for s in stock if s.stock_kg > 0))
        site = view.site.model_copy(update={"materials": offered})
        front = view.storefront.model_copy(update={"stock": tuple(stock)})
        return _save(uow, who, view, "materials", site, front, {"materials": [s.model_dump() for s in stock]})


# ---------------------------------------------------------------------------- rates


def put_rates(settings: Settings, who: Principal, machine_hour_cny: dict[str, float], material_markup: float,
              minimum_order_cny: float, finishes: dict[str, float] | None = None) -> StorefrontView:
    """Replace the rates: a machine-hour rate per machine model of the site (a model left out is priced at the
    catalog-derived rate), the markup on material cost, the minimum order value, finishing prices."""
    site_id = _site_of(who)
    with UnitOfWork(settings.database_url) as uow:
        view = _view(uow, site_id)
        cat = network.current(uow).network.catalog
        for model, rate in machine_hour_cny.items():
            if model not in view.machine_models:
                raise InputError(f"machine_hour_cny.{model}: you have no {model!r} machine",
                                 hint=f"your machine models: {', '.join(sorted(view.machine_models)) or 'none'}",
                                 code="storefront.machine_model", status=422)
            if not 0 < rate <= network.MAX_MACHINE_RATE_CNY_PER_H:
                raise InputError(f"machine_hour_cny.{model} = {rate} CNY/h is outside 0 < rate <= "
                                 f"{network.MAX_MACHINE_RATE_CNY_PER_H:.0f}", hint="the rate per machine hour in CNY",
                                 code="storefront.rate", status=422)
        if not 0 <= material_markup <= MAX_MARKUP:
            raise InputError(f"material_markup {material_markup} is outside 0 .. {MAX_MARKUP} (0.25 = +25 %)",
                             code="storefront.rate", status=422)
        if not 0 <= minimum_order_cny <= MAX_MINIMUM_ORDER_CNY:
            raise InputError(f"minimum_order_cny {minimum_order_cny} is outside 0 .. {MAX_MINIMUM_ORDER_CNY:.0f}",
                             code="storefront.rate", status=422)
        procs = {m.process for m in view.machine_models.values()}
        for fid, price in (finishes or {}).items():
            f = cat.finishes.get(fid)
            if f is None or not procs.intersection(f.processes):
                mine = sorted(k for k, v in cat.finishes.items() if procs.intersection(v.processes))
                raise InputError(f"finishes.{fid}: not a finish of your processes", hint=", ".join(mine),
                                 code="storefront.finish", status=422)
            if not 0 <= price <= MAX_FINISH_CNY:
                raise InputError(f"finishes.{fid} = {price} CNY is outside 0 .. {MAX_FINISH_CNY:.0f}",
                                 code="storefront.rate", status=422)
        rates = {k: float(v) for k, v in machine_hour_cny.items()}
        site = view.site.model_copy(update={"machine_rates_cny_per_h": rates, "material_markup": float(material_markup),
                                            "minimum_order_cny": float(minimum_order_cny),
                                            "finishes_cny": {k: float(v) for k, v in (finishes or {}).items()}})
        front = view.storefront.model_copy(update={"finishes_cny": {k: float(v) for k, v in (finishes or {}).items()}})
        doc = {"machine_hour_cny": rates, "material_markup": material_markup, "minimum_order_cny": minimum_order_cny,
               "finishes": finishes or {}}
        return _save(uow, who, view, "rates", site, front, doc, rates_changed=True)


# ---------------------------------------------------------------------------- calendar


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _shift_span(s: Shift) -> tuple[int, int]:
    start, end = _minutes(s.start), _minutes(s.end)
    return start, end if end > start else end + 24 * 60


def put_calendar(settings: Settings, who: Principal, shifts: Sequence[Shift], workdays: Sequence[int],
                 entries: Sequence[CalendarEntry]) -> StorefrontView:
    """Replace the calendar: shifts (not overlapping), workdays (0 = Monday), and closed periods (holidays of
    the site, maintenance windows of the site or of one machine; not overlapping). The national holidays stay."""
    site_id = _site_of(who)
    if not shifts:
        raise InputError("shifts: a calendar needs at least one shift", code="storefront.calendar", status=422)
    if len(entries) > MAX_CALENDAR_ENTRIES:
        raise InputError(f"at most {MAX_CALENDAR_ENTRIES} calendar entries", code="storefront.limit", status=422)
    spans = [_shift_span(s) for s in shifts]
    for i, a in enumerate(spans):
        for j in range(i):
            b = spans[j]
            if any(a[0] + d < b[1] and b[0] < a[1] + d for d in (-1440, 0, 1440)):
                raise InputError(f"shifts[{i}] ({shifts[i].name}) overlaps shifts[{j}] ({shifts[j].name})",
                                 hint="shifts may touch (16:00-00:00 after 08:00-16:00) but not overlap",
                                 code="storefront.calendar_overlap", status=422)
    for i, e in enumerate(entries):
        for j in range(i):
            if e.overlaps(entries[j]):
                raise InputError(f"entries[{i}] ({e.kind.value} {e.start}..{e.end}) overlaps entries[{j}] "
                                 f"({entries[j].kind.value} {entries[j].start}..{entries[j].end})",
                                 hint="merge them into one entry", code="storefront.calendar_overlap", status=422)
    with UnitOfWork(settings.database_url) as uow:
        view = _view(uow, site_id)
        machine_ids = {m.id for m in view.site.machines}
        for i, e in enumerate(entries):
            if e.machine_id is not None and e.machine_id not in machine_ids:
                raise InputError(f"entries[{i}].machine_id {e.machine_id!r} is not one of your machines",
                                 hint=", ".join(sorted(machine_ids)) or "declare machines first",
                                 code="storefront.machine_id", status=422)
        old = view.storefront.entries
        own_before = {d for e in old if e.kind is CalendarEntryKind.HOLIDAY for d in e.days()}
        national = [d for d in view.site.calendar.holidays if d not in own_before]
        own = [d for e in entries if e.kind is CalendarEntryKind.HOLIDAY for d in e.days()]
        try:
            cal = Calendar(shifts=tuple(shifts), workdays=tuple(workdays),
                           holidays=tuple(sorted(set(national) | set(own))),
                           extra_workdays=view.site.calendar.extra_workdays)
        except ValueError as exc:
            raise InputError(f"calendar: {exc}", code="storefront.calendar", status=422) from None
        down = tuple(Maintenance(start=e.start, end=e.end, machine_id=e.machine_id) for e in entries
                     if e.kind is CalendarEntryKind.MAINTENANCE)
        site = view.site.model_copy(update={"calendar": cal, "maintenance": down})
        front = view.storefront.model_copy(update={"entries": tuple(entries)})
        doc = {"shifts": [s.model_dump(mode="json") for s in shifts], "workdays": list(workdays),
               "entries": [e.model_dump(mode="json") for e in entries]}
        return _save(uow, who, view, "calendar", site, front, doc)


# ---------------------------------------------------------------------------- capacity


def put_capacity(settings: Settings, who: Principal, at_capacity: bool, max_queue_h: float | None) -> StorefrontView:
    """Say the site is full (no offers while `at_capacity`) and the most machine hours it queues (no offers once
    its queue reaches them; None: no limit)."""
    site_id = _site_of(who)
    if max_queue_h is not None and not 0 < max_queue_h <= MAX_QUEUE_H:
        raise InputError(f"max_queue_h {max_queue_h} is outside 0 < h <= {MAX_QUEUE_H:.0f}",
                         hint="machine hours of queued work, or null for no limit", code="storefront.capacity",
                         status=422)
    with UnitOfWork(settings.database_url) as uow:
        view = _view(uow, site_id)
        site = view.site.model_copy(update={"at_capacity": at_capacity, "max_queue_h": max_queue_h})
        front = view.storefront.model_copy(update={"at_capacity": at_capacity, "max_queue_h": max_queue_h})
        return _save(uow, who, view, "capacity", site, front, {"at_capacity": at_capacity, "max_queue_h": max_queue_h})


# ---------------------------------------------------------------------------- regions


def known_provinces(uow: UnitOfWork) -> dict[str, str]:
    """Province id -> Chinese name ("" where unknown) of every province a destination city lies in or the network
    has tariffs for (provinces.yaml)."""
    from fabgrid.services import factories

    out = {p.id: p.name_zh for p in factories.provinces(uow).values()}
    for c in network.current(uow).logistics.cities.values():
        out.setdefault(c.province, "")
    return out


def put_regions(settings: Settings, who: Principal, provinces: Sequence[str]) -> StorefrontView:
    """Replace the provinces the site ships to (ids or Chinese names of the provinces the network knows; an empty
    list: every destination). A buyer elsewhere gets no offer from it and no line is allocated to it."""
    site_id = _site_of(who)
    with UnitOfWork(settings.database_url) as uow:
        view = _view(uow, site_id)
        known = known_provinces(uow)
        out: list[str] = []
        for i, p in enumerate(provinces):
            key = p.strip().removesuffix("省").removesuffix("市")
            hit = next((pid for pid, zh in known.items() if key.casefold() == pid.casefold() or key == zh), None)
            if hit is None:
                raise InputError(f"provinces[{i}] {p!r} is not a province the network delivers to",
                                 hint=f"one of {', '.join(sorted(known))}", code="storefront.province", status=422)
            if hit not in out:
                out.append(hit)
        site = view.site.model_copy(update={"ships_to": tuple(out)})
        return _save(uow, who, view, "regions", site, view.storefront, {"ships_to": out})


def destination_provinces(settings: Settings) -> list[str]:
    """The provinces a factory may ship to (`known_provinces`), by id."""
    with UnitOfWork(settings.database_url) as uow:
        return sorted(known_provinces(uow))
