"""Use cases of dispatch to printers: link a machine to its print host (URL and keys sealed under the master
key), list the links, send a planned build to its machine (slice with PrusaSlicer and the machine's exported
profile, upload, start), follow it to the end storing the host's readings as machine events, cancel it.

A failed or cancelled build frees its order lines, so the next `builds.plan` packs them again. Composes the
dispatch engine, costing's PrusaSlicer profile and the store; never imports api, web or cli.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fabgrid.config import Settings
from fabgrid.dispatch.base import Connection, Connector, HostError, HostState, HostStatus, JobOutcome, connector, kinds
from fabgrid.dispatch.follow import Follower
from fabgrid.domain.dispatch import BuildStatus, ConnectionState, MachineConnection, PlannedBuild
from fabgrid.domain.order import OrderStatus
from fabgrid.domain.records import Job
from fabgrid.domain.telemetry import EVENT_ADAPTER, TelemetryEvent
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, device_urls, jobs, network, timeline
from fabgrid.services.accounts import Principal
from fabgrid.services.timeline import Note
from fabgrid.store.telemetry import MachineEventStore
from fabgrid.store.uow import UnitOfWork

#: Seconds between two readings of a host while following a build.
POLL_S = 2.0
#: Seconds a build may wait for its host to report the job running after the upload.
START_GRACE_S = 60.0
#: Seconds of lost connection after which following stops (the build stays `printing`: follow again later).
LOST_S = 60.0

_STATE_OF_CODE = {"dispatch.unreachable": ConnectionState.UNREACHABLE,
                  "dispatch.unauthorized": ConnectionState.UNAUTHORIZED}


@dataclass(frozen=True)
class DispatchResult:
    """The build's state after the call, its message, and the machine events received during the call."""

    build: PlannedBuild
    events: list[dict[str, Any]] = field(default_factory=list)


def own_site(who: Principal | None) -> str | None:
    """The one site `who` may dispatch for (None: any, the CLI and operators); 403 for buyers."""
    if who is None or who.role in ("operator", "admin"):
        return None
    if who.role != "factory" or not who.site_id:
        raise InputError("only a factory of the network dispatches builds", hint="log in with a factory account",
                         code="dispatch.forbidden", status=403)
    return who.site_id


def _check_site(who: Principal | None, site_id: str, what: str) -> None:
    allowed = own_site(who)
    if allowed is not None and allowed != site_id:
        raise NotFoundError(f"{what} is not at your site", code="dispatch.not_found")


def _machine_site(uow: UnitOfWork, machine_id: str) -> tuple[str, str]:
    """(site id, machine model id) of a machine of the network; 404 when no site has it."""
    for site in network.current(uow).network.sites.values():
        for m in site.machines:
            if m.id == machine_id:
                return site.id, m.model
    raise NotFoundError(f"machine {machine_id!r} is not in the network",
                        hint="`fabgrid network --json` lists the sites with their machines",
                        code="dispatch.machine")


def _check_url(url: str, kind: str = "") -> str:
    u = urlsplit(url)
    if kind == "bambu":
        if u.scheme not in ("mqtts", "mqtt") or not u.hostname:
            raise InputError(f"Bambu Lab URL {url!r} is not mqtts://HOST[:PORT]",
                             hint="write e.g. mqtts://192.168.1.30 (the printer's address; MQTT over TLS, 8883)",
                             code="dispatch.url")
    elif u.scheme not in ("http", "https") or not u.hostname:
        raise InputError(f"print host URL {url!r} is not an http(s) URL with a host",
                         hint="write e.g. http://192.168.1.20 or http://octopi.local:5000", code="dispatch.url")
    if u.username or u.password:
        raise InputError("the print host URL carries credentials", hint="give the key with --api-key instead",
                         code="dispatch.url")
    try:
        port = u.port or {"https": 443, "mqtts": 8883, "mqtt": 1883}.get(u.scheme, 80)
    except ValueError:
        raise InputError(f"print host URL {url!r} has an invalid port", code="dispatch.url") from None
    device_urls.check_device_host(str(u.hostname), port, "print", "dispatch.url")
    return url.rstrip("/")


def _unseal(settings: Settings, machine_id: str, sealed: bytes, key_id: str) -> dict[str, Any]:
    master = designs.master_key(settings)
    if designs.key_id(master) != key_id:
        raise InputError(f"the connection of {machine_id} was sealed under master key {key_id}",
                         hint="set FABGRID_MASTER_KEY to the original key, or connect the machine again",
                         code="design.master_key", status=500)
    doc: dict[str, Any] = json.loads(designs.unseal(master, sealed, machine_id.encode()))
    return doc


