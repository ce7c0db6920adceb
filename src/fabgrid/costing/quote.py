"""Offers over the whole network: every capable site's best machine, priced, with lead time and CO2.

For each site: the reason it cannot make the part (no machine of the process, material not stocked,
part too big, missing certification, blocking DFM error, finish not offered), or its offer on the
machine model with the lowest price. Pure: same inputs, same offers. Depends on domain, costing and
network.geo (shipping); never on store, services, api or cli.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from fabgrid.costing import leadtime
from fabgrid.costing.base import estimate
from fabgrid.costing.energy import carbon
from fabgrid.costing.part import Part
from fabgrid.costing.postprocess import PostProcess, finish_offered, post_process
from fabgrid.costing.price import Price, price_estimate
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, NestingMethod, Network, ProcessFamily, Site
from fabgrid.domain.quote import Estimate, Offer, QuoteRequest, Rejection, TierOffer
from fabgrid.errors import InputError, NotFoundError
from fabgrid.network import geo
from fabgrid.network.geo import Logistics


def _estimate(part: Part, model: MachineModel, material: Material, qty: int, rates: Rates) -> Estimate:
    """The estimate of `part` on `model`, kept on the part so that repeated quotes reuse it."""
    est = part.memo(("costing.estimate", model.id, material.id, qty, id(rates)),
                    lambda: estimate(part, model, material, qty, rates))
    assert isinstance(est, Estimate)
    return est


def validate_request(network: Network, req: QuoteRequest) -> Material:
    """The requested material; InputError for an unknown material, process mismatch or bad quantity."""
    mat = network.catalog.materials.get(req.material)
    if mat is None:
        known = ", ".join(sorted(network.catalog.materials))
        raise NotFoundError(f"unknown material {req.material!r}", hint=f"use one of: {known}",
                            code="quote.material")
    fam = req.family
    if fam is not None and mat.process is not fam:
        raise InputError(f"material {mat.id!r} is a {mat.process.value} material, not {fam.value}",
                         hint=f"choose any process, or pick a {fam.value} material", code="quote.process")
    if req.quantity < 1 or req.quantity > 100_000:
        raise InputError(f"quantity must be 1..100000, got {req.quantity}", code="quote.quantity")
    if req.finish is not None:
        finish_offered(network.catalog, req.finish, mat.process)
    return mat


_SitesFor = list[tuple[Site, bool, int, list[MachineModel]]]
_SITES_FOR: dict[tuple[int, str], tuple[Network, dict[str, MachineModel], _SitesFor]] = {}


def _sites_for(network: Network, mat: Material) -> _SitesFor:
    """Per site (by id): whether it has a machine of the material's process, how many of its machines run the
    material (the site's planner puts a build on any of them) and their models (by id). Kept per network and
    material while the network holds the same (frozen) site and model records."""
    key = (id(network), mat.id)
    hit = _SITES_FOR.get(key)
    sites, models_of = network.sites, network.catalog.machine_models
    if (hit is not None and hit[0] is network and len(hit[2]) == len(sites) and len(hit[1]) == len(models_of)
            and all(sites.get(s[0].id) is s[0] for s in hit[2])
            and all(models_of.get(k) is v for k, v in hit[1].items())):
        return hit[2]
    out: _SitesFor = []
    for site_id in sorted(sites):
        site = sites[site_id]
        counts: dict[str, int] = {}
        has_process = False
        for m in site.machines:
            model = network.machine_model(m)
            if model.process is mat.process:
                has_process = True
                if mat.id in model.materials:
                    counts[model.id] = counts.get(model.id, 0) + 1
        out.append((site, has_process, sum(counts.values()), [models_of[k] for k in sorted(counts)]))
    if len(_SITES_FOR) > 4096:
        _SITES_FOR.clear()
    _SITES_FOR[key] = (network, dict(models_of), out)
    return out


def _runs(model: MachineModel, mat: Material) -> bool:
    """True when a machine of `model` runs `mat` (the machines `_sites_for` counts)."""
    return model.process is mat.process and mat.id in model.materials


def _site_rejection(site: Site, part: Part, network: Network, mat: Material, req: QuoteRequest,
                    models: Sequence[MachineModel], dfm_errors: Mapping[str, Sequence[str]],
                    today: date, has_process: bool | None = None) -> Rejection | None:
    proc = mat.process
    cat = network.catalog
    if has_process is None:
        has_process = any(network.machine_model(m).process is proc for m in site.machines)
    if not has_process:
        return Rejection(site=site.id, process=proc, code="no_process",
                         reason=f"no {proc.value} machine at {site.name}")
    if mat.id not in site.materials:
        return Rejection(site=site.id, process=proc, code="material_not_stocked",
                         reason=f"{mat.name} ({mat.id}) is not stocked at {site.name}")
    if not models:
        return Rejection(site=site.id, process=proc, code="material_not_supported",
                         reason=f"no {proc.value} machine at {site.name} runs {mat.id}")
    missing = [c for c in req.certifications if c not in site.certifications]
    if missing:
        return Rejection(site=site.id, process=proc, code="certification",
                         reason=f"{site.name} lacks certification {', '.join(missing)}")
    expired = [c for c in req.certifications
               if (until := site.certificate_expiry.get(c)) is not None and until < today]
    if expired:
        return Rejection(site=site.id, process=proc, code="certification_expired",
                         reason=f"{site.name}'s certificate {', '.join(expired)} expired")
    dfm = [*dfm_errors.get(proc.value, ()), *dfm_errors.get("*", ())]
    if dfm:
        return Rejection(site=site.id, process=proc, code="dfm",
                         reason=f"DFM error for {proc.value}: {dfm[0]}")
    if req.finish is not None and not finish_offered(cat, req.finish, proc):
        return Rejection(site=site.id, process=proc, code="finish_unavailable",
                         reason=f"finish {req.finish} is not offered for {proc.value}")
    if not any(part.fits(m.build_volume_mm) for m in models):
        x, y, z = part.bbox_mm
        return Rejection(site=site.id, process=proc, code="too_big",
                         reason=f"part {x:.0f} x {y:.0f} x {z:.0f} mm is too big for every {proc.value} "
                                f"machine at {site.name}")
    return None


def _shipping(site: Site, destination: str | None, line_kg: float, logistics: Logistics | None,
              ) -> tuple[float, int, float, float | None]:
    """(line shipping CNY as one consignment, transit days, CO2 kg of the line, road km) to the destination."""
    if destination is None:
        return 0.0, 0, 0.0, None
    lg = logistics or geo.load_logistics()
    city = lg.city(destination)
    road = geo.road_km_between(site.lat, site.lon, city.lat, city.lon, lg)
    days = int(geo.shipping_days(road, lg))
    co2 = float(geo.shipping_co2_kg_per_unit(road, line_kg, lg))
    return geo.consignment_cny(road, line_kg, lg), days, co2, road


def _vat(price: float, vat_pct: float | None) -> float | None:
    return None if vat_pct is None else round(price * (1.0 + vat_pct / 100.0), 2)


def _tier_dates(site: Site, catalog_job: leadtime.Job, rates: Rates, now: datetime, queued_min: float,
                priority_min: float, extra_days: int, station_min: Mapping[str, float],
                due: Sequence[tuple[datetime, float]] = (), down: leadtime.Down = ()) -> dict[str, tuple[date, int]]:
    """Per tier: (ship date, minute of completion) from the site's calendar, its queue and the job's route. A tier
    waits for its share of the queue, and never for less than the work queued in a priority tier (express work
    is not overtaken by later express work). A tier ahead of the queue (queue_factor < 1) also waits for the
    queued lines promised to ship before it would (`due`: their dispatch deadline and machine minutes per
    machine): it overtakes only work whose promise leaves room for it. `down`: the maintenance windows of the
    job's machines (`leadtime.down_windows`)."""
    clk = leadtime.clock(site.calendar, now.replace(second=0, microsecond=0))
    # pure in its inputs: kept on the clock (sites sharing a calendar, a job and a queue share the dates)
    key = ("tier_dates", id(rates), catalog_job, queued_min, priority_min, extra_days,
           tuple(sorted(station_min.items())), tuple(due), down)
    hit = clk.memo.get(key)
    if hit is not None and hit[0] is rates:  # type: ignore[index]
        return dict(hit[1])  # type: ignore[index]
    out = _tier_dates_of(clk, catalog_job, rates, queued_min, priority_min, extra_days, station_min, due, down)
    clk.memo[key] = (rates, dict(out))
    return out


def _tier_dates_of(clk: leadtime.Clock, catalog_job: leadtime.Job, rates: Rates, queued_min: float,
                   priority_min: float, extra_days: int, station_min: Mapping[str, float],
                   due: Sequence[tuple[datetime, float]], down: leadtime.Down = ()) -> dict[str, tuple[date, int]]:
    site_calendar = clk.calendar
    cutoff = float(rates.shipping["dispatch_cutoff_h"])
    margin = round(float(rates.shipping.get("dispatch_margin_h", 0.0)) * 60)
    out: dict[str, tuple[date, int]] = {}
    for name, tier in rates.tiers.items():
        ahead = max(queued_min * tier.queue_factor, priority_min)
        for _ in range(len(due) + 1):
            share = min(ahead / queued_min, 1.0) if queued_min > 0 else 0.0
            done = leadtime.completion(clk, catalog_job, ahead, overtime=tier.overtime,
                                       station_min={k: v * share for k, v in station_min.items()}, down=down)
            done = clk.attended(done, margin) if margin > 0 else done
            ship = leadtime.ship_after(site_calendar, clk.at(done), cutoff, extra_days + tier.extra_days)
            if tier.queue_factor >= 1.0 or not due:
                break
            deadline = leadtime.ship_deadline(ship, cutoff)
            must = min(priority_min + sum(m for d, m in due if d <= deadline), queued_min)
            if must <= ahead + 1e-6:
                break
            ahead = must
        out[name] = (ship, done)
    return out


def _offer(site: Site, model: MachineModel, job: leadtime.Job, est: Estimate, pr: Price, post: PostProcess,
           mat: Material, req: QuoteRequest, rates: Rates, now: datetime, queued_h: float,
           logistics: Logistics | None = None, priority_h: float = 0.0,
           station_h: Mapping[str, float] | None = None, due: Sequence[tuple[datetime, float]] = (),
           down: leadtime.Down = ()) -> Offer:
    ship_cfg = rates.shipping
    unit_kg = (est.part_g / 1000.0) * float(ship_cfg["packaging_factor"]) + float(ship_cfg["packaging_kg_per_part"])
    line_ship, transit, line_co2, road = _shipping(site, req.destination, unit_kg * req.quantity, logistics)
    ship_cny = line_ship / req.quantity
    co2 = carbon(est, mat, site, line_co2 / req.quantity)
    today = leadtime.local_today(now)
    dates = _tier_dates(site, job, rates, now, queued_h * 60.0, priority_h * 60.0, post.lead_days,
                        {k: v * 60.0 for k, v in (station_h or {}).items()}, [(d, h * 60.0) for d, h in due], down)
    tiers: list[TierOffer] = []
    for name, tier in sorted(rates.tiers.items(), key=lambda kv: kv[1].price_factor):
        ship = dates[name][0]
        unit = round(pr.tier_unit_cny(tier.price_factor) + ship_cny, 2)
        # the line is the unit price shown (to the cent) times the quantity, exactly: 20 x 35.15 = 703.00
        total = float(Decimal(str(unit)) * req.quantity)
        # a dearer tier that does not ship earlier than every cheaper one buys nothing: not offered
        if tiers and ship >= min(t.ship_date for t in tiers) and name != "standard":
            continue
        tiers.append(TierOffer(tier=name, unit_price_cny=unit, total_price_cny=total,
                               lead_time_days=(ship - today).days, ship_date=ship,
                               delivery_date=leadtime.delivery_date(ship, transit),
                               unit_price_incl_vat_cny=_vat(unit, rates.vat_pct),
                               total_price_incl_vat_cny=_vat(total, rates.vat_pct)))
    std = next((t for t in tiers if t.tier == "standard"), tiers[0])
    breakdown = {k: round(v, 4) for k, v in pr.as_dict().items()}
    rate_h = pr.machine_cny * 3600 / max(est.time_s, 1e-9)
    breakdown.update(shipping_cny=round(ship_cny, 4), machine_rate_cny_h=round(rate_h, 4),
                     time_s=round(est.time_s, 1), setup_s=round(est.setup_s, 1),
                     run_s=round(est.time_s - est.setup_s, 1), material_g=round(est.material_g, 3),
                     machine_co2_kg=round(co2.machine_co2_kg, 5), material_co2_kg=round(co2.material_co2_kg, 5),
                     shipping_co2_kg=round(co2.shipping_co2_kg, 5), queued_h=round(queued_h, 2),
                     builds=float(job.builds), build_h=job.build_h, machines=float(job.machines),
                     occupancy_h=round(job.builds * job.build_min / 60.0, 3))
    breakdown.update({f"station_h.{k}": round(v, 3) for k, v in job.station_hours().items()})
    return Offer(
        site=site.id, city=site.city, process=est.process, machine=model.id, material=mat.id, quantity=req.quantity,
        unit_price_cny=std.unit_price_cny, total_price_cny=std.total_price_cny, lead_time_days=std.lead_time_days,
        ship_date=std.ship_date, delivery_date=std.delivery_date,
        meets_need_by=None if req.need_by is None else std.delivery_date <= req.need_by,
        energy_kwh=round(est.energy_kwh, 5), co2_kg=round(co2.total_co2_kg, 5), tiers=tiers,
        breakdown=breakdown, estimate=est, rate_version=site.rate_version, site_name=site.name,
        distance_km=None if road is None else round(road, 1), time_s=round(est.time_s, 1),
        setup_s=round(est.setup_s, 1), run_s=round(est.time_s - est.setup_s, 1), shipping_cny=round(line_ship, 2),
        unit_price_incl_vat_cny=std.unit_price_incl_vat_cny, total_price_incl_vat_cny=std.total_price_incl_vat_cny,
    )


def _unit_shipping(site: Site, est: Estimate, req: QuoteRequest, rates: Rates, logistics: Logistics | None) -> float:
    """Shipping per part of the line (as `_offer` prices it), for ranking sites before they are dated."""
    cfg = rates.shipping
    unit_kg = (est.part_g / 1000.0) * float(cfg["packaging_factor"]) + float(cfg["packaging_kg_per_part"])
    return _shipping(site, req.destination, unit_kg * req.quantity, logistics)[0] / req.quantity


def _std_tier(rates: Rates) -> str:
    """The tier an offer's own price and dates are (`_offer`'s std): standard, else the cheapest."""
    if "standard" in rates.tiers:
        return "standard"
    return sorted(rates.tiers.items(), key=lambda kv: kv[1].price_factor)[0][0]


def _std_rank(site: Site, model: MachineModel, job: leadtime.Job, est: Estimate, pr: Price, post: PostProcess,
              mat: Material, req: QuoteRequest, rates: Rates, now: datetime, queued_h: float,
              logistics: Logistics | None = None, priority_h: float = 0.0,
              station_h: Mapping[str, float] | None = None, due: Sequence[tuple[datetime, float]] = (),
              down: leadtime.Down = ()) -> tuple[tuple[float, date, float, str], float]:
    """(`offer_rank` of the offer `_offer` makes from the same arguments, its line total): the standard tier's unit
    price, delivery and the road distance, without making the offer."""
    cfg = rates.shipping
    unit_kg = (est.part_g / 1000.0) * float(cfg["packaging_factor"]) + float(cfg["packaging_kg_per_part"])
    line_ship, transit, _co2, road = _shipping(site, req.destination, unit_kg * req.quantity, logistics)
    dates = _tier_dates(site, job, rates, now, queued_h * 60.0, priority_h * 60.0, post.lead_days,
                        {k: v * 60.0 for k, v in (station_h or {}).items()}, [(d, h * 60.0) for d, h in due], down)
    name = _std_tier(rates)
    unit = round(pr.tier_unit_cny(rates.tiers[name].price_factor) + line_ship / req.quantity, 2)
    total = float(Decimal(str(unit)) * req.quantity)
    delivery = leadtime.delivery_date(dates[name][0], transit)
    return (unit, delivery, round(road, 1) if road is not None else 0.0, site.id), total


def offer_rank(o: Offer) -> tuple[float, date, float, str]:
    """How offers are ordered: unit price, then delivery date, then road distance to the destination, then site."""
    return (o.unit_price_cny, o.delivery_date, o.distance_km if o.distance_km is not None else 0.0, o.site)


def quote_network(part: Part, network: Network, req: QuoteRequest, rates: Rates, now: datetime,
                  queued_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  dfm_errors: Mapping[str, Sequence[str]] | None = None,
                  logistics: Logistics | None = None, routing: leadtime.Routing | None = None,
                  priority_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  station_h: Mapping[tuple[str, str], float] | None = None,
                  cheapest_only: bool = False,
                  queued_due: Mapping[tuple[str, ProcessFamily], Sequence[tuple[datetime, float]]] | None = None,
                  occupancy_h: Mapping[tuple[str, ProcessFamily], float] | None = None,
                  closed: Mapping[str, str] | None = None,
                  ) -> tuple[list[Offer], list[Rejection]]:
    """Offers of every capable site (cheapest machine model each) and the rejections of the others.

    `queued_h` gives the hours of work already queued per (site id, process); `dfm_errors` the blocking
    DFM messages per process id ("*": every process) of the part's analysis; `logistics` the freight figures
    (the shipped ones when None); `routing` the follow-up steps, cool-down and inspection of a build as the
    sites plan them (none when None); `priority_h` the part of `queued_h` ordered in a priority tier (express);
    `station_h` the hours of work queued at each site's stations per (site id, step). Dates come from each
    site's calendar and queue (`leadtime.completion`). Offers are
    sorted by `offer_rank` (unit price, delivery date, distance); rejections by site id. With `cheapest_only`
    only the first offer by `offer_rank` is made (the price-break table's need): only the sites whose price can
    win are dated, and by their standard tier alone. `queued_due`: per
    (site id, process) the queued lines outside a priority tier as (dispatch deadline, machine hours), which
    express does not overtake when their promise would break. `occupancy_h`: the hours the queued lines hold the
    machines (their builds with on-machine cool-down), which the dates wait for instead of `queued_h`.
    `closed`: sites that take no new work now (a factory on probation at its cap of open lines) with the reason.
    A site that does not ship to the destination's province (`Site.ships_to`) makes no offer.
    """
    mat = validate_request(network, req)
    area_mm2 = part.area_mm2  # read once: the dates of every offer take it
    post = post_process(network.catalog, mat.process, area_mm2, req.finish)
    unattended = network.catalog.processes[mat.process].capability.unattended
    route = routing or leadtime.Routing()
    one_at_a_time = network.catalog.processes[mat.process].capability.nesting is NestingMethod.NONE
    offers: list[Offer] = []
    rejected: list[Rejection] = []
    std_factor = (rates.tiers.get("standard") or min(rates.tiers.values(), key=lambda t: t.price_factor)).price_factor
    pending: list[tuple[float, Site, list[tuple[float, str, MachineModel, Estimate, Price]], float, int]] = []
    today = leadtime.local_today(now)
    province = (logistics or geo.load_logistics()).city(req.destination).province if req.destination else None
    for site, has_process, eligible, models in _sites_for(network, mat):
        why = _site_rejection(site, part, network, mat, req, models, dfm_errors or {}, today, has_process)
        queued = (queued_h or {}).get((site.id, mat.process), 0.0)
        if why is None and not site.ships_to_province(province):
            why = Rejection(site=site.id, process=mat.process, code="ships_to",
                            reason=f"{site.name} does not ship to {province} (it ships to {', '.join(site.ships_to)})")
        elif why is None and site.id in (closed or {}):
            why = Rejection(site=site.id, process=mat.process, code="probation_cap", reason=(closed or {})[site.id])
        elif why is None and site.at_capacity:
            why = Rejection(site=site.id, process=mat.process, code="at_capacity",
                            reason=f"{site.name} is at capacity and takes no new work")
        elif why is None and site.max_queue_h is not None and queued >= site.max_queue_h:
            why = Rejection(site=site.id, process=mat.process, code="queue_full",
                            reason=f"{site.name} has {queued:.0f} h queued, its maximum is {site.max_queue_h:.0f} h")
        if why is not None:
            rejected.append(why)
            continue
        # price every machine model first (cheap), date only the cheapest of the site (dates cost a simulation)
        priced = []
        for model in models:
            if not part.fits(model.build_volume_mm):
                continue
            est = _estimate(part, model, mat, req.quantity, rates)
            pr = price_estimate(est, model, mat, site, post, rates)
            priced.append((round(pr.tier_unit_cny(std_factor), 2), model.id, model, est, pr))
        if not priced:
            continue
        low = min(p[0] for p in priced)
        pending.append((low, site, [p for p in priced if p[0] == low], queued, eligible))
    pending.sort(key=lambda c: (c[0] + _unit_shipping(c[1], c[2][0][3], req, rates, logistics), c[1].id))
    station_of: dict[str, dict[str, float]] = {}
    for (sid, step), h in (station_h or {}).items():
        station_of.setdefault(sid, {})[step] = h
    # with cheapest_only, sites are ranked by their standard tier alone (`_std_rank`, what `offer_rank` reads) and
    # only the winner's offer is made
    ranked: list[tuple[tuple[float, date, float, str], tuple[object, ...]]] = []
    for _low, site, tied, queued, eligible in pending:
        if cheapest_only and ranked and ranked[0][0][0] < round(
                _low + _unit_shipping(site, tied[0][3], req, rates, logistics), 2):
            break
        held = (occupancy_h or {}).get((site.id, mat.process), queued) if occupancy_h is not None else queued
        q = max(held, queued) / max(eligible, 1)
        qp = min((priority_h or {}).get((site.id, mat.process), 0.0), max(held, queued)) / max(eligible, 1)
        stations = station_of.get(site.id, {})
        due = [(d, h / max(eligible, 1)) for d, h in (queued_due or {}).get((site.id, mat.process), ())]
        # machines in maintenance have no capacity then: their windows as minutes of the site's clock
        down = leadtime.down_windows(site, now.replace(second=0, microsecond=0),
                                     [m.id for m in site.machines if _runs(network.machine_model(m), mat)]
                                     ) if site.maintenance else ()
        best: Offer | None = None
        light: tuple[tuple[float, date, float, str], float, tuple[object, ...]] | None = None
        for _p, _mid, model, est, pr in tied:
            job = leadtime.site_job(site, network.catalog, mat.process, eligible, est.job_time_s, est.builds,
                                    req.quantity, post.steps, area_mm2, route, attended=not unattended,
                                    batch_setup_s=est.setup_s * req.quantity if one_at_a_time else None)
            args = (site, model, job, est, pr, post, mat, req, rates, now, q, logistics, qp, stations, due, down)
            if cheapest_only:
                rank, total = _std_rank(*args)
                if light is None or rank < light[0]:
                    light = (rank, total, args)
                continue
            offer = _offer(*args)  # type: ignore[arg-type]
            if best is None or offer_rank(offer) < offer_rank(best):
                best = offer
        total_cny = light[1] if light is not None else (best.total_price_cny if best is not None else None)
        if total_cny is not None and site.max_order_cny is not None and total_cny > site.max_order_cny:
            rejected.append(Rejection(site=site.id, process=mat.process, code="probation_cap",
                                      reason=f"{site.name} is on probation and takes orders up to "
                                             f"{site.max_order_cny:.0f} CNY"))
        elif light is not None:
            ranked.append((light[0], light[2]))
            ranked.sort(key=lambda r: r[0])
        elif best is not None:
            offers.append(best)
    if ranked:
        offers = [_offer(*ranked[0][1])]  # type: ignore[arg-type]
    rejected.sort(key=lambda r: r.site)
    offers.sort(key=offer_rank)
    return offers, rejected
