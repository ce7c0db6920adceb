"""Factories join the network: a factory organisation applies (legal name, unified social credit code checked
per GB 32100-2015, a real place, contact, certificates), the park's operator approves (creating its site, on
probation) or rejects with a reason, audited; the public profiles (showroom) and the searchable list of sites
with their standing and scorecard.

One unit of work per use case, typed records out. Depends on the store (`uow.factories`, `uow.catalog`,
`uow.orders`), services.network (the one door to the network) and the domain; never on api, web or cli.
"""

from __future__ import annotations

import json
import secrets
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from fabgrid.config import Settings
from fabgrid.costing.leadtime import local_today
from fabgrid.domain.catalog import Calendar, MachineModel, ProcessFamily, QualityRecord, Shift, Site
from fabgrid.domain.factory import (
    ApplicationStatus,
    Certificate,
    Contact,
    CreditCodeRule,
    FactoryApplication,
    FactoryEvent,
    FactoryStatus,
    Storefront,
    normalise_code,
)
from fabgrid.domain.order import OPEN, OrderStatus
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import access, network
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: Lines that count against a probation factory's open-line cap: allocated there and not yet delivered.
OPEN_AT_SITE = frozenset(OPEN - {OrderStatus.PLACED})
#: Window of the scorecard's figures.
SCORECARD_DAYS = 90
#: A new factory's calendar until it declares its own: one day shift, Monday to Friday (local time).
DEFAULT_SHIFT = Shift(name="day", start=time(8, 30), end=time(17, 30))
DEFAULT_WORKDAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class FactoryRules:
    """The network's rules for factories that joined, as shipped in data/factory_rules.yaml (documented there):
    probation's caps and how it ends, and the weights of the scorecard penalty in the allocation."""

    max_order_cny: float
    max_open_lines: int
    lines_to_verify: int
    late_weight: float
    defect_weight: float
    decline_weight: float
    prior_count: float
    max_share: float


@lru_cache(maxsize=1)
def factory_rules(uow: UnitOfWork | None = None) -> FactoryRules:
    """The rules for joined factories: the network's stored data set `factory_rules` (seeded from
    data/factory_rules.yaml with the network), or the shipped file when no database is at hand (or a database
    seeded before the rules were stored)."""
    doc = uow.catalog.dataset("factory_rules") if uow is not None else None
    if doc is None:
        from fabgrid.data import load_document

        doc = load_document("factory_rules.yaml")
    pro, pen = doc["probation"], doc["scorecard_penalty"]
    return FactoryRules(max_order_cny=float(pro["max_order_cny"]), max_open_lines=int(pro["max_open_lines"]),
                        lines_to_verify=int(pro["lines_to_verify"]), late_weight=float(pen["late_weight"]),
                        defect_weight=float(pen["defect_weight"]), decline_weight=float(pen["decline_weight"]),
                        prior_count=float(pen["prior_count"]), max_share=float(pen["max_share"]))


#: How far given coordinates may lie from the city's centre (degrees, about 55 km).
MAX_COORD_OFFSET_DEG = 0.5


@lru_cache(maxsize=1)
def credit_code_rule() -> CreditCodeRule:
    """The GB 32100-2015 rule as shipped in data/gb32100.yaml (read once, at the first code checked: a standard,
    not network data, so it is not seeded into the store)."""
    from fabgrid.data import load_document

    doc = load_document("gb32100.yaml")
    return CreditCodeRule(charset=str(doc["charset"]), weights=tuple(int(w) for w in doc["weights"]),
                          digits_only=tuple(int(p) for p in doc["digits_only_positions"]), length=int(doc["length"]))



def check_credit_code(code: str) -> str:
    """The normalised code, or a 422 naming the wrong position or the expected check character."""
    norm = normalise_code(code)
    found = credit_code_rule().problem(norm)
    if found is None:
        return norm
    hint = ("check the code on the business licence (营业执照), top right"
            if found.expected is None else
            f"if the first 17 characters are right the code ends in {found.expected}; otherwise one of them is "
            "mistyped")
    raise InputError(f"credit_code {norm!r}: {found.message}", hint=hint, code="factory.credit_code", status=422)


# ---------------------------------------------------------------------------- who may do what


def _factory_org(who: Principal) -> None:
    if who.role != "factory":
        raise InputError("only a user of a factory organisation can apply to join",
                         hint="sign up with role \"factory\"", code="factory.not_factory", status=403)