def _probe(conn: Connection) -> tuple[ConnectionState, str, HostStatus | None]:
    host = connector(conn)
    try:
        st = host.status()
    except HostError as exc:
        return _STATE_OF_CODE.get(exc.code or "", ConnectionState.ERROR), exc.message, None
    finally:
        host.close()
    return ConnectionState.CONNECTED, f"{st.state.value}" + (f": {st.message}" if st.message else ""), st


def connect_machine(settings: Settings, machine_id: str, kind: str, url: str, *, api_key: str | None = None,
                    serial: str | None = None, access_code: str | None = None,
                    who: Principal | None = None) -> MachineConnection:
    """Link `machine_id` to its print host, sealed under the master key, and check it once. The link is kept
    whatever the check says (the state and message say what is wrong)."""
    if kind not in kinds():
        raise InputError(f"unknown print host kind {kind!r}", hint=f"use one of {', '.join(kinds())}",
                         code="dispatch.kind")
    conn = Connection(kind=kind, url=_check_url(url, kind), api_key=api_key, serial=serial, access_code=access_code)
    if kind in ("octoprint", "prusalink") and not api_key:
        raise InputError(f"a {kind} host needs its API key", hint="add --api-key KEY (the host's settings show it)",
                         code="dispatch.api_key")
    if kind == "bambu" and not (serial and access_code):
        raise InputError("a Bambu Lab printer needs its serial and LAN access code",
                         hint="add --serial SERIAL --access-code CODE (shown in the printer's network settings in LAN "
                         "mode)", code="dispatch.api_key")
    master = designs.master_key(settings)
    with UnitOfWork(settings.database_url) as uow:
        site_id, _ = _machine_site(uow, machine_id)
        _check_site(who, site_id, f"machine {machine_id}")
        found = uow.dispatch.secret(machine_id)
        camera = None  # a host linked again keeps its machine's camera
        if found is not None and found[2] == designs.key_id(master):
            camera = _unseal(settings, machine_id, found[1], found[2]).get("camera")
        secret = json.dumps({"url": conn.url, "api_key": api_key, "serial": serial, "access_code": access_code,
                             **({"camera": camera} if camera else {})})
        uow.dispatch.save_connection(machine_id, site_id, kind, designs.seal(master, secret.encode(),
                                                                             machine_id.encode()),
                                     designs.key_id(master))
        uow.commit()
    state, message, _ = _probe(conn)
    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.set_state(machine_id, state, message)
        uow.commit()
        return next(c for c in uow.dispatch.connections(None, {machine_id: conn.url}) if c.machine_id == machine_id)


def list_machines(settings: Settings, site: str | None = None, *, check: bool = False) -> list[MachineConnection]:
    """The linked machines (of `site`) with their host and the state of the last check (`check`: check now)."""
    with UnitOfWork(settings.database_url) as uow:
        sealed = uow.dispatch.sealed(site)
        kinds_of = {c.machine_id: c.kind for c in uow.dispatch.connections(site, {})}
    urls: dict[str, str] = {}
    for machine_id, blob, key_id in sealed:
        doc = _unseal(settings, machine_id, blob, key_id)
        urls[machine_id] = str(doc["url"])
        if check:
            state, message, _ = _probe(Connection(kind=kinds_of[machine_id], url=doc["url"],
                                                  api_key=doc.get("api_key"), serial=doc.get("serial"),
                                                  access_code=doc.get("access_code")))
            with UnitOfWork(settings.database_url) as uow:
                uow.dispatch.set_state(machine_id, state, message)
                uow.commit()
    with UnitOfWork(settings.database_url) as uow:
        return uow.dispatch.connections(site, urls)


def _host(settings: Settings, machine_id: str) -> Connector:
    with UnitOfWork(settings.database_url) as uow:
        found = uow.dispatch.secret(machine_id)
    if found is None:
        raise InputError(f"machine {machine_id} has no print host", hint="link it first: `fabgrid machines connect "
                         f"{machine_id} --kind octoprint --url URL --api-key KEY`", code="dispatch.not_connected",
                         status=409)
    kind, blob, key_id = found
    doc = _unseal(settings, machine_id, blob, key_id)
    return connector(Connection(kind=kind, url=doc["url"], api_key=doc.get("api_key"), serial=doc.get("serial"),
                                access_code=doc.get("access_code")))


