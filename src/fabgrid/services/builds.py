"""Use cases of builds: pack a site's open order lines into builds through the nesting engine (one build per
machine run, lines of several buyers mixed where process and material agree), or a factory's own parts into one
build; list the builds. Re-planning replaces the builds that are still only planned and keeps started ones.

Composes services.nesting, services.designs (the decrypted part files) and the store; never imports api, web or
cli.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fabgrid.config import Settings
from fabgrid.domain.dispatch import BuildPart, BuildStatus, PlannedBuild
from fabgrid.domain.order import OrderStatus
from fabgrid.domain.records import StoredPart
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, network
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.dispatch import own_site
from fabgrid.services.nesting import nest_files
from fabgrid.store.uow import UnitOfWork

#: Seconds of nesting search per build when planning a site.
NEST_TIME_S = 5.0
#: Order line statuses whose parts wait for a build.
OPEN_LINES = (OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION)


@dataclass(frozen=True)
class PlanResult:
    """The site's builds after planning (kept ones first), and the lines that could not be planned, with why."""

    site: str
    builds: list[PlannedBuild]
    kept: int
    unplanned: list[dict[str, str]]


def _machine_for(uow: UnitOfWork, site_id: str, process: str, material: str) -> tuple[str, str] | None:
    data = network.current(uow).network
    site = network.site(uow, site_id)
    for m in site.machines:
        model = data.catalog.machine_models.get(m.model)
        if model is not None and model.process.value == process and (not model.materials or material
                                                                     in model.materials):
            return m.id, model.id
    return None


def _store(settings: Settings, site_id: str, machine_id: str, model_id: str, process: str, material: str,
           parts: list[BuildPart], files: Sequence[Path], copies: Sequence[str], build_id: str) -> PlannedBuild:
    out = settings.data_dir / "builds" / f"{build_id}.3mf"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = nest_files(list(files), model_id, copies=copies, out=out, time_limit_s=NEST_TIME_S)
    if len(result.builds) != 1:
        raise InputError(f"the parts need {len(result.builds)} builds on {model_id}, not one",
                         hint="give fewer copies per build", code="build.too_many")
    at = now()
    b = PlannedBuild(id=build_id, site_id=site_id, machine_id=machine_id, machine_model=model_id, process=process,
                     material=material, status=BuildStatus.PLANNED, estimated_time_s=0.0, parts=tuple(parts),
                     model_file=result.files[0]["3mf"], created_at=at, updated_at=at,
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


def plan_site(settings: Settings, site_id: str) -> PlanResult:
    """Pack the site's open order lines (less the copies already in started builds) into builds, one group per
    (process, material), on the first machine of the site that runs them."""
    with UnitOfWork(settings.database_url) as uow:
        network.site(uow, site_id)
        dropped = uow.dispatch.drop_planned(site_id)
        lines = uow.orders.lines(site_id=site_id, statuses=OPEN_LINES)
        held = uow.dispatch.planned_copies(line.id for line in lines)
        kept = len(uow.dispatch.builds(site_id, [BuildStatus.PRINTING]))
        groups: dict[tuple[str, str], list[tuple[str, str, str, int, StoredPart]]] = {}
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
        machines = {key: _machine_for(uow, site_id, *key) for key in groups}
        uow.commit()
    del dropped
    builds: list[PlannedBuild] = []
    with tempfile.TemporaryDirectory(prefix="fabgrid-plan-") as tmp:
        for (process, material), members in groups.items():
            found = machines[(process, material)]
            if found is None:
                unplanned += [{"line": m[0], "reason": f"no machine at {site_id} runs {process} {material}"}
                              for m in members]
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
                                     new_id("bld")))
            except InputError as exc:
                unplanned += [{"line": m[0], "reason": exc.message} for m in members]
    return PlanResult(site=site_id, builds=list_builds(settings, site_id), kept=kept, unplanned=unplanned)


def site_builds(settings: Settings, who: Principal, site_id: str | None = None) -> list[PlannedBuild]:
    """The builds of the caller's site (an operator: of `site_id`, or all)."""
    return list_builds(settings, own_site(who) or site_id)


def plan_own_site(settings: Settings, who: Principal, site_id: str | None = None) -> PlanResult:
    """Re-plan the caller's site (an operator names the site)."""
    site = own_site(who) or site_id
    if site is None:
        raise InputError("name the site to plan", hint="add ?site=SITE_ID", code="build.site")
    return plan_site(settings, site)
