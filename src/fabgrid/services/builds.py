"""Use cases of builds: pack a site's open order lines into builds through the nesting engine (one build per
machine run, lines of several buyers mixed where process and material agree), or a factory's own parts into one
build; list the builds. Re-planning replaces the builds that are still only planned and keeps started ones.

Composes services.nesting, services.designs (the decrypted part files) and the store; never imports api, web or
cli.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.dispatch import BuildPart, BuildStatus, PlannedBuild
from fabgrid.domain.order import OrderStatus
from fabgrid.domain.records import Job, StoredPart
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, jobs, network
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.dispatch import get_build, own_site
from fabgrid.services.nesting import nest_files
from fabgrid.store.uow import UnitOfWork

#: Seconds of nesting search per build when planning a site.
NEST_TIME_S = 5.0
#: Order line statuses whose parts wait for a build.
OPEN_LINES = (OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION)
#: Builds that re-planning keeps whether locked or not (started on their machine).
KEPT = (BuildStatus.SENDING, BuildStatus.PRINTING)


@dataclass(frozen=True)
class PlanResult:
    """The site's builds after planning (kept ones first), and the lines that could not be planned, with why."""

    site: str
    builds: list[PlannedBuild]
    kept: int
    unplanned: list[dict[str, str]]


def _machine_for(uow: UnitOfWork, site_id: str, process: str, material: str,
                 down: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    data = network.current(uow).network
    site = network.site(uow, site_id)
    for m in sorted(site.machines, key=lambda m: m.id in down):  # a machine marked down or in maintenance last
        model = data.catalog.machine_models.get(m.model)
        if model is not None and model.process.value == process and (not model.materials or material
                                                                     in model.materials):
            return m.id, model.id
    return None


def _store(settings: Settings, site_id: str, machine_id: str, model_id: str, process: str, material: str,
           parts: list[BuildPart], files: Sequence[Path], copies: Sequence[str], build_id: str,
           estimated_time_s: float = 0.0) -> PlannedBuild:
    out = settings.data_dir / "builds" / f"{build_id}.3mf"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = nest_files(list(files), model_id, copies=copies, out=out, png=out.with_suffix(".png"),
                        time_limit_s=NEST_TIME_S)
    if len(result.builds) != 1:
        raise InputError(f"the parts need {len(result.builds)} builds on {model_id}, not one",
                         hint="give fewer copies per build", code="build.too_many")
    at = now()
    b = PlannedBuild(id=build_id, site_id=site_id, machine_id=machine_id, machine_model=model_id, process=process,
                     material=material, status=BuildStatus.PLANNED, estimated_time_s=estimated_time_s,
                     parts=tuple(parts), model_file=result.files[0]["3mf"], picture=result.files[0].get("png"),
                     created_at=at, updated_at=at,
                     message=f"{sum(p.copies for p in parts)} parts, density {result.builds[0].density:.2f}")
    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.add_build(b, {"build": result.builds[0].model_dump(mode="json")})
        uow.commit()
    return b


def create_build(settings: Settings, site_id: str, machine_id: str, files: Sequence[Path], material: str,
                 copies: int = 1) -> PlannedBuild:
    """One build of a factory's own part files (`copies` of each) on `machine_id`, nested into one plate."""
    with UnitOfWork(settings.database_url) as uow:
        site = network.site(uow, site_id)
        machine = next((m for m in site.machines if m.id == machine_id), None)
        if machine is None:
            raise NotFoundError(f"machine {machine_id!r} is not at site {site_id}",
                                hint=f"machines there: {', '.join(m.id for m in site.machines)}",
                                code="build.machine")
        model = network.current(uow).network.machine_model(machine)
    for f in files:
        if not Path(f).is_file():
            raise NotFoundError(f"part file {f} not found", code="build.file")
    parts = [BuildPart(name=Path(f).stem, copies=copies) for f in files]
    return _store(settings, site_id, machine_id, model.id, model.process.value, material, parts, files,
                  [str(copies)], new_id("bld"))


def list_builds(settings: Settings, site_id: str | None = None) -> list[PlannedBuild]:
    """The builds (of a site), oldest first."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.dispatch.builds(site_id)


def plan_site(settings: Settings, site_id: str,
              on_progress: Callable[[float, str], None] | None = None) -> PlanResult:
    """Pack the site's open order lines (less the copies already in started builds) into builds, one group per
    (process, material), on the first machine of the site that runs them; `on_progress(fraction, note)` after
    each group."""
    from fabgrid.services.machine_pages import down_windows

    down = frozenset(m for m, _, _ in down_windows(settings, site_id, now()))
    with UnitOfWork(settings.database_url) as uow:
        network.site(uow, site_id)
        dropped = uow.dispatch.drop_planned(site_id)
        lines = uow.orders.lines(site_id=site_id, statuses=OPEN_LINES)
        held = uow.dispatch.planned_copies(line.id for line in lines)
        kept = sum(1 for b in uow.dispatch.builds(site_id) if b.status in KEPT or b.locked)
        groups: dict[tuple[str, str], list[tuple[str, str, str, int, StoredPart]]] = {}
        hours: dict[tuple[str, str], float] = {}
        unplanned: list[dict[str, str]] = []
        for line in lines:
            todo = line.quantity - held.get(line.id, 0)
            if todo <= 0:
                continue
            part = uow.parts.get(line.part_id, None)
            if part is None:
                continue
            member = (line.id, line.order_id, part.filename, todo, part)
            groups.setdefault((line.process.value, line.material), []).append(member)
            key = (line.process.value, line.material)
            hours[key] = hours.get(key, 0.0) + line.machine_h * todo / line.quantity  # the quote's estimate
        machines = {key: _machine_for(uow, site_id, *key, down=down) for key in groups}
        uow.commit()
    del dropped
    builds: list[PlannedBuild] = []
    with tempfile.TemporaryDirectory(prefix="fabgrid-plan-") as tmp:
        for done, ((process, material), members) in enumerate(groups.items()):
            if on_progress is not None:
                on_progress(done / len(groups), f"{process} {material}: {len(members)} lines")
            found = machines[(process, material)]
            if found is None:
                unplanned += [{"line": m[0], "reason": f"no machine at {site_id} runs {process} {material}",
                               "code": "build.no_machine"} for m in members]
                continue
            files, parts, copies = [], [], []
            for line_id, order_id, filename, todo, row in members:
                path = Path(tmp) / f"{line_id}{Path(filename).suffix.lower() or '.stl'}"
                path.write_bytes(designs.read_design(settings, row))
                files.append(path)
                parts.append(BuildPart(name=filename, copies=todo, line_id=line_id, order_id=order_id))
                copies.append(f"{path.stem}:{todo}")
            try:
                builds.append(_store(settings, site_id, found[0], found[1], process, material, parts, files, copies,
                                     new_id("bld"), hours[(process, material)] * 3600.0))
            except InputError as exc:
                unplanned += [{"line": m[0], "reason": exc.message, "code": exc.code or "input.invalid"}
                              for m in members]
    return PlanResult(site=site_id, builds=list_builds(settings, site_id), kept=kept, unplanned=unplanned)


def site_builds(settings: Settings, who: Principal, site_id: str | None = None) -> list[PlannedBuild]:
    """The builds of the caller's site (an operator: of `site_id`, or all)."""
    return list_builds(settings, own_site(who) or site_id)


def _plan_target(who: Principal, site_id: str | None) -> str:
    site = own_site(who) or site_id
    if site is None:
        raise InputError("name the site to plan", hint="add ?site=SITE_ID", code="build.site")
    return site


def plan_own_site(settings: Settings, who: Principal, site_id: str | None = None) -> PlanResult:
    """Re-plan the caller's site (an operator names the site)."""
    return plan_site(settings, _plan_target(who, site_id))


PLAN_JOB = "builds.plan"


def start_plan(settings: Settings, who: Principal, site_id: str | None = None) -> Job:
    """Re-plan the caller's site in the background (queue `planning`); a re-plan of the site already queued or
    running is joined rather than started twice. The job's result: the site, its builds' ids, kept, unplanned."""
    site = _plan_target(who, site_id)
    with UnitOfWork(settings.database_url) as uow:
        network.site(uow, site)
        job = jobs.enqueue(uow, PLAN_JOB, {"site": site}, organisation_id=who.organisation_id,
                           user_id=who.user_id, task_key=f"{PLAN_JOB}:{site}")
        uow.commit()
    jobs.submit(settings, job.id)
    return job


@jobs.register(PLAN_JOB)
def _plan_job(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    r = plan_site(settings, str(params["site"]), on_progress=jobs.progress)
    jobs.progress(1.0, f"{len(r.builds)} builds")
    return {"site": r.site, "builds": [b.id for b in r.builds], "kept": r.kept, "unplanned": r.unplanned}


@dataclass(frozen=True)
class BuildLineView:
    """An order line's copies in a build, with its customer and promised delivery date."""

    line_id: str
    order_id: str
    position: int
    customer: str
    part: str
    copies: int
    quantity: int
    delivery_date: str


@dataclass(frozen=True)
class BuildView:
    """A build of the site as its page shows it: the build and its order lines with their customers."""

    build: PlannedBuild
    lines: list[BuildLineView]
    own_parts: list[BuildPart]


def build_views(settings: Settings, who: Principal) -> list[BuildView]:
    """The caller's site's builds (newest first) with the order lines and customers of their parts."""
    site = own_site(who)
    if site is None:
        raise InputError("this needs a factory account with a site", code="factory.not_factory", status=403)
    out: list[BuildView] = []
    with UnitOfWork(settings.database_url) as uow:
        orders: dict[str, Any] = {}
        names: dict[int, str] = {}
        for b in reversed(uow.dispatch.builds(site)):
            views: list[BuildLineView] = []
            for p in b.parts:
                if not (p.line_id and p.order_id):
                    continue
                if p.order_id not in orders:
                    orders[p.order_id] = uow.orders.for_site(site, p.order_id)
                order = orders[p.order_id]
                line = order.line(p.line_id) if order is not None else None
                if order is None or line is None:
                    continue
                if order.organisation_id not in names:
                    org = uow.organisations.get(order.organisation_id)
                    names[order.organisation_id] = org.name if org is not None else str(order.organisation_id)
                views.append(BuildLineView(line.id, order.id, line.position, names[order.organisation_id], p.name,
                                           p.copies, line.quantity, line.delivery_date.isoformat()))
            out.append(BuildView(b, views, [p for p in b.parts if not p.line_id]))
    return out


def _own_build(settings: Settings, who: Principal, build_id: str) -> PlannedBuild:
    return get_build(settings, build_id, who)


def lock_build(settings: Settings, who: Principal, build_id: str, locked: bool = True) -> PlannedBuild:
    """Lock a build of the caller's site (re-planning keeps it as it is) or unlock it; a finished run cannot be."""
    b = _own_build(settings, who, build_id)
    if b.status.final:
        raise InputError(f"build {build_id} is {b.status.value}", hint="only builds still to run can be locked",
                         code="build.final", status=409)
    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.set_locked(build_id, locked)
        uow.commit()
    return _own_build(settings, who, build_id)


def _halves(parts: tuple[BuildPart, ...]) -> tuple[list[BuildPart], list[BuildPart]]:
    if len(parts) >= 2:
        cut = len(parts) // 2
        return list(parts[:cut]), list(parts[cut:])
    p = parts[0]
    a = p.copies // 2
    return [p.model_copy(update={"copies": a})], [p.model_copy(update={"copies": p.copies - a})]


def split_build(settings: Settings, who: Principal, build_id: str) -> list[PlannedBuild]:
    """Split a planned build of order lines into two builds on the same machine (half its lines, or half the
    copies of its one line), each nested again; the build's time is shared by copies."""
    b = _own_build(settings, who, build_id)
    if b.status is not BuildStatus.PLANNED:
        raise InputError(f"build {build_id} is {b.status.value}", hint="only a planned build can be split",
                         code="build.not_planned", status=409)
    if b.locked:
        raise InputError(f"build {build_id} is locked", hint="unlock it first", code="build.locked", status=409)
    if any(p.line_id is None for p in b.parts):
        raise InputError(f"build {build_id} holds the factory's own parts", hint="only builds of order lines split",
                         code="build.own_parts", status=409)
    if b.copies < 2 or b.machine_id is None:
        raise InputError(f"build {build_id} has one part", hint="a build of one part cannot be split",
                         code="build.single", status=409)
    with UnitOfWork(settings.database_url) as uow:
        rows: dict[str, StoredPart] = {}
        for p in b.parts:
            order = uow.orders.for_site(b.site_id, str(p.order_id))
            line = order.line(str(p.line_id)) if order is not None else None
            part = uow.parts.get(line.part_id, None) if line is not None else None
            if part is None:
                raise NotFoundError(f"the part of line {p.line_id} is gone", code="build.part")
            rows[str(p.line_id)] = part
    out: list[PlannedBuild] = []
    with tempfile.TemporaryDirectory(prefix="fabgrid-split-") as tmp:
        for half in _halves(b.parts):
            files, copies = [], []
            for p in half:
                row = rows[str(p.line_id)]
                path = Path(tmp) / f"{p.line_id}{Path(row.filename).suffix.lower() or '.stl'}"
                path.write_bytes(designs.read_design(settings, row))
                files.append(path)
                copies.append(f"{path.stem}:{p.copies}")
            share = sum(p.copies for p in half) / b.copies
            out.append(_store(settings, b.site_id, b.machine_id, b.machine_model, b.process, b.material, half, files,
                              copies, new_id("bld"), b.estimated_time_s * share))
    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.delete_build(build_id)
        uow.commit()
    return out


def build_file(settings: Settings, who: Principal, build_id: str, kind: str) -> Path:
    """The 3MF (`kind` "3mf") or the picture ("png") of a build of the caller's site."""
    b = _own_build(settings, who, build_id)
    name = b.model_file if kind == "3mf" else b.picture if kind == "png" else None
    if name is None or not Path(name).is_file():
        raise NotFoundError(f"build {build_id} has no {kind} file", hint="re-plan the site to nest it again",
                            code="build.file")
    return Path(name)