def get_build(settings: Settings, build_id: str, who: Principal | None = None) -> PlannedBuild:
    """One build; 404 naming where the list is."""
    with UnitOfWork(settings.database_url) as uow:
        b = uow.dispatch.build(build_id)
    if b is not None:
        _check_site(who, b.site_id, f"build {build_id}")
    if b is None:
        raise NotFoundError(f"build {build_id!r} does not exist", hint="`fabgrid builds plan --site S` lists builds",
                            code="build.not_found")
    return b


def _advance_lines(uow: UnitOfWork, build: PlannedBuild, status: OrderStatus, note: Note) -> list[str]:
    """Move the build's order lines to `status` where their status allows it (the order's timeline and webhooks
    follow); the webhook jobs to submit after the commit."""
    from fabgrid.services.orders import _set_status

    job_ids: list[str] = []
    for p in build.parts:
        if p.order_id is None or p.line_id is None:
            continue
        order = uow.orders.get(p.order_id)
        line = next((ln for ln in order.lines if ln.id == p.line_id), None) if order is not None else None
        if order is not None and line is not None and line.status.can_become(status) and line.status != status:
            job_ids += _set_status(uow, order, line, status, None, note)
    return job_ids


def _finish(settings: Settings, build: PlannedBuild, status: BuildStatus, message: str) -> PlannedBuild:
    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.update_build(build.id, status=status, message=message)
        job_ids = (_advance_lines(uow, build, OrderStatus.BUILT,
                                  timeline.note("build_printed", build=build.id, machine=build.machine_id))
                   if status is BuildStatus.DONE else [])
        uow.commit()
        done = uow.dispatch.build(build.id) or build
    for j in job_ids:
        jobs.submit(settings, j)
    return done


def _gcode(settings: Settings, build: PlannedBuild) -> Path:
    from fabgrid.dispatch.slicer import slice_gcode
    from fabgrid.services.quotes import slicer_config

    if build.process != "fdm":
        raise InputError(f"build {build.id} is {build.process}: only FDM builds are sliced and sent to a print host "
                         "today", hint="print it from the machine's own software", code="dispatch.process")
    if not build.model_file or not Path(build.model_file).is_file():
        raise InputError(f"build {build.id} has no model file ({build.model_file})",
                         hint="plan the site's builds again", code="dispatch.no_model")
    out = settings.data_dir / "builds" / f"{build.id}.gcode"
    out.parent.mkdir(parents=True, exist_ok=True)
    return slice_gcode([Path(build.model_file)], slicer_config(build.machine_model, build.material), out)


def _send(settings: Settings, build: PlannedBuild, host: Connector, follower: Follower,
          emit: Callable[[list[dict[str, Any]]], None], who: Principal | None) -> None:
    """Check the printer, slice, upload and start a claimed build; the build is `printing` afterwards."""
    st = host.status()
    if st.state is not HostState.IDLE:
        raise HostError(f"machine {build.machine_id} is {st.state.value}"
                        + (f" ({st.job})" if st.job else "") + f": build {build.id} waits in the queue",
                        hint="dispatch again when the printer is idle", code="dispatch.busy", status=409)
    if st.material is not None and st.material.lower() not in build.material.lower():
        raise HostError(f"machine {build.machine_id} has {st.material} loaded; build {build.id} needs "
                        f"{build.material}", hint="load the build's material, then dispatch again",
                        code="dispatch.material", status=409)
    try:
        gcode = _gcode(settings, build)
    except InputError as exc:
        if exc.code == "dispatch.slicer_failed":
            _finish(settings, build, BuildStatus.FAILED, exc.message)
        raise
    from fabgrid.dispatch.slicer import estimated_time_s

    est = estimated_time_s(gcode)
    if est is not None:
        follower.planned_unit_s = est / max(build.copies, 1)
    job = host.start(f"{build.id}.gcode", gcode.read_bytes())
    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.update_build(build.id, status=BuildStatus.PRINTING, host_job=job,
                                  message=f"sent to {build.machine_id}", estimated_time_s=est,
                                  operator=(who.name or who.email) if who is not None else "")
        job_ids = _advance_lines(uow, build, OrderStatus.IN_PRODUCTION,
                                 timeline.note("build_started", build=build.id, machine=build.machine_id))
        uow.commit()
    for j in job_ids:
        jobs.submit(settings, j)
    emit(follower.start())


