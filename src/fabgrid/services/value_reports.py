"""Use case of the operator's value report (issue 22, item 4): the comparison of the traditional and the fabgrid
policy that `fabgrid simulate --report` prints, started from the operator's page or the API as a background job
(kind `operator.value_report`: the in-process pool, or Celery when a broker is set), its progress, and the reports
kept for later. The page renders the same pieces as the CLI's HTML report (`fabgrid.sim.report`), in its language.

Uses services.simulation (the simulator), services.jobs and the store; never imports api, web or cli.
"""

from __future__ import annotations

import base64
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.value_report import ValueReport, ValueReportStatus
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import jobs
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

JOB = "operator.value_report"
#: Bounds of a value report run from the product (the CLI allows longer runs: `fabgrid simulate`).
MIN_DAYS, MAX_DAYS = 1, 60
MIN_SEEDS, MAX_SEEDS = 1, 10
MIN_PARTS, MAX_PARTS = 2, 60
MIN_SCALE, MAX_SCALE = 0.01, 5.0
MAX_ASSUMPTIONS = 20
#: Defaults of the form: a short run (two weeks, three seeds, 12 generated parts).
DEFAULTS: dict[str, Any] = {"days": 14, "seeds": 3, "seed": 0, "parts": 12, "sites": None, "scale": 1.0,
                            "disruptions": "", "assumptions": {}, "measure_packing": False}
#: The assumptions the page's form offers (keys of data/sim.yaml); the API takes any key of that file.
FORM_ASSUMPTIONS = ("demand.orders_per_day", "demand.small_share", "fabgrid.batch_h", "fabgrid.horizon_days",
                    "fabgrid.candidates_per_line", "maintenance.interval_h", "operators.machines_per_operator",
                    "customers.cancel_after_late_days")
_SPEC_ITEM = re.compile(r"^[a-z]+:[^:/\\]+:[a-z]+:day\d+(-\d+)?$")
_PROGRESS = re.compile(r"simulated (\d+)/(\d+) runs")


@dataclass(frozen=True)
class ValueReportOptions:
    """What to compare: `days` simulated, `seeds` (spawned from `seed`), generated `parts` in the library, the
    first `sites` sites (None: all), demand `scale`, `disruptions` (KIND:TARGET:EFFECT:dayA-B, commas), and
    `assumptions` (key of data/sim.yaml -> value); `measure_packing` runs the nesting engine once."""

    days: int = DEFAULTS["days"]
    seeds: int = DEFAULTS["seeds"]
    seed: int = 0
    parts: int = DEFAULTS["parts"]
    sites: int | None = None
    scale: float = 1.0
    disruptions: str = ""
    assumptions: dict[str, str] = field(default_factory=dict)
    measure_packing: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days, "seeds": self.seeds, "seed": self.seed, "parts": self.parts, "sites": self.sites,
                "scale": self.scale, "disruptions": self.disruptions, "assumptions": dict(self.assumptions),
                "measure_packing": self.measure_packing}


def _operator(who: Principal) -> None:
    if who.role not in ("operator", "admin"):
        raise InputError("this needs an operator account", code="operator.only", status=403)


def _bounded(name: str, value: float, low: float, high: float, code: str) -> None:
    if not low <= value <= high:
        raise InputError(f"{name} must be {low:g}..{high:g}, got {value:g}",
                         hint=f"a value report runs {MIN_DAYS}..{MAX_DAYS} days and {MIN_SEEDS}..{MAX_SEEDS} seeds; "
                              "longer runs: `fabgrid simulate --report`", code=code)


