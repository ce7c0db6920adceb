"""A part's DFM findings and a quote's limits in the reader's language: on a zh-CN page the catalog's
`finding.<code>.message` / `finding.<code>.fix` and `limit.<code>` (web/i18n/findings.zh.yaml) with the values the
finding or limit carries filled in; English pages, and a code the catalog has no text for, keep the engine's
detailed English sentence. Processes and machine models are named with `domain.catalog.local_name`.

Depends on web.i18n and the domain records only; never on services, store or engines.
"""

from __future__ import annotations

from typing import NamedTuple

from fabgrid.domain.catalog import Catalog, ProcessFamily, local_name
from fabgrid.domain.part_facts import DfmFinding, Severity
from fabgrid.domain.quote import Limit
from fabgrid.web import i18n

#: The placeholders `finding_text` fills (a text may use any of them that its finding carries):
#: value_mm / limit_mm: the finding's value / limit as a length (mm, up to 2 decimals); value_mm3: its value as a
#: volume (mm³); count: its value as a whole number (faces, edges, holes, bodies); process: the process's name;
#: machine: the machine model's name; build_volume: that model's build volume (mm, x × y × z); min_hole_mm /
#: min_gap_mm: the process's smallest hole and gap (mm); media: what a closed cavity traps (resin or powder).
PLACEHOLDERS = frozenset({"value_mm", "limit_mm", "value_mm3", "count", "process", "machine", "build_volume",
                          "min_hole_mm", "min_gap_mm", "media"})
#: The placeholders `limit_text` fills: sites (how many sites gave that reason), finding (the blocking finding's
#: text, for `limit.dfm`).
LIMIT_PLACEHOLDERS = frozenset({"sites", "finding"})
#: Limits said by a text of zh.yaml/en.yaml with the limit's figures rather than by `limit.<code>`.
LIMIT_KEYS = {"too_big": "quote.limit_too_big"}


class FindingText(NamedTuple):
    """What a page shows of a finding: its sentence and fix, and where it applies (process, machine model)."""

    message: str
    fix: str
    process: str
    machine: str


def _mm(x: float) -> str:
    """A length in mm with at most 2 decimals (0.2, 0.35, 256)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _mm3(x: float) -> str:
    """A volume in mm³: whole above 100, else 2 decimals."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2f}"


def _values(lang: str, f: DfmFinding, cat: Catalog | None) -> dict[str, str]:
    """The placeholders of PLACEHOLDERS that the finding `f` carries, as text in `lang`."""
    out: dict[str, str] = {}
    if f.value is not None:
        out |= {"value_mm": _mm(f.value), "value_mm3": _mm3(f.value), "count": str(round(f.value))}
    if f.limit is not None:
        out["limit_mm"] = _mm(f.limit)
    proc = cat.processes.get(f.process) if cat is not None and f.process is not None else None
    if f.process is not None:
        out["process"] = local_name(proc, lang) if proc is not None else f.process.value
        out["media"] = i18n.translate(lang, "finding.media.resin" if f.process is ProcessFamily.SLA
                                      else "finding.media.powder")
    if proc is not None:
        out |= {"min_hole_mm": _mm(proc.min_hole_mm), "min_gap_mm": _mm(proc.min_gap_mm)}
    model = cat.machine_models.get(f.machine_model) if cat is not None and f.machine_model else None
    if f.machine_model:
        out["machine"] = local_name(model, lang) if model is not None else f.machine_model
    if model is not None:
        out["build_volume"] = " × ".join(_mm(v) for v in model.build_volume_mm)
    return out


def finding_text(lang: str, f: DfmFinding, cat: Catalog | None = None) -> FindingText:
    """The finding `f` as a page in `lang` shows it: on a Chinese page the catalog's texts of its code with its
    values (process and machine model by their Chinese names); on an English page, or for a code without a text
    (or whose text needs a value the finding lacks), the engine's message and fix as they are."""
    english = FindingText(f.message, f.fix, f.process.value if f.process is not None else "", f.machine_model or "")
    if lang != "zh":
        return english
    texts = i18n.catalog(lang)
    message, fix = texts.get(f"finding.{f.code}.message"), texts.get(f"finding.{f.code}.fix")
    values = _values(lang, f, cat)
    where = FindingText("", "", values.get("process", ""), values.get("machine", ""))
    if message is None or fix is None:
        return english._replace(process=where.process, machine=where.machine)
    try:
        return where._replace(message=message.format(**values), fix=fix.format(**values))
    except KeyError:  # a text with a value this finding does not carry: the English sentence says it
        return english._replace(process=where.process, machine=where.machine)


def limit_text(lang: str, lim: Limit, findings: list[DfmFinding] | None = None, cat: Catalog | None = None) -> str:
    """What keeps every site from making a part (a quote's limit), in `lang`: the part against the largest build
    envelope (`too_big`), the thinnest wall against the process's minimum (`dfm` with those figures), else on a
    Chinese page `limit.<code>` (how many sites; for `dfm` the blocking finding of `findings` said as on the part
    page) and on an English page the limit's own sentence."""
    fig = lim.figures
    if lim.code == "too_big" and all(k in fig for k in ("part_x_mm", "envelope_x_mm", "machine_model")):
        model = cat.machine_models.get(str(fig["machine_model"])) if cat is not None else None
        machine = local_name(model, lang) if model is not None and lang == "zh" else str(fig["machine_model"])
        return i18n.translate(lang, LIMIT_KEYS["too_big"], machine=machine, **{
            what: " × ".join(f"{float(fig[f'{what}_{a}_mm']):.0f}" for a in "xyz") for what in ("part", "envelope")})
    wall, need = fig.get("min_wall_mm"), fig.get("process_min_wall_mm")
    if lim.code == "dfm" and isinstance(wall, float | int) and isinstance(need, float | int) and wall < need:
        return i18n.translate(lang, "quote.limit_wall", wall=f"{wall:.2f}", need=f"{need:g}")
    text = i18n.catalog(lang).get(f"limit.{lim.code}") if lang == "zh" else None
    if text is None:
        return lim.message
    if lim.code == "dfm":
        # the limit's sentence is "DFM error for <process>: <the first blocking finding's message>"
        found = next((f for f in findings or () if f.severity is Severity.ERROR and not f.machine_model
                      and lim.message.endswith(f": {f.message}")), None)
        if found is None:
            return i18n.translate(lang, "reject.dfm")
        return text.format(finding=finding_text(lang, found, cat).message)
    sites = fig.get("sites")
    return text.format(sites=f"{float(sites):.0f}") if isinstance(sites, float | int) else lim.message
