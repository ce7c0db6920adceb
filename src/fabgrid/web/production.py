"""Factory production pages (issue 20): the site's builds (parts with their order lines and customers, machine,
material, estimated time, picture and 3MF; lock, split, re-plan), the live schedule as a Gantt in calendar time
(SVG; lock a build, mark a machine down or in maintenance, which re-plans; late lines flagged) and the machines
with where their data comes from and their OEE, utilisation and energy.

Calls services.builds, services.build_schedule and services.machine_pages; never the store or an engine.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from fabgrid.errors import InputError
from fabgrid.services import build_schedule, builds, camera_watch, jobs, machine_pages
from fabgrid.web import i18n
from fabgrid.web.gantt_svg import gantt_svg
from fabgrid.web.session import (
    PageRoute,
    checked_form,
    field,
    language,
    localized_problem,
    render,
    require,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
FACTORY = ("factory",)


@router.get("/factory/builds", response_class=HTMLResponse)
def builds_page(request: Request) -> HTMLResponse:
    """The site's builds with their order lines, customers and files."""
    who = require(request, *FACTORY)
    settings, lang = settings_of(request), language(request)
    views = builds.build_views(settings, who)
    job_id = request.query_params.get("job")
    job = jobs.get_job(settings, who, job_id) if job_id else None
    problem = None
    if job is not None and job.problem:
        p = job.problem
        problem = localized_problem(lang, str(p.get("detail") or ""), p.get("hint"), str(p.get("title") or "") or None)
    unplanned = [(str(u.get("line")), localized_problem(lang, str(u.get("reason")), None, u.get("code"))[0])
                 for u in ((job.result or {}).get("unplanned") or [] if job is not None else [])]
    return render(request, "builds.html", {"views": views, "done": request.query_params.get("done"), "job": job,
                                           "job_problem": problem, "unplanned": unplanned,
                                           "refresh": job is not None and not job.done}, who=who)


@router.post("/factory/builds/plan")
async def plan(request: Request) -> Response:
    """Re-plan the site's builds from its open order lines (started and locked builds kept) in a background job;
    the builds page follows it."""
    who = require(request, *FACTORY)
    await checked_form(request)
    job = builds.start_plan(settings_of(request), who)
    return RedirectResponse(f"/factory/builds?job={job.id}", status_code=303)


@router.post("/factory/builds/{build_id}/lock")
async def lock(request: Request, build_id: str) -> Response:
    """Lock or unlock a build; back to the page it came from."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    builds.lock_build(settings_of(request), who, build_id, field(form, "locked", "1") == "1")
    back = "/factory/gantt" if field(form, "back") == "gantt" else "/factory/builds"
    return RedirectResponse(f"{back}?done=lock", status_code=303)


@router.post("/factory/builds/{build_id}/split")
async def split(request: Request, build_id: str) -> Response:
    """Split a planned build into two."""
    who = require(request, *FACTORY)
    await checked_form(request)
    builds.split_build(settings_of(request), who, build_id)
    return RedirectResponse("/factory/builds?done=split", status_code=303)


@router.get("/factory/builds/{build_id}/file.3mf")
def build_3mf(request: Request, build_id: str) -> FileResponse:
    """Download the build's plate as 3MF."""
    who = require(request, *FACTORY)
    return FileResponse(builds.build_file(settings_of(request), who, build_id, "3mf"), media_type="model/3mf",
                        filename=f"{build_id}.3mf")


@router.get("/factory/builds/{build_id}/picture.png")
def build_png(request: Request, build_id: str) -> FileResponse:
    """The picture of the build's plate."""
    who = require(request, *FACTORY)
    return FileResponse(builds.build_file(settings_of(request), who, build_id, "png"), media_type="image/png")


@router.get("/factory/gantt", response_class=HTMLResponse)
def gantt_page(request: Request) -> HTMLResponse:
    """The live schedule of the site's builds over a week, in site time, with the late lines."""
    who = require(request, *FACTORY)
    lights_out = request.query_params.get("lights_out", "1") != "0"
    s = build_schedule.live_schedule(settings_of(request), who, lights_out=lights_out)
    lang = language(request)
    svg = gantt_svg(s.rows, s.staffed, s.machines, s.start,
                    late=s.late_builds, locked={b.id for b in s.builds if b.locked}, down=s.down,
                    labels={k: i18n.translate(lang, f"gantt.{k}") for k in ("late", "locked", "down")})
    machines = machine_pages.site_machines(settings_of(request), who)
    return render(request, "gantt.html", {"s": s, "svg": svg, "lights_out": lights_out, "machines": machines,
                                          "done": request.query_params.get("done")}, who=who)


@router.post("/factory/machines/{machine_id}/mark")
async def mark(request: Request, machine_id: str) -> Response:
    """Mark a machine down, in maintenance or back up; the site's builds are re-planned around it."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    try:
        hours = float(field(form, "hours", "8") or "8")
    except ValueError:
        raise InputError("hours must be a number", hint="e.g. 8", code="machine.hours") from None
    build_schedule.mark_and_replan(settings_of(request), who, machine_id, field(form, "mark"), hours,
                                   field(form, "note")[:200])
    back = f"/factory/machines/{machine_id}" if field(form, "back") == "machine" else "/factory/gantt"
    return RedirectResponse(f"{back}?done=mark", status_code=303)


@router.get("/factory/machines", response_class=HTMLResponse)
def machines_page(request: Request) -> HTMLResponse:
    """The site's machines: data source, state, OEE, utilisation and energy over the last 24 hours."""
    who = require(request, *FACTORY)
    return render(request, "machines.html", {"machines": machine_pages.site_machines(settings_of(request), who)},
                  who=who)


@router.get("/factory/machines/{machine_id}", response_class=HTMLResponse)
def machine_page(request: Request, machine_id: str) -> HTMLResponse:
    """One machine of the site."""
    who = require(request, *FACTORY)
    settings = settings_of(request)
    m = machine_pages.machine(settings, who, machine_id)
    camera = camera_watch.camera_of(settings, machine_id, who) if m.host else None
    return render(request, "machine.html", {"m": m, "camera": camera, "done": request.query_params.get("done")},
                  who=who)


def _number(form: FormData, name: str, default: str) -> float:
    text = field(form, name, default) or default
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a number", code="camera.number") from None


@router.post("/factory/machines/{machine_id}/camera")
async def link_camera(request: Request, machine_id: str) -> Response:
    """Link the machine's camera and learn its normal frames now (a few seconds), then watch its builds."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    camera_watch.link_camera(settings_of(request), machine_id, field(form, "url")[:500],
                             pause_after=int(_number(form, "pause_after", "3")),
                             every_s=_number(form, "every_s", "10"),
                             learn_frames=int(_number(form, "learn_frames", "8")), who=who)
    return RedirectResponse(f"/factory/machines/{machine_id}?done=camera", status_code=303)


@router.post("/factory/machines/{machine_id}/camera/remove")
async def remove_camera(request: Request, machine_id: str) -> Response:
    """Stop watching the machine's builds with its camera."""
    who = require(request, *FACTORY)
    await checked_form(request)
    camera_watch.unlink_camera(settings_of(request), machine_id, who)
    return RedirectResponse(f"/factory/machines/{machine_id}?done=camera", status_code=303)
