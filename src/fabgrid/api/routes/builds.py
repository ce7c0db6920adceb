"""Builds and print hosts of the caller's site: GET /api/v1/factory/builds, POST /api/v1/factory/builds/plan,
GET /api/v1/factory/builds/{id} (and /events), POST /api/v1/factory/builds/{id}/dispatch (sent now, followed by
a background job), /cancel, /lock, /split, the 3MF and picture, GET|PUT /api/v1/factory/machines/{id}/connection (URL
and key stored encrypted, never answered back), GET|PUT|DELETE /api/v1/factory/machines/{id}/camera (a snapshot URL
whose frames are scored while a build prints: the print is paused after N anomalous frames in a row),
GET /api/v1/factory/machine-status and
/machines/{id}/status (source, state, OEE), POST
/api/v1/factory/machines/{id}/mark (down, maintenance, up: the site re-plans), GET /api/v1/factory/schedule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import build_doc, connection_doc, job_doc, machine_doc
from fabgrid.config import Settings
from fabgrid.services import build_schedule, builds, camera_watch, dispatch, machine_pages

router = APIRouter(prefix="/api/v1/factory", tags=["factory", "dispatch"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class ConnectionBody(BaseModel):
    """A machine's print host."""

    kind: str = Field(description="octoprint, moonraker, prusalink or bambu", max_length=16)
    url: str = Field(max_length=500, description="e.g. http://192.168.1.20:5000")
    api_key: str | None = Field(default=None, max_length=200)
    serial: str | None = Field(default=None, max_length=64)
    access_code: str | None = Field(default=None, max_length=64)


