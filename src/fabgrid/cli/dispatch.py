"""`fabgrid dispatch BUILD_ID [--wait] [--json]`: slice a planned build, send it to its machine's print host
and (with --wait) follow it to done, failed or cancelled, printing the final state and the machine events.
`fabgrid dispatch BUILD_ID --cancel` cancels it (its parts go back to the queue).

Calls services.dispatch (imported inside the command so `fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fabgrid.cli._common import console, emit_json

DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL or SQLite")]


def _dispatch(
    build_id: Annotated[str, typer.Argument(help="build id (`fabgrid builds list`)")],
    wait: Annotated[bool, typer.Option("--wait", help="follow the print until it ends")] = False,
    cancel: Annotated[bool, typer.Option("--cancel", help="cancel the build on its printer")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.2, max=60.0, help="seconds between readings")] = 2.0,
    database_url: DatabaseUrl = None,
    json_: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Send a build to its printer (and follow it with --wait)."""
    from fabgrid.cli.builds import build_doc
    from fabgrid.config import load_settings
    from fabgrid.services import dispatch
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    prepare_database(settings.database_url)
    events: list[dict[str, Any]] = []
    if cancel:
        build = dispatch.cancel_build(settings, build_id)
    else:
        def show(batch: list[dict[str, Any]]) -> None:
            if not json_:
                for e in batch:
                    detail = {k: v for k, v in e.items() if k not in ("id", "ts", "machine", "site", "type")}
                    console.print(f"{e['ts'][11:19]} {e['type']:<11} {detail}")

        result = dispatch.dispatch_build(settings, build_id, wait=wait, poll_s=poll, on_events=show)
        build, events = result.build, result.events
    if json_:
        emit_json({"build": build_doc(build), "state": build.status.value, "message": build.message,
                   "events": events})
    else:
        console.print(f"build {build.id} on {build.machine_id}: {build.status.value} ({build.message})")
    if build.status.value == "failed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `fabgrid dispatch`."""
    app.command("dispatch")(_dispatch)