def _operator(who: Principal) -> None:
    if not access.allows(who, ("operator",)):
        raise InputError("only the park's operator decides on applications", code="factory.not_operator",
                         status=403)


# ---------------------------------------------------------------------------- places


@dataclass(frozen=True)
class Province:
    """A province of provinces.yaml: its tariff and grid factor."""

    id: str
    name_zh: str
    electricity_cny_per_kwh: float
    grid_co2_kg_per_kwh: float


def _provinces_doc(uow: UnitOfWork) -> dict[str, Any]:
    doc = uow.catalog.dataset("provinces")
    if doc is None:  # stored beside the network the first time a factory applies
        from fabgrid.data import load_document

        doc = json.loads(json.dumps(load_document("provinces.yaml"), default=str))  # dates as ISO strings
        uow.catalog.put_dataset("provinces", doc)
    return doc


def provinces(uow: UnitOfWork) -> dict[str, Province]:
    """The provinces the network has tariffs for, by id."""
    return {str(p["id"]): Province(str(p["id"]), str(p["name_zh"]), float(p["electricity_cny_per_kwh"]),
                                   float(p["grid_co2_kg_per_kwh"])) for p in _provinces_doc(uow)["provinces"]}


def _place(uow: UnitOfWork, city: str, province: str, lat: float | None,
           lon: float | None) -> tuple[str, str, float, float]:
    provs = provinces(uow)
    key = province.strip()
    prov = next((p for p in provs.values() if key.casefold() in (p.id.casefold(), p.name_zh)
                 or key.removesuffix("省").removesuffix("市") == p.name_zh), None)
    if prov is None:
        raise InputError(f"province {province!r} is not a province the network serves",
                         hint=f"one of {', '.join(sorted(provs))}", code="factory.province", status=422)
    cities = network.current(uow).logistics.cities
    c = cities.get(city.strip().casefold())
    if c is None:
        known = sorted(v.name for v in cities.values() if v.province == prov.id)
        raise InputError(f"city {city!r} is not a known city", hint=f"cities of {prov.id}: {', '.join(known)}",
                         code="factory.city", status=422)
    if c.province != prov.id:
        raise InputError(f"city {c.name} lies in {c.province}, not {prov.id}", hint=f"give province {c.province}",
                         code="factory.city", status=422)
    if (lat is None) != (lon is None):
        raise InputError("give both lat and lon, or neither (the city centre is used)", code="factory.coordinates",
                         status=422)
    if lat is not None and lon is not None:
        if abs(lat - c.lat) > MAX_COORD_OFFSET_DEG or abs(lon - c.lon) > MAX_COORD_OFFSET_DEG:
            raise InputError(f"coordinates {lat}, {lon} are more than {MAX_COORD_OFFSET_DEG} degrees from "
                             f"{c.name} ({c.lat}, {c.lon})", hint="give the factory's coordinates (WGS84)",
                             code="factory.coordinates", status=422)
        return c.name, prov.id, float(lat), float(lon)
    return c.name, prov.id, c.lat, c.lon


# ---------------------------------------------------------------------------- applications


def apply(settings: Settings, who: Principal, *, legal_name: str, credit_code: str, address: str, city: str,
          province: str, contact: Contact, certificates: Sequence[Certificate] = (), lat: float | None = None,
          lon: float | None = None, now: datetime | None = None) -> FactoryApplication:
    """A factory organisation's application to join (status pending)."""
    _factory_org(who)
    now = now or datetime.now(UTC)
    code = check_credit_code(credit_code)
    if not legal_name.strip() or not address.strip():
        raise InputError("legal_name and address must not be empty", code="factory.missing_field", status=422)
    today = local_today(now)
    for i, c in enumerate(certificates):
        if not c.valid_on(today):
            raise InputError(f"certificates[{i}] ({c.name} {c.number}) expired on {c.expires_on}",
                             hint="upload the renewed certificate, or leave it out", code="factory.certificate",
                             status=422)
    with UnitOfWork(settings.database_url) as uow:
        if who.site_id:
            raise InputError(f"your organisation runs site {who.site_id} already", code="factory.has_site",
                             status=409)
        mine = uow.factories.applications(ApplicationStatus.PENDING, organisation_id=who.organisation_id)
        if mine:
            raise InputError(f"your organisation's application {mine[0].id} is still pending",
                             hint="wait for the operator's decision", code="factory.pending", status=409)
        taken = [a for a in uow.factories.applications(credit_code=code) if a.status != ApplicationStatus.REJECTED
                 and a.organisation_id != who.organisation_id]
        if taken:
            raise InputError(f"credit code {code} belongs to an organisation that applied already",
                             hint="ask the park's operator", code="factory.credit_code_taken", status=409)
        city_name, prov, plat, plon = _place(uow, city, province, lat, lon)
        app = FactoryApplication(
            id="fap_" + secrets.token_hex(8), organisation_id=who.organisation_id, user_id=who.user_id,
            legal_name=legal_name.strip(), credit_code=code, address=address.strip(), city=city_name,
            province=prov, lat=plat, lon=plon, contact=contact, certificates=tuple(certificates),
            status=ApplicationStatus.PENDING, created_at=now)
        stored = uow.factories.add_application(app)
        uow.factories.log("applied", actor_user_id=who.user_id, application_id=app.id)
        uow.commit()
        return stored