@router.get("/builds", summary="Builds of your site")
def list_builds(principal: CurrentPrincipal, settings: SettingsDep,
                site: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    return {"builds": [build_doc(b) for b in builds.site_builds(settings, principal, site)]}


@router.post("/builds/plan", summary="Re-plan your site's builds from its open order lines",
             responses={202: {"description": "with background=true: the re-planning job (GET its link until it is "
                              "done; a re-plan of the site already under way is joined)"}})
def plan(principal: CurrentPrincipal, settings: SettingsDep,
         site: Annotated[str | None, Query(max_length=64)] = None,
         background: Annotated[bool, Query(description="plan in a background job (queue planning)")] = False,
         ) -> Any:
    if background:
        job = builds.start_plan(settings, principal, site)
        return JSONResponse(job_doc(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})
    r = builds.plan_own_site(settings, principal, site)
    return {"site": r.site, "builds": [build_doc(b) for b in r.builds], "kept": r.kept, "unplanned": r.unplanned}


@router.get("/builds/{build_id}", summary="One build")
def get_build(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return build_doc(dispatch.get_build(settings, build_id, principal))


@router.get("/builds/{build_id}/events", summary="The machine events of a build's print")
def build_events(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    dispatch.get_build(settings, build_id, principal)
    events = dispatch.machine_events(settings, build_id)
    return {"events": [e.model_dump(mode="json", exclude_none=True) for e in events]}


@router.post("/builds/{build_id}/dispatch", status_code=202, summary="Send a build to its printer")
def dispatch_build(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    build, job = dispatch.start_and_follow(settings, principal, build_id)
    return JSONResponse({"build": build_doc(build), "job": job_doc(job)}, status_code=202,
                        headers={"Location": f"/api/v1/factory/builds/{build.id}"})


@router.post("/builds/{build_id}/cancel", summary="Cancel a build (its parts go back to the queue)")
def cancel_build(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return build_doc(dispatch.cancel_build(settings, build_id, principal))


@router.get("/machines/{machine_id}/connection", summary="A machine's print host (without its keys)")
def get_connection(machine_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return connection_doc(dispatch.connection(settings, principal, machine_id))


@router.put("/machines/{machine_id}/connection", summary="Link a machine to its print host and check it")
def put_connection(machine_id: str, body: ConnectionBody, principal: CurrentPrincipal,
                   settings: SettingsDep) -> dict[str, Any]:
    return connection_doc(dispatch.connect_machine(settings, machine_id, body.kind, body.url, api_key=body.api_key,
                                                   serial=body.serial, access_code=body.access_code, who=principal))


class CameraBody(BaseModel):
    """A machine's camera: its snapshot URL and when a failure pauses the print."""

    url: str = Field(max_length=500, description="the camera's snapshot URL (one JPEG or PNG frame per request), "
                     "e.g. http://192.168.1.20/webcam/?action=snapshot")
    pause_after: int = Field(default=camera_watch.PAUSE_AFTER, ge=camera_watch.MIN_PAUSE_AFTER,
                             le=camera_watch.MAX_PAUSE_AFTER, description="anomalous frames in a row that pause it")
    every_s: float = Field(default=camera_watch.EVERY_S, ge=camera_watch.MIN_EVERY_S, le=camera_watch.MAX_EVERY_S,
                           description="seconds between two scored frames while a build prints")
    learn_frames: int = Field(default=camera_watch.LEARN_FRAMES, ge=camera_watch.MIN_LEARN_FRAMES,
                              le=camera_watch.MAX_LEARN_FRAMES,
                              description="frames taken now to learn what normal looks like (show a good print)")


def _camera_doc(c: camera_watch.CameraLink) -> dict[str, Any]:
    return {"machine_id": c.machine_id, "camera": c.camera, "pause_after": c.pause_after, "every_s": c.every_s,
            "threshold": c.threshold, "frames": c.frames,
            "links": {"self": f"/api/v1/factory/machines/{c.machine_id}/camera"}}


@router.get("/machines/{machine_id}/camera", summary="A machine's camera watch (without its URL's path or keys)")
def get_camera(machine_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    found = camera_watch.camera_of(settings, machine_id, principal)
    if found is None:
        from fabgrid.errors import NotFoundError

        raise NotFoundError(f"machine {machine_id} has no camera", hint="PUT its snapshot URL first",
                            code="camera.none")
    return _camera_doc(found)


@router.put("/machines/{machine_id}/camera",
            summary="Link a camera to a machine and learn its normal frames now (takes a few seconds)")
def put_camera(machine_id: str, body: CameraBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return _camera_doc(camera_watch.link_camera(settings, machine_id, body.url, pause_after=body.pause_after,
                                                every_s=body.every_s, learn_frames=body.learn_frames, who=principal))


@router.delete("/machines/{machine_id}/camera", status_code=204, summary="Stop watching a machine with its camera")
def delete_camera(machine_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> None:
    camera_watch.unlink_camera(settings, machine_id, principal)


class LockBody(BaseModel):
    """Lock a build (re-planning keeps it as it is) or unlock it."""

    locked: bool = True


class MarkBody(BaseModel):
    """Mark a machine down, in maintenance or back up."""

    mark: str = Field(description="down, maintenance or up", max_length=16)
    hours: float = Field(default=8.0, gt=0, le=24 * 14, description="how long it stays down")
    note: str = Field(default="", max_length=200)


@router.post("/builds/{build_id}/lock", summary="Lock or unlock a build (re-planning keeps locked builds)")
def lock_build(build_id: str, body: LockBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return build_doc(builds.lock_build(settings, principal, build_id, body.locked))


@router.post("/builds/{build_id}/split", summary="Split a planned build into two, each nested again")
def split_build(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return {"builds": [build_doc(b) for b in builds.split_build(settings, principal, build_id)]}


@router.get("/builds/{build_id}/file.3mf", summary="The build's nested plate as 3MF")
def build_3mf(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> FileResponse:
    path = builds.build_file(settings, principal, build_id, "3mf")
    return FileResponse(path, media_type="model/3mf", filename=f"{build_id}.3mf")


@router.get("/builds/{build_id}/picture.png", summary="A picture of the build's nested plate")
def build_picture(build_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> FileResponse:
    return FileResponse(builds.build_file(settings, principal, build_id, "png"), media_type="image/png")


@router.get("/schedule", summary="The live schedule of your site's builds over a week, late lines flagged")
def schedule(principal: CurrentPrincipal, settings: SettingsDep,
             lights_out: Annotated[bool, Query(description="prints may run unattended overnight")] = True
             ) -> dict[str, Any]:
    s = build_schedule.live_schedule(settings, principal, lights_out=lights_out)
    return {"site": s.site_id, **s.plan, "operations": s.rows, "staffed": s.staffed, "machines_down": s.down,
            "due": s.due}


@router.get("/machine-status", summary="Your site's machines: data source, state, OEE, utilisation, energy (24 h)")
def machines(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return {"machines": [machine_doc(m) for m in machine_pages.site_machines(settings, principal)]}


@router.get("/machines/{machine_id}/status", summary="One machine: data source, state, OEE, utilisation, energy")
def machine_status(machine_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return machine_doc(machine_pages.machine(settings, principal, machine_id))


@router.post("/machines/{machine_id}/mark", summary="Mark a machine down, in maintenance or up; the site re-plans")
def mark_machine(machine_id: str, body: MarkBody, principal: CurrentPrincipal,
                 settings: SettingsDep) -> dict[str, Any]:
    view = build_schedule.mark_and_replan(settings, principal, machine_id, body.mark, body.hours, body.note)
    return machine_doc(view)