def dispatch_build(settings: Settings, build_id: str, *, wait: bool = False, poll_s: float = POLL_S,
                   timeout_s: float | None = None,
                   on_events: Callable[[list[dict[str, Any]]], None] | None = None,
                   who: Principal | None = None, lost_s: float = LOST_S) -> DispatchResult:
    """Slice, upload and start a planned build on its machine (idle, and with the build's material where the
    host reports one); with `wait`, follow it until done, failed or cancelled. A build already printing is
    followed again. Events go to `machine_events` as they come (and to `on_events`)."""
    build = get_build(settings, build_id, who)
    if build.status.final:
        raise InputError(f"build {build.id} is {build.status.value}", hint="plan the site again to re-build its "
                         "parts", code="dispatch.final", status=409)
    if build.machine_id is None:
        raise InputError(f"build {build.id} has no machine", hint="plan it on a machine of its site",
                         code="dispatch.no_machine", status=409)
    host = _host(settings, build.machine_id)
    store = MachineEventStore(settings.database_url)
    received: list[dict[str, Any]] = []

    def emit(events: list[dict[str, Any]]) -> None:
        if events:
            store.add(events)
            received.extend(events)
            if on_events is not None:
                on_events(events)

    follower = Follower(job=build.id, run=secrets.token_hex(3), machine=build.machine_id, site=build.site_id,
                        copies=build.copies, planned_unit_s=max(build.estimated_time_s, 1.0) / max(build.copies, 1))
    try:
        if build.status is BuildStatus.SENDING:
            raise InputError(f"build {build.id} is being sent to {build.machine_id} by another dispatch",
                             hint="follow it with `fabgrid dispatch BUILD --wait` once it prints",
                             code="dispatch.sending", status=409)
        if build.status is BuildStatus.PLANNED:
            with UnitOfWork(settings.database_url) as uow:
                claimed = uow.dispatch.claim(build.id, BuildStatus.PLANNED, BuildStatus.SENDING,
                                             f"sending to {build.machine_id}")
                uow.commit()
            if not claimed:
                raise InputError(f"build {build.id} was dispatched by another caller just now",
                                 hint="follow it with `fabgrid dispatch BUILD --wait`", code="dispatch.sending",
                                 status=409)
            try:
                _send(settings, build, host, follower, emit, who)
            except BaseException as exc:
                with UnitOfWork(settings.database_url) as uow:  # refused before the printer started: queued again
                    uow.dispatch.claim(build.id, BuildStatus.SENDING, BuildStatus.PLANNED,
                                       getattr(exc, "message", str(exc)))
                    uow.commit()
                raise
        build = get_build(settings, build_id)
        if not wait:
            return DispatchResult(build, received)
        return _follow(settings, build, host, follower, emit, poll_s, timeout_s, received, lost_s)
    finally:
        host.close()


def _follow(settings: Settings, build: PlannedBuild, host: Connector, follower: Follower,
            emit: Callable[[list[dict[str, Any]]], None], poll_s: float, timeout_s: float | None,
            received: list[dict[str, Any]], lost_s: float) -> DispatchResult:
    from fabgrid.services import camera_watch

    started = time.monotonic()
    seen_running = False
    lost_since: float | None = None
    ours = build.host_job
    watch = camera_watch.watch_for(settings, build.machine_id) if build.machine_id else None
    while True:
        try:
            st = host.status()
            lost_since = None
        except HostError as exc:
            if exc.code != "dispatch.unreachable":
                raise
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > lost_s:
                emit(follower.read(HostStatus(HostState.OFFLINE, message=exc.message)))
                with UnitOfWork(settings.database_url) as uow:
                    uow.dispatch.update_build(build.id, message=f"lost the connection to {build.machine_id}: the "
                                              "print may still run; follow it again with dispatch --wait")
                    uow.commit()
                return DispatchResult(get_build(settings, build.id), received)
            time.sleep(poll_s)
            continue
        mine = st.job == ours
        if mine and st.outcome is JobOutcome.RUNNING:
            seen_running = True
        emit(follower.read(st) if (mine or seen_running) and (seen_running or st.outcome is JobOutcome.RUNNING)
             else [])
        if watch is not None and mine and st.state is HostState.PRINTING:
            events, paused = watch.tick(host, follower)
            emit(events)
            if paused is not None:
                _paused(settings, build, paused)
        if seen_running and (not mine or st.outcome in (JobOutcome.DONE, JobOutcome.CANCELLED, JobOutcome.FAILED)):
            outcome = st.outcome if mine else JobOutcome.CANCELLED
            if not follower.ended:
                emit(follower.end(outcome, reason=st.message))
            status = {JobOutcome.DONE: BuildStatus.DONE, JobOutcome.FAILED: BuildStatus.FAILED}.get(
                outcome, BuildStatus.CANCELLED)
            note = {BuildStatus.DONE: "printed", BuildStatus.FAILED: f"the print failed ({st.message}): its parts "
                    "are back in the queue", BuildStatus.CANCELLED: "cancelled: its parts are back in the queue"}
            return DispatchResult(_finish(settings, build, status, note[status]), received)
        if not seen_running and time.monotonic() - started > START_GRACE_S:
            emit(follower.end(JobOutcome.FAILED, reason="the host never started the job"))
            return DispatchResult(_finish(settings, build, BuildStatus.FAILED, f"{build.machine_id} did not start "
                                          f"the job within {START_GRACE_S:g} s: its parts are back in the queue"),
                                  received)
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            return DispatchResult(get_build(settings, build.id), received)
        time.sleep(poll_s)


