"""`fabgrid machines connect` (link a machine to its print host: OctoPrint, Moonraker, PrusaLink, Bambu LAN) and
`fabgrid machines list` (kind, host, connection state), `fabgrid machines camera` (watch its builds with its camera).

Calls services.dispatch (imported inside the commands so `fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fabgrid.cli._common import console, emit_json, table

machines_app = typer.Typer(help="Machines linked to their print hosts.", no_args_is_help=True)
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL or SQLite")]
JsonOut = Annotated[bool, typer.Option("--json", help="print one JSON document")]


def _doc(c: Any) -> dict[str, Any]:
    doc: dict[str, Any] = c.model_dump(mode="json")
    return doc


@machines_app.command("connect")
def connect(
    machine_id: Annotated[str, typer.Argument(help="machine id of the network, e.g. cs-tianxin-01-f01")],
    kind: Annotated[str, typer.Option("--kind", help="octoprint, moonraker, prusalink or bambu")],
    url: Annotated[str, typer.Option("--url", help="the host's address, e.g. http://192.168.1.20:5000")],
    api_key: Annotated[str | None, typer.Option("--api-key", help="the host's API key (OctoPrint, PrusaLink)")] = None,
    serial: Annotated[str | None, typer.Option("--serial", help="printer serial (Bambu LAN)")] = None,
    access_code: Annotated[str | None, typer.Option("--access-code", help="LAN access code (Bambu)")] = None,
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """Link MACHINE_ID to its print host (stored encrypted) and check the host once."""
    from fabgrid.config import load_settings
    from fabgrid.services import dispatch
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    prepare_database(settings.database_url)
    c = dispatch.connect_machine(settings, machine_id, kind, url, api_key=api_key, serial=serial,
                                 access_code=access_code)
    if json_:
        emit_json(_doc(c))
    else:
        console.print(f"{c.machine_id}: {c.kind} at {c.host}: {c.state.value} ({c.message})")
    if c.state.value != "connected":
        raise typer.Exit(1)  # the link is kept; the state says what to fix


@machines_app.command("list")
def list_(
    site: Annotated[str | None, typer.Option("--site", help="only this site's machines")] = None,
    check: Annotated[bool, typer.Option("--check", help="ask every host now")] = False,
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """The machines linked to print hosts, with kind, host and connection state."""
    from fabgrid.config import load_settings
    from fabgrid.services import dispatch
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    prepare_database(settings.database_url)
    rows = dispatch.list_machines(settings, site, check=check)
    if json_:
        emit_json({"machines": [_doc(c) for c in rows]})
        return
    table(f"machines linked to a print host ({len(rows)})", ["machine", "site", "kind", "host", "state", "message"],
          [[c.machine_id, c.site_id, c.kind, c.host, c.state.value, c.message] for c in rows])


def register(app: typer.Typer) -> None:
    """Add `fabgrid machines`."""
    app.add_typer(machines_app, name="machines")


@machines_app.command("camera")
def camera(
    machine_id: Annotated[str, typer.Argument(help="a machine linked to its print host")],
    url: Annotated[str | None, typer.Option("--url", help="the camera's snapshot URL (one JPEG/PNG per request), "
                                            "e.g. http://192.168.1.20/webcam/?action=snapshot")] = None,
    pause_after: Annotated[int, typer.Option("--pause-after", help="anomalous frames in a row that pause the print "
                                             "(1..20)")] = 3,
    every: Annotated[float, typer.Option("--every", help="seconds between two scored frames (1..600)")] = 10.0,
    frames: Annotated[int, typer.Option("--frames", help="frames taken now to learn normal (5..30): show a good "
                                        "print")] = 8,
    remove: Annotated[bool, typer.Option("--remove", help="stop watching this machine with its camera")] = False,
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """Watch MACHINE_ID's builds with its camera: learn normal frames now, then pause a print after
    --pause-after anomalous frames in a row. Without --url: show the camera linked now."""
    from dataclasses import asdict

    from fabgrid.config import load_settings
    from fabgrid.services import camera_watch
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    prepare_database(settings.database_url)
    if remove:
        camera_watch.unlink_camera(settings, machine_id)
        console.print(f"{machine_id}: no camera")
        return
    c = (camera_watch.link_camera(settings, machine_id, url, pause_after=pause_after, every_s=every,
                                  learn_frames=frames) if url else camera_watch.camera_of(settings, machine_id))
    if c is None:
        console.print(f"{machine_id}: no camera (link one with --url)")
        raise typer.Exit(1)
    if json_:
        emit_json(asdict(c))
    else:
        console.print(f"{c.machine_id}: camera {c.camera}, a frame every {c.every_s:g} s, paused after "
                      f"{c.pause_after} anomalous frames in a row (threshold {c.threshold:.3g}, learnt from "
                      f"{c.frames} frames)")
