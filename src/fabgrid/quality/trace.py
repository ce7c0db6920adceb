"""Traceability and the customer inspection report.

Genealogy queries over records (which parts a material lot, machine or operator touched) and a
printable HTML inspection report rendered from a Jinja2 template (pure function of its inputs).
Depends on `fabgrid.domain.quality` and Jinja2; never on store, services, api or cli.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources

from fabgrid.domain.quality import Genealogy, ImageResult, LayerCheckResult, SpcReport, Verdict
from fabgrid.errors import InputError

TRACE_KEYS = ("order_id", "build_id", "machine_id", "material_lot", "operator", "site_id")


def trace(records: Iterable[Genealogy], key: str, value: str) -> list[Genealogy]:
    """Parts whose genealogy has ``key == value`` (e.g. every part made from a suspect material lot)."""
    if key not in TRACE_KEYS:
        raise InputError(f"cannot trace by {key!r}", hint=f"use one of {', '.join(TRACE_KEYS)}",
                         code="trace.key")
    return [g for g in records if getattr(g, key) == value]


def containment(records: Iterable[Genealogy]) -> dict[str, list[str]]:
    """For each material lot and machine behind a failed part, the serials of every part they touched.

    This is the recall list: a failure traced to a lot or machine puts its other parts on hold.
    """
    recs = list(records)
    out: dict[str, list[str]] = {}
    for bad in (g for g in recs if g.verdict is Verdict.FAIL):
        for key in ("material_lot", "machine_id"):
            value = getattr(bad, key)
            out[f"{key}={value}"] = sorted(g.part_serial for g in trace(recs, key, value))
    return out


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def render_report(genealogy: Genealogy, *, spc: Sequence[SpcReport] = (),
                  layers: Sequence[LayerCheckResult] = (), images: Sequence[ImageResult] = (),
                  issued_at: datetime | None = None) -> str:
    """The printable HTML inspection report of one part (genealogy, inspections, SPC, layers, images).

    Pure: the same inputs (and ``issued_at``) give the same string; all text is HTML-escaped.
    """
    from jinja2 import Environment, StrictUndefined, select_autoescape

    stamp = issued_at or datetime.now(UTC)
    if stamp.tzinfo is None:
        raise InputError("issued_at must be timezone-aware (UTC)", code="report.time")
    text = resources.files("fabgrid.quality").joinpath("templates/inspection_report.html").read_text("utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined)
    tpl = env.from_string(text)
    return tpl.render(g=genealogy, spc=list(spc), layers=list(layers), images=list(images), fmt=_fmt,
                      issued_at=stamp.astimezone(UTC).isoformat(timespec="seconds"))