def my_applications(settings: Settings, who: Principal) -> list[FactoryApplication]:
    """The caller's organisation's applications, oldest first."""
    _factory_org(who)
    with UnitOfWork(settings.database_url) as uow:
        return uow.factories.applications(organisation_id=who.organisation_id)


def applications(settings: Settings, who: Principal,
                 status: ApplicationStatus | None = ApplicationStatus.PENDING) -> list[FactoryApplication]:
    """The operator's queue: applications (pending by default; None: all), oldest first."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return uow.factories.applications(status)


def application_events(settings: Settings, who: Principal, app_id: str) -> list[FactoryEvent]:
    """The audit trail of one application (operator)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return uow.factories.events(application_id=app_id)


def _pending(uow: UnitOfWork, app_id: str) -> FactoryApplication:
    app = uow.factories.application(app_id)
    if app is None:
        raise NotFoundError(f"application {app_id!r} does not exist",
                            hint="GET /api/v1/operator/factories/applications lists them", code="factory.application")
    if app.status != ApplicationStatus.PENDING:
        raise InputError(f"application {app_id} was {app.status.value} already", code="factory.decided", status=409)
    return app


def _new_site(uow: UnitOfWork, app: FactoryApplication, site_id: str, today: date) -> Site:
    prov = provinces(uow)[app.province]
    net = network.current(uow).network
    labour = [s.labour_cny_per_h for s in net.sites.values() if s.city == app.city] or \
             [s.labour_cny_per_h for s in net.sites.values() if s.province == app.province] or \
             [s.labour_cny_per_h for s in net.sites.values()]
    hol = _provinces_doc(uow).get("holidays", {})
    calendar = Calendar(shifts=(DEFAULT_SHIFT,), workdays=DEFAULT_WORKDAYS,
                        holidays=tuple(date.fromisoformat(str(d)) for d in hol.get("days", [])),
                        extra_workdays=tuple(date.fromisoformat(str(d)) for d in hol.get("extra_workdays", [])))
    return Site(id=site_id, name=app.legal_name, city=app.city, province=app.province, lat=app.lat, lon=app.lon,
                machines=(), materials=(), labour_cny_per_h=float(statistics.median(labour)),
                electricity_cny_per_kwh=prov.electricity_cny_per_kwh, grid_co2_kg_per_kwh=prov.grid_co2_kg_per_kwh,
                certifications=tuple(dict.fromkeys(c.name for c in app.certificates if c.valid_on(today))),
                calendar=calendar, max_order_cny=factory_rules(uow).max_order_cny,
                certificate_expiry={c.name: c.expires_on for c in app.certificates},
                quality=QualityRecord(on_time_rate=0.0, first_pass_yield=0.0, rating=0.0, orders_completed=0))