def _paused(settings: Settings, build: PlannedBuild, message: str) -> None:
    """The camera watch paused `build`: say so on the build and tell the site's users."""
    from fabgrid.services import camera_watch

    with UnitOfWork(settings.database_url) as uow:
        uow.dispatch.update_build(build.id, message=message)
        job_ids = camera_watch.tell_factory(uow, settings, build.site_id, build.id, str(build.machine_id), message)
        uow.commit()
    for j in job_ids:
        jobs.submit(settings, j)


def cancel_build(settings: Settings, build_id: str, who: Principal | None = None) -> PlannedBuild:
    """Cancel a printing build on its host; a planned one is cancelled at once. Its lines go back to the queue."""
    build = get_build(settings, build_id, who)
    if build.status.final:
        raise InputError(f"build {build.id} is {build.status.value} already", code="dispatch.final", status=409)
    if build.status is BuildStatus.PRINTING and build.machine_id is not None:
        host = _host(settings, build.machine_id)
        try:
            host.cancel()
        finally:
            host.close()
    return _finish(settings, build, BuildStatus.CANCELLED, "cancelled: its parts are back in the queue")


def machine_events(settings: Settings, build_id: str) -> list[TelemetryEvent]:
    """The stored machine events of a build's jobs (message ids start with the build id), typed."""
    build = get_build(settings, build_id)
    store = MachineEventStore(settings.database_url)
    return [EVENT_ADAPTER.validate_python(e) for e in store.events(since=build.created_at)
            if str(e["id"]).startswith(f"{build.id}:")]


FOLLOW_JOB = "build_follow"


@jobs.register(FOLLOW_JOB)
def _follow_job(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """Background job: follow a printing build to its end (the API's dispatch starts it)."""
    r = dispatch_build(settings, str(params["build_id"]), wait=True)
    return {"build_id": r.build.id, "status": r.build.status.value, "message": r.build.message,
            "events": len(r.events)}


def start_and_follow(settings: Settings, who: Principal, build_id: str) -> tuple[PlannedBuild, Job]:
    """Send a build to its printer now (busy, unreachable, a wrong key: the error at once), then follow it in a
    background job; the build and the job."""
    result = dispatch_build(settings, build_id, who=who)
    with UnitOfWork(settings.database_url) as uow:
        job = jobs.enqueue(uow, FOLLOW_JOB, {"build_id": build_id}, organisation_id=who.organisation_id,
                           user_id=who.user_id)
        uow.commit()
    jobs.submit(settings, job.id)
    return result.build, job


def list_site_machines(settings: Settings, who: Principal) -> list[MachineConnection]:
    """The linked machines of the caller's site (every site for an operator)."""
    return list_machines(settings, own_site(who))


def connection(settings: Settings, who: Principal, machine_id: str) -> MachineConnection:
    """The link of one machine of the caller's site; 404 when it has none."""
    with UnitOfWork(settings.database_url) as uow:
        site_id, _ = _machine_site(uow, machine_id)
    _check_site(who, site_id, f"machine {machine_id}")
    found = next((c for c in list_machines(settings, site_id) if c.machine_id == machine_id), None)
    if found is None:
        raise NotFoundError(f"machine {machine_id} has no print host", hint="PUT its connection first",
                            code="dispatch.not_connected")
    return found
