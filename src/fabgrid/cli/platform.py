"""`fabgrid serve` and `fabgrid db upgrade`: run the web platform, migrate the database."""

from __future__ import annotations

from typing import Annotated

import typer

from fabgrid.cli._common import emit_json, err_console

#: The app factory `fabgrid serve` runs (uvicorn import string).
APP_FACTORY = "fabgrid.app:create_app"
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)

DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL; default: "
                                                 "FABGRID_DATABASE_URL or SQLite in the user data directory")]


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
    demo_source: Annotated[str | None, typer.Option(
        "--demo-source", help="without an MQTT broker, what simulates the machines: simulation (SimPy network "
        "simulation, fabgrid policy) or fleet (telemetry fleet); default FABGRID_DEMO_SOURCE or fleet")] = None,
) -> None:
    """Start the fabgrid web platform (pages, API at /api/v1, OpenAPI at /docs)."""
    from dataclasses import replace

    import uvicorn

    from fabgrid.config import check_demo_source, export_settings, load_settings
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    if demo_source is not None:
        settings = replace(settings, demo_source=check_demo_source(demo_source, "--demo-source"))
    # Without a broker, one serving process simulates the network's machines (the demo's live data).
    if not settings.mqtt_url and workers == 1 and settings.embedded_fleet is not False:
        settings = replace(settings, embedded_fleet=True)
    state = prepare_database(settings.database_url)
    err_console.print(f"fabgrid: database at revision {state.revision} ({settings.database_url}); "
                      f"{state.counts['sites']} sites, {state.counts['machines']} machines")
    if settings.embedded_fleet and not settings.mqtt_url:
        err_console.print(f"fabgrid: live machine data simulated in-process ({settings.demo_source})")
    err_console.print(f"fabgrid: serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers == 1:
        # The app is named by its import string, as uvicorn does (the CLI never imports api or web), and
        # gets the settings object itself.
        from uvicorn.importer import import_from_string

        app = import_from_string(APP_FACTORY)(settings)
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    # Several worker processes: uvicorn starts each from the import string, where no object can be handed
    # over, so the settings travel as the environment that `load_settings()` reads there (the one case).
    export_settings(settings)
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level="info")


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
    json_: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Create or migrate the database; an empty one gets the shipped network."""
    from fabgrid.config import load_settings
    from fabgrid.services.platform import migrate_database, prepare_database

    settings = load_settings(database_url)
    if revision == "head":
        state = prepare_database(settings.database_url)
        rev, counts = state.revision, state.counts
    else:
        rev, counts = migrate_database(settings.database_url, revision), {}
    if json_:
        emit_json({"revision": rev, "database_url": settings.database_url, "counts": counts})
    else:
        typer.echo(f"database {settings.database_url} at revision {rev}")
        for k, v in counts.items():
            typer.echo(f"  {k}: {v}")


@db_app.command("seed")
def db_seed(
    database_url: DatabaseUrl = None,
    replace: Annotated[bool, typer.Option("--replace", help="overwrite the stored network with the shipped one "
                                          "(factories' changes to sites, machines and rates are lost)")] = False,
    json_: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Load the shipped network (sites, machines, catalog, rates) into an empty database."""
    from fabgrid.config import load_settings
    from fabgrid.services.platform import seed_database

    settings = load_settings(database_url)
    state = seed_database(settings.database_url, replace=replace)
    if json_:
        emit_json({"seeded": state.seeded, "revision": state.revision, "database_url": settings.database_url,
                   "counts": state.counts})
        return
    if state.seeded:
        typer.echo(f"loaded the shipped network into {settings.database_url}")
    else:
        typer.echo(f"{settings.database_url} holds a network already ({state.counts.get('sites', 0)} sites); "
                   "nothing changed (--replace overwrites it with the shipped one)")
    for k, v in state.counts.items():
        typer.echo(f"  {k}: {v}")


def register(app: typer.Typer) -> None:
    """Add `serve` and `db` to the CLI."""
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