def approve(settings: Settings, who: Principal, app_id: str, reason: str = "",
            now: datetime | None = None) -> FactoryApplication:
    """Approve an application: its site joins the network (no machines yet; labour rate the median of its city's
    sites, tariff and grid factor of its province), on probation (no single order above the rules' max_order_cny);
    the organisation's users act for it."""
    _operator(who)
    now = now or datetime.now(UTC)
    with UnitOfWork(settings.database_url) as uow:
        app = _pending(uow, app_id)
        site_id = "fac-" + app.id.removeprefix("fap_")[:10]
        site = network.put_site(uow, _new_site(uow, app, site_id, local_today(now)))
        uow.factories.put_storefront(Storefront(site_id=site.id, organisation_id=app.organisation_id,
                                                status=FactoryStatus.PROBATION, certificates=app.certificates))
        uow.factories.link_site(app.organisation_id, site.id)
        decided = uow.factories.decide(app.id, ApplicationStatus.APPROVED, reason.strip(), who.user_id, site.id)
        uow.factories.log("approved", actor_user_id=who.user_id, application_id=app.id, site_id=site.id,
                          reason=reason.strip())
        uow.commit()
        return decided


def reject(settings: Settings, who: Principal, app_id: str, reason: str) -> FactoryApplication:
    """Reject an application with a reason the applicant reads."""
    _operator(who)
    if not reason.strip():
        raise InputError("a rejection needs a reason", hint="say what the applicant should fix",
                         code="factory.reason", status=422)
    with UnitOfWork(settings.database_url) as uow:
        app = _pending(uow, app_id)
        decided = uow.factories.decide(app.id, ApplicationStatus.REJECTED, reason.strip(), who.user_id)
        uow.factories.log("rejected", actor_user_id=who.user_id, application_id=app.id, reason=reason.strip())
        uow.commit()
        return decided


def _end_probation(uow: UnitOfWork, site_id: str, actor_user_id: int | None, reason: str) -> Storefront:
    s = network.site(uow, site_id)
    if s.max_order_cny is not None:
        network.put_site(uow, s.model_copy(update={"max_order_cny": None}))  # the probation cap ends
    front = uow.factories.storefront(site_id) or Storefront(site_id=site_id)
    stored = uow.factories.put_storefront(front.model_copy(update={"status": FactoryStatus.VERIFIED}))
    uow.factories.log("verified", actor_user_id=actor_user_id, site_id=site_id, reason=reason.strip())
    return stored