def check(o: ValueReportOptions) -> list[str]:
    """Validate `o` as the simulator would (bounds, site count, disruptions against the network, assumptions
    against data/sim.yaml); the `--set` list of its assumptions. InputError (422) names what is wrong."""
    from fabgrid.services.catalog import shipped_network
    from fabgrid.sim.config import load_params, override, parse_disruptions

    _bounded("days", o.days, MIN_DAYS, MAX_DAYS, "value_report.days")
    _bounded("seeds", o.seeds, MIN_SEEDS, MAX_SEEDS, "value_report.seeds")
    _bounded("parts", o.parts, MIN_PARTS, MAX_PARTS, "value_report.parts")
    _bounded("scale", o.scale, MIN_SCALE, MAX_SCALE, "value_report.scale")
    if not 0 <= o.seed < 2**31:
        raise InputError(f"seed must be 0..{2**31 - 1}, got {o.seed}", code="value_report.seed")
    network = shipped_network()
    if o.sites is not None and not 1 <= o.sites <= len(network.sites):
        raise InputError(f"sites must be 1..{len(network.sites)} (the first N sites) or empty (all), got {o.sites}",
                         code="value_report.sites")
    spec = o.disruptions.strip()
    if spec:
        for item in spec.split(","):
            if not _SPEC_ITEM.match(item.strip()):
                raise InputError(f"disruption {item.strip()!r} is not KIND:TARGET:EFFECT:dayA-B",
                                 hint="e.g. site:cs-jingkai-01:closed:day3-6,province:Guangdong:logistics:day10-12",
                                 code="value_report.disruptions")
        parse_disruptions(spec, network, o.days)
    if len(o.assumptions) > MAX_ASSUMPTIONS:
        raise InputError(f"at most {MAX_ASSUMPTIONS} assumptions", code="value_report.assumptions")
    sets = [f"{k}={v}" for k, v in o.assumptions.items()]
    for k in o.assumptions:
        if k.split(".")[0] in ("sources", "industry_claims"):
            raise InputError(f"assumption {k!r} cannot be changed here", code="value_report.assumptions")
    override(load_params(), sets)
    return sets


def form_assumptions() -> list[tuple[str, str, str]]:
    """The assumptions the page's form offers, as (key of data/sim.yaml, shipped value, source) rows."""
    from fabgrid.sim.config import load_params
    from fabgrid.sim.report import assumption_rows

    rows = {k: (k, v, src) for k, v, src in assumption_rows(load_params())}
    return [rows[k] for k in FORM_ASSUMPTIONS if k in rows]


def start(settings: Settings, who: Principal, o: ValueReportOptions) -> ValueReport:
    """Check `o`, store a queued report and hand its job to a worker; the report (with its job id)."""
    _operator(who)
    check(o)
    report = ValueReport(id=new_id("vrp"), status=ValueReportStatus.QUEUED, options=o.as_dict(),
                         requested_by=who.user_id, runs_total=2 * o.seeds, created_at=now())
    with UnitOfWork(settings.database_url) as uow:
        job = jobs.enqueue(uow, JOB, {"report_id": report.id}, organisation_id=who.organisation_id,
                           user_id=who.user_id)
        stored = uow.value_reports.add(report.model_copy(update={"job_id": job.id}))
        uow.commit()
    jobs.submit(settings, job.id)
    return stored


def list_reports(settings: Settings, who: Principal, limit: int = 30) -> list[ValueReport]:
    """The value reports, newest first."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return uow.value_reports.find(limit)


def get_report(settings: Settings, who: Principal, report_id: str) -> ValueReport:
    """One value report (404 when there is none of that id)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        r = uow.value_reports.get(report_id)
    if r is None:
        raise NotFoundError(f"value report {report_id!r} not found", code="value_report.not_found")
    return r


def options_of(r: ValueReport) -> ValueReportOptions:
    """The options a report was asked with."""
    o = r.options
    return ValueReportOptions(days=int(o["days"]), seeds=int(o["seeds"]), seed=int(o["seed"]), parts=int(o["parts"]),
                              sites=o.get("sites"), scale=float(o["scale"]), disruptions=str(o["disruptions"]),
                              assumptions=dict(o.get("assumptions") or {}),
                              measure_packing=bool(o.get("measure_packing")))


def _save(settings: Settings, report_id: str, **values: Any) -> None:
    with UnitOfWork(settings.database_url) as uow:
        r = uow.value_reports.get(report_id)
        if r is not None:
            uow.value_reports.update(r.model_copy(update=values))
            uow.commit()


