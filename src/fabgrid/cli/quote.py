"""`fabgrid quote PART --material M` (offers over the network) and `fabgrid estimate PART --machine MODEL`.

Both call `fabgrid.services.quotes` (imported inside the commands so `fabgrid --help` stays fast).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer

from fabgrid.cli._common import console, emit_json, table
from fabgrid.services.formats import FORMATS_TEXT


def _offer_json(o: Any) -> dict[str, Any]:
    d: dict[str, Any] = o.model_dump(mode="json")
    est = d.pop("estimate")
    d["estimate"] = {k: est[k] for k in ("time_s", "material_g", "energy_kwh", "builds", "job_time_s")}
    return d


def quote_cmd(
    part: Path = typer.Argument(..., help=f"part file: {FORMATS_TEXT}"),
    material: str = typer.Option(..., "--material", "-m", help="material id (fabgrid catalog lists them)"),
    qty: int = typer.Option(1, "--qty", "-q", help="number of copies"),
    process: str | None = typer.Option(None, "--process", "-p", help="process family (fdm, sla, sls, ...)"),
    finish: str | None = typer.Option(None, "--finish", "-f", help="finish id (e.g. dyeing, vapour_smoothing)"),
    need_by: str | None = typer.Option(None, "--need-by", help="date the parts are needed (YYYY-MM-DD)"),
    to: str | None = typer.Option(None, "--to", help="destination city (e.g. Changsha)"),
    units: str | None = typer.Option(None, "--units", "-u", help="override the file's unit: mm, inch, m"),
    no_dfm: bool = typer.Option(False, "--no-dfm", help="skip the DFM analysis (faster, no DFM rejections)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Offers from every capable site of the network, and why the others cannot make the part."""
    from fabgrid.config import load_settings
    from fabgrid.errors import InputError
    from fabgrid.services.quotes import quote_file

    need: date | None = None
    if need_by is not None:
        try:
            need = date.fromisoformat(need_by)
        except ValueError:
            raise InputError(f"--need-by {need_by!r} is not a date", hint="use YYYY-MM-DD",
                             code="quote.need_by") from None
    q = quote_file(part, material, qty, process, finish, need, to, units=units, analyse=not no_dfm,
                   settings=load_settings())
    if as_json:
        emit_json({"input_hash": q.input_hash, "part": q.part_name, "material": q.material, "quantity": q.quantity,
                   "created_at": q.created_at, "expires_at": q.expires_at, "currency": "CNY",
                   "offers": [_offer_json(o) for o in q.offers],
                   "rejected": [r.model_dump(mode="json") for r in q.rejected], "vat_pct": q.vat_pct,
                   "price_breaks": [b.model_dump(mode="json") for b in q.price_breaks],
                   "unmakeable": q.unmakeable.model_dump(mode="json") if q.unmakeable else None})
        return
    table(f"{len(q.offers)} offers: {q.quantity} x {q.material}, valid until {q.expires_at:%Y-%m-%d}",
          ["site", "machine", "unit CNY", "total CNY", "ship", "deliver", "CO2e kg"],
          [(o.site, o.machine, f"{o.unit_price_cny:.2f}", f"{o.total_price_cny:.2f}", o.ship_date,
            o.delivery_date, f"{o.co2_kg:.3f}") for o in q.offers])
    console.print("economy / express tiers, energy and the cost breakdown: add --json")
    if q.price_breaks:
        table("price breaks (standard tier, cheapest offer)", ["quantity", "unit CNY", "total CNY", "site", "deliver"],
              [(b.quantity, "-" if b.unit_price_cny is None else f"{b.unit_price_cny:.2f}",
                "-" if b.total_price_cny is None else f"{b.total_price_cny:.2f}", b.site or "-", b.delivery_date or "-")
               for b in q.price_breaks])
    if q.offers and q.rejected:
        table("sites that cannot make it", ["site", "reason"], [(r.site, r.reason) for r in q.rejected])
    if q.unmakeable is not None:
        console.print(f"[bold red]no site of the network can make this part[/] ({len(q.rejected)} sites checked)")
        for lim in q.unmakeable.limits:
            console.print(f"  limit: {lim.message}")
        for a in q.unmakeable.alternatives:
            console.print(f"  instead: {a.material} ({a.process.value}): {a.offers} offers, from "
                          f"{a.unit_price_cny:.2f} CNY a part, delivery from {a.delivery_date}")
        console.print("  or ask for a quote by hand: POST /api/v1/rfqs (the web quote page links it)")


def estimate_cmd(
    part: Path | None = typer.Argument(None, help="part file (not needed with --slicer-config)"),
    machine: str | None = typer.Option(None, "--machine", help="machine model id"),
    material: str | None = typer.Option(None, "--material", "-m", help="material id (default: the first)"),
    qty: int = typer.Option(1, "--qty", "-q", help="number of copies"),
    units: str | None = typer.Option(None, "--units", "-u", help="override the file's unit: mm, inch, m"),
    slicer_config: str | None = typer.Option(None, "--slicer-config",
                                             help="print the PrusaSlicer .ini equivalent to this FDM machine model"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Time, material and energy of a part on one machine model (or its PrusaSlicer profile)."""
    from fabgrid.errors import InputError
    from fabgrid.services.quotes import estimate_file
    from fabgrid.services.quotes import slicer_config as make_ini

    if slicer_config is not None:
        sys.stdout.write(make_ini(slicer_config, material))
        return
    if part is None or machine is None:
        raise InputError("estimate needs a PART file and --machine MODEL",
                         hint="or use --slicer-config MODEL to print a slicer profile", code="estimate.usage")
    doc = estimate_file(part, machine, material, qty, units=units)
    if as_json:
        emit_json(doc)
        return
    rows = [(k, f"{v:.6g}" if isinstance(v, float) else v) for k, v in doc.items() if k != "details"]
    rows += [(f"  {k}", f"{v:.6g}") for k, v in doc["details"].items()]
    table(f"estimate: {doc['part']} on {machine}", ["figure", "value"], rows)


def register(app: typer.Typer) -> None:
    """Add `quote` and `estimate` to the app."""
    app.command("quote")(quote_cmd)
    app.command("estimate")(estimate_cmd)