def verify(settings: Settings, who: Principal, site_id: str, reason: str = "") -> Storefront:
    """End a factory's probation (operator): it becomes verified, shows in the showroom and loses its caps."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        stored = _end_probation(uow, site_id, who.user_id, reason)
        uow.commit()
        return stored


def review_probation(uow: UnitOfWork, site_id: str, now: datetime) -> Storefront | None:
    """End the probation of `site_id` by itself, in the caller's unit of work, once its scorecard shows
    `lines_to_verify` lines delivered on time and no upheld claim (factory_rules.yaml); the verified storefront,
    else None (not on probation, or not earned yet). Called when a line of the site is delivered."""
    front = uow.factories.storefront(site_id)
    if front is None or front.status is not FactoryStatus.PROBATION:
        return None
    card = _scorecard(uow, site_id, now)
    need = factory_rules(uow).lines_to_verify
    if card.on_time < need or card.claims_upheld:
        return None
    return _end_probation(uow, site_id, None, f"probation ended by itself: {card.on_time} lines delivered on time "
                          f"(of {need} needed) in {card.days} days, no upheld claim")


def probation_full(uow: UnitOfWork, site_ids: Collection[str]) -> dict[str, str]:
    """Sites among `site_ids` on probation whose open lines reached `max_open_lines` (factory_rules.yaml): site id
    -> why they take no more work now."""
    cap = factory_rules(uow).max_open_lines
    fronts = uow.factories.storefronts()
    out = {}
    for sid in site_ids:
        f = fronts.get(sid)
        if f is None or f.status is not FactoryStatus.PROBATION:
            continue
        n = len(uow.orders.lines(site_id=sid, statuses=OPEN_AT_SITE))
        if n >= cap:
            out[sid] = f"{sid} is on probation and has {n} open lines, its cap is {cap}"
    return out


# ---------------------------------------------------------------------------- profiles and the showroom


@dataclass(frozen=True)
class Scorecard:
    """A factory's figures over the last `days` days, from its order lines and their events. None where there
    is nothing to measure yet."""

    days: int
    orders: int
    lines: int
    delivered: int
    on_time_rate: float | None
    quality_issue_rate: float | None
    #: accepted over all answers to allocated lines (declines and timeouts count against it); median hours from
    #: allocation to an answer given (`services.acceptance.response_figures`).
    acceptance_rate: float | None = None
    median_response_h: float | None = None
    #: claims decided in the window, those upheld (remake or partial refund), upheld per delivered line
    #: (`services.claims.claim_figures`).
    claims: int = 0
    claims_upheld: int = 0
    claim_rate: float | None = None
    #: what the upheld claims cost the factory (CNY): the remade parts at the line's unit price, the refunds
    claims_cost_cny: float = 0.0
    #: the counts behind the rates: lines delivered on time, lines inspected, answers to allocated lines.
    on_time: int = 0
    inspected: int = 0
    answers: int = 0


@dataclass(frozen=True)
class SiteProfile:
    """A site as the showroom and the site list show it."""

    site: Site
    storefront: Storefront
    processes: tuple[ProcessFamily, ...]
    scorecard: Scorecard | None = None

    @property
    def verified(self) -> bool:
        """True for a seed factory and for a factory past probation."""
        return self.storefront.verified


def _scorecard(uow: UnitOfWork, site_id: str, now: datetime) -> Scorecard:
    since = now - timedelta(days=SCORECARD_DAYS)
    orders = [o for o in uow.orders.find(site_id=site_id, limit=10_000) if o.created_at >= since]
    lines = [ln for o in orders for ln in o.lines if ln.site_id == site_id]
    delivered = on_time = inspected = failed = 0
    for ln in lines:
        if ln.inspection is not None:
            inspected += 1
            failed += 0 if ln.inspection.passed else 1
        if ln.status is OrderStatus.DELIVERED:
            delivered += 1
            at = uow.orders.delivered_at(ln.id)
            on_time += 1 if at is not None and local_today(at) <= ln.delivery_date else 0
    from fabgrid.services.acceptance import response_figures

    answers = uow.acceptance.responses(site_id=site_id, since=since)
    accepted, median_h = response_figures(answers)
    from fabgrid.services.claims import claim_figures

    claims, upheld, claim_rate, claims_cost = claim_figures(uow, site_id, since, delivered)
    return Scorecard(days=SCORECARD_DAYS, orders=len(orders), lines=len(lines), delivered=delivered,
                     on_time_rate=on_time / delivered if delivered else None,
                     quality_issue_rate=failed / inspected if inspected else None,
                     acceptance_rate=accepted, median_response_h=median_h, claims=claims, claims_upheld=upheld,
                     claim_rate=claim_rate, claims_cost_cny=claims_cost, on_time=on_time, inspected=inspected,
                     answers=len(answers))


@dataclass(frozen=True)
class RecordPenalty:
    """What a site's record adds to the allocation's objective: `share` of an offer's unit price (at most
    `max_share`), made of its shrunk late, defect and decline rates (data/factory_rules.yaml)."""

    share: float
    late: float
    defects: float
    declines: float


def _shrunk(rate: float | None, n: int, prior: float) -> float:
    return 0.0 if rate is None or n <= 0 else max(0.0, min(1.0, rate)) * n / (n + prior)


def record_penalty(card: Scorecard, rules: FactoryRules | None = None) -> RecordPenalty:
    """The scorecard as a share of the unit price the allocation adds per unit (pure): each rate shrunk towards 0
    by its count (rate * n / (n + prior_count)), weighted, summed and capped at `max_share`."""
    r = rules or factory_rules()
    late = _shrunk(None if card.on_time_rate is None else 1.0 - card.on_time_rate, card.delivered, r.prior_count)
    failed = _shrunk(card.quality_issue_rate, card.inspected, r.prior_count)
    claimed = _shrunk(card.claim_rate, card.delivered or card.claims_upheld, r.prior_count)
    defects = min(1.0, failed + claimed)
    declines = _shrunk(None if card.acceptance_rate is None else 1.0 - card.acceptance_rate, card.answers,
                       r.prior_count)
    share = min(r.max_share, r.late_weight * late + r.defect_weight * defects + r.decline_weight * declines)
    return RecordPenalty(share=round(share, 6), late=late, defects=defects, declines=declines)


def allocation_penalties(uow: UnitOfWork, site_ids: Collection[str], now: datetime) -> Mapping[str, float]:
    """Site id -> the share of the unit price its record adds in the allocation (`record_penalty`), for the sites
    among `site_ids` with a non-zero penalty; services.orders hands these to the engine as the candidates'
    `risk_cny_per_unit`."""
    out = {}
    rules = factory_rules(uow)
    for sid in sorted(set(site_ids)):
        share = record_penalty(_scorecard(uow, sid, now), rules).share
        if share > 0:
            out[sid] = share
    return out


def _profile(uow: UnitOfWork, site: Site, front: Storefront | None, now: datetime,
             with_scorecard: bool = True, models: dict[str, MachineModel] | None = None) -> SiteProfile:
    """`models`: the network's machine models, when the caller has them already (a list of sites)."""
    models = models if models is not None else network.current(uow).network.catalog.machine_models
    procs = tuple(dict.fromkeys(models[m.model].process for m in site.machines if m.model in models))
    return SiteProfile(site=site, storefront=front or Storefront(site_id=site.id), processes=procs,
                       scorecard=_scorecard(uow, site.id, now) if with_scorecard else None)