@jobs.register(JOB)
def _run(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """Job handler: run the comparison of a stored report on this worker and store its document and charts."""
    from fabgrid.services.simulation import SimulationOptions, _no_nan, simulate

    report_id = str(params["report_id"])
    with UnitOfWork(settings.database_url) as uow:
        r = uow.value_reports.get(report_id)
    if r is None:
        raise InputError(f"value report {report_id!r} not found", code="value_report.not_found", status=404)
    o = options_of(r)
    _save(settings, report_id, status=ValueReportStatus.RUNNING)

    def note(line: str) -> None:
        m = _PROGRESS.search(line)
        if m:
            _save(settings, report_id, runs_done=int(m.group(1)), runs_total=int(m.group(2)))

    try:
        sets = check(o)
        with tempfile.TemporaryDirectory(prefix="fabgrid-vr-") as tmp:
            html = Path(tmp) / "report.html"
            sim = simulate(SimulationOptions(days=o.days, seed=o.seed, policy="both", seeds=o.seeds,
                                             disruptions=o.disruptions or None,
                                             sites=str(o.sites) if o.sites else None, parts=o.parts, scale=o.scale,
                                             fast=not o.measure_packing, overrides=tuple(sets), report=html,
                                             workers=1), note=note, settings=settings)
            charts = {p.stem.removeprefix("report-"): base64.b64encode(p.read_bytes()).decode("ascii")
                      for p in sorted(Path(tmp).glob("report-*.png"))}
    except InputError as exc:
        _save(settings, report_id, status=ValueReportStatus.FAILED, finished_at=now(),
              problem={"title": exc.code, "detail": exc.message, "hint": exc.hint, "status": exc.status})
        raise
    except Exception as exc:
        _save(settings, report_id, status=ValueReportStatus.FAILED, finished_at=now(),
              problem={"title": "value_report.internal", "status": 500,
                       "detail": f"the simulation failed with an internal error ({type(exc).__name__})"})
        raise
    doc = _no_nan({k: v for k, v in sim.doc.items() if k != "report"})
    runs = int(doc.get("runs", 2 * o.seeds))
    _save(settings, report_id, status=ValueReportStatus.SUCCEEDED, doc=doc, charts=charts, runs_done=runs,
          runs_total=runs, finished_at=now())
    return {"report_id": report_id, "runs": runs}


@dataclass(frozen=True)
class ReportView:
    """What the page and the API show of a report that succeeded: the headline `cards` (metrics with a figure)
    and those `left_out` (no figure), the side-by-side `rows` (metric, value per policy, change), the industry
    `claims` with their public source, the `assumptions` as (parameter, value, source, changed by the operator)."""

    policies: list[str]
    cards: list[str]
    left_out: list[str]
    rows: list[tuple[str, dict[str, Any], Any]]
    claims: list[dict[str, Any]]
    assumptions: list[tuple[str, str, str, bool]]
    percent: frozenset[str]
    lower_is_better: frozenset[str]


def view(r: ValueReport) -> ReportView:
    """The pieces of the CLI's HTML report (`fabgrid.sim.report`) for a report that succeeded."""
    from fabgrid.sim.config import load_params, override
    from fabgrid.sim.metrics import LOWER_IS_BETTER
    from fabgrid.sim.report import PERCENT, SIDE_BY_SIDE, assumption_rows, cards, claim_rows

    if r.doc is None:
        raise InputError(f"value report {r.id} has no result yet ({r.status.value})", code="value_report.not_ready",
                         status=409)
    doc = r.doc
    params = override(load_params(), [f"{k}={v}" for k, v in (r.options.get("assumptions") or {}).items()])
    changed = set(r.options.get("assumptions") or {})
    pols = list(doc["policies"])
    shown, left_out = cards(doc)
    change = doc.get("change") or {}
    rows = [(k, {p: doc["policies"][p][k] for p in pols}, change.get(k)) for k in SIDE_BY_SIDE
            if k in doc["policies"][pols[0]]]
    assumptions = [(k, v, src, k in changed or any(c.startswith(k + ".") for c in changed))
                   for k, v, src in assumption_rows(params)]
    return ReportView(policies=pols, cards=shown, left_out=left_out, rows=rows, claims=claim_rows(doc, params),
                      assumptions=assumptions, percent=PERCENT, lower_is_better=frozenset(LOWER_IS_BETTER))
