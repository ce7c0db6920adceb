"""`fabgrid builds plan --site S` (pack the site's open order lines into builds through the nesting engine) and
`fabgrid builds list`.

Calls services.builds (imported inside the commands so `fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fabgrid.cli._common import console, emit_json, table

builds_app = typer.Typer(help="Builds (machine runs) of a site.", no_args_is_help=True)
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL or SQLite")]
JsonOut = Annotated[bool, typer.Option("--json", help="print one JSON document")]


def build_doc(b: Any) -> dict[str, Any]:
    """A build as JSON (also used by `fabgrid dispatch`)."""
    doc: dict[str, Any] = b.model_dump(mode="json")
    doc["copies"] = b.copies
    return doc


def _show(builds: list[Any], title: str) -> None:
    table(title, ["build", "machine", "process", "material", "status", "parts", "lines"],
          [[b.id, b.machine_id or "", b.process, b.material, b.status.value, b.copies,
            ", ".join(p.line_id for p in b.parts if p.line_id)] for b in builds])


@builds_app.command("plan")
def plan(
    site: Annotated[str, typer.Option("--site", help="site id")],
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """Re-plan the site's builds from its open order lines (started builds are kept)."""
    from fabgrid.config import load_settings
    from fabgrid.services import builds
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    prepare_database(settings.database_url)
    result = builds.plan_site(settings, site)
    if json_:
        emit_json({"site": result.site, "builds": [build_doc(b) for b in result.builds], "kept": result.kept,
                   "unplanned": result.unplanned})
        return
    _show(result.builds, f"builds of {site} ({len(result.builds)})")
    for u in result.unplanned:
        console.print(f"line {u['line']} not planned: {u['reason']}")


@builds_app.command("list")
def list_(
    site: Annotated[str | None, typer.Option("--site", help="only this site")] = None,
    database_url: DatabaseUrl = None,
    json_: JsonOut = False,
) -> None:
    """The builds (of a site) with their status."""
    from fabgrid.config import load_settings
    from fabgrid.services import builds
    from fabgrid.services.platform import prepare_database

    settings = load_settings(database_url)
    prepare_database(settings.database_url)
    rows = builds.list_builds(settings, site)
    if json_:
        emit_json({"builds": [build_doc(b) for b in rows]})
        return
    _show(rows, f"builds ({len(rows)})")


def register(app: typer.Typer) -> None:
    """Add `fabgrid builds`."""
    app.add_typer(builds_app, name="builds")