def _cert_key(name: str) -> str:
    return "".join(name.split()).casefold()


def certified(profile: SiteProfile, certificate: str, today: date) -> bool:
    """Whether the site holds `certificate` (spaces and case ignored), not expired where its expiry is known."""
    key = _cert_key(certificate)
    if not any(_cert_key(c) == key for c in profile.site.certifications):
        return False
    dated = [c for c in profile.storefront.certificates if _cert_key(c.name) == key]
    return not dated or any(c.valid_on(today) for c in dated)


def profile(settings: Settings, site_id: str, now: datetime | None = None) -> SiteProfile:
    """One site with its storefront, processes, standing and scorecard; 404 naming where the list is."""
    now = now or datetime.now(UTC)
    with UnitOfWork(settings.database_url) as uow:
        s = network.site(uow, site_id)
        return _profile(uow, s, uow.factories.storefront(site_id), now)


def search(settings: Settings, *, process: ProcessFamily | None = None, material: str | None = None,
           certificate: str | None = None, city: str | None = None, province: str | None = None,
           ships_to: str | None = None, verified_only: bool = False,
           now: datetime | None = None) -> list[SiteProfile]:
    """Sites (ordered by id) that run `process`, stock `material`, hold an unexpired `certificate`, lie in `city`
    / `province`, ship to the province `ships_to` (those that ship everywhere too); with `verified_only`, only
    verified factories (the showroom)."""
    now = now or datetime.now(UTC)
    today = local_today(now)
    with UnitOfWork(settings.database_url) as uow:
        net = network.current(uow).network
        if material is not None and material not in net.catalog.materials:
            mat = net.catalog.material(material)  # accepts "pla" or "PLA"; 404 naming the choices
            material = mat.id
        fronts = uow.factories.storefronts()
        out = []
        for s in sorted(net.sites.values(), key=lambda x: x.id):
            if city and s.city.casefold() != city.strip().casefold():
                continue
            if province and s.province.casefold() != province.strip().casefold():
                continue
            if material and material not in s.materials:
                continue
            if ships_to and not s.ships_to_province(ships_to.strip()):
                continue
            p = _profile(uow, s, fronts.get(s.id), now, with_scorecard=False, models=net.catalog.machine_models)
            if process is not None and process not in p.processes:
                continue
            if certificate and not certified(p, certificate, today):
                continue
            if verified_only and not p.verified:
                continue
            out.append(p)
        return out


@dataclass(frozen=True)
class Place:
    """A city a factory may name, with its province."""

    city: str
    province: str
    province_zh: str


def places(settings: Settings) -> list[Place]:
    """The cities of the provinces the network serves (from the stored geo data), by province and name."""
    with UnitOfWork(settings.database_url) as uow:
        provs = provinces(uow)
        cities = network.current(uow).logistics.cities.values()
        out = [Place(c.name, c.province, provs[c.province].name_zh) for c in cities if c.province in provs]
        uow.commit()  # keeps the provinces stored beside the network
    return sorted(out, key=lambda p: (p.province, p.city))


def probation(settings: Settings, who: Principal) -> list[SiteProfile]:
    """Factories on probation (operator), ordered by id."""
    _operator(who)
    now = datetime.now(UTC)
    with UnitOfWork(settings.database_url) as uow:
        fronts = uow.factories.storefronts()
        return [_profile(uow, network.site(uow, sid), f, now, with_scorecard=False)
                for sid, f in sorted(fronts.items()) if f.status is FactoryStatus.PROBATION]
