"""Site scheduling on a small network built here: shifts, maintenance, changeovers, due dates."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from fabgrid.data import load_catalog, load_station_kinds
from fabgrid.domain.catalog import (
    Calendar,
    Catalog,
    Finish,
    Machine,
    MachineModel,
    Material,
    Network,
    PowerDraw,
    Process,
    ProcessFamily,
    QualityRecord,
    Shift,
    Site,
    Station,
)
from fabgrid.domain.schedule import Maintenance, WorkBuild, WorkJob, Workload
from fabgrid.errors import InputError
from fabgrid.scheduling.check import check_schedule
from fabgrid.scheduling.plan import order_summary, plan
from fabgrid.scheduling.site import site_problem
from fabgrid.scheduling.workload import demo_workload, load_routes

SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS = load_station_kinds()
START = datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI).astimezone(UTC)  # a Monday, site time


def _network(shifts: tuple[Shift, ...] = (Shift(name="day", start=time(8), end=time(16)),)) -> Network:
    sls = Process(id=ProcessFamily.SLS, name="SLS", description="laser sintering", min_wall_mm=0.8,
                  min_hole_mm=1.5, min_gap_mm=0.5, min_feature_mm=0.8, tolerance_mm=0.3,
                  post_processing=("depowdering", "bead_blasting"), source="test",
                  capability=load_catalog().processes[ProcessFamily.SLS].capability)
    finishes = {f.id: f for f in (
        Finish(id="depowdering", name="Depowdering", processes=(ProcessFamily.SLS,), time_s_per_part=90),
        Finish(id="bead_blasting", name="Bead blasting", processes=(ProcessFamily.SLS,), time_s_per_part=60),
    )}
    mats = {m.id: m for m in (
        Material(id="pa12", name="PA12", process=ProcessFamily.SLS, density_g_cm3=1.01, price_cny_per_kg=300,
                 embodied_co2_kg_per_kg=7, source="test"),
        Material(id="pa11", name="PA11", process=ProcessFamily.SLS, density_g_cm3=1.03, price_cny_per_kg=400,
                 embodied_co2_kg_per_kg=5, source="test"),
    )}
    model = MachineModel(id="sls_test", vendor="T", model="T1", process=ProcessFamily.SLS,
                         build_volume_mm=(300, 300, 400), power=PowerDraw(producing_w=5000, idle_w=800,
                                                                          setup_w=1000, standby_w=100),
                         price_cny=1e6, lifetime_h=40000, maintenance_cny_per_year=5e4,
                         materials=("pa12", "pa11"), source="test")
    catalog = Catalog(processes={ProcessFamily.SLS: sls}, materials=mats, finishes=finishes,
                      machine_models={model.id: model})
    site = Site(id="test-site", name="Test", city="Changsha", province="Hunan", lat=28.2, lon=113.0,
                machines=(Machine(id="m1", model="sls_test"), Machine(id="m2", model="sls_test")),
                stations=(Station(id="dp", kind="depowdering"), Station(id="bb", kind="bead_blasting"),
                          Station(id="qc", kind="inspection")),
                materials=("pa12", "pa11"), labour_cny_per_h=50, electricity_cny_per_kwh=0.7,
                grid_co2_kg_per_kwh=0.5,
                calendar=Calendar(shifts=shifts, workdays=(0, 1, 2, 3, 4)),
                quality=QualityRecord(on_time_rate=0.9, first_pass_yield=0.95, rating=4.5, orders_completed=10))
    return Network(catalog=catalog, sites={site.id: site})


def _workload() -> Workload:
    def build(i: int, material: str, hours: float) -> WorkBuild:
        return WorkBuild(id=f"B{i}", process=ProcessFamily.SLS, material=material, print_h=hours, parts=10)

    jobs = [
        WorkJob(id="J1", due=START + timedelta(days=2), weight=3, builds=(build(1, "pa12", 10), build(2, "pa11", 8))),
        WorkJob(id="J2", due=START + timedelta(days=1), weight=1, builds=(build(3, "pa12", 6),)),
        WorkJob(id="J3", due=START + timedelta(days=3), weight=2, builds=(build(4, "pa11", 12),),
                release=START + timedelta(hours=20)),
        WorkJob(id="J4", due=START + timedelta(days=2), weight=1, builds=(build(5, "pa12", 9), build(6, "pa11", 5))),
    ]
    maint = (Maintenance(resource="m1", start=START + timedelta(hours=9), end=START + timedelta(hours=13)),)
    return Workload(site="test-site", start=START, jobs=tuple(jobs), maintenance=maint)


def test_site_schedule_respects_shifts_changeovers_and_maintenance() -> None:
    network = _network()
    site = network.sites["test-site"]
    sp = site_problem(network, site, _workload(), horizon_days=7, station_kinds=KINDS)
    result = plan(sp.problem, time_limit_s=4)
    s = result.schedule
    assert result.check.ok, result.check.violations
    assert s.weighted_tardiness <= result.baseline.weighted_tardiness
    rows = sp.rows(s.operations)
    # Independent of the model's windows: operator steps lie inside 08:00-16:00 Mon-Fri site time,
    # prints start inside it; printing itself may run through the night.
    for r in rows:
        a, b = r["start"].astimezone(SHANGHAI), r["end"].astimezone(SHANGHAI)  # type: ignore[attr-defined]
        if str(r["step"]).startswith("print"):
            assert a.weekday() < 5 and time(8) <= a.time() < time(16), r
        elif r["step"] != "cool_down":
            assert a.date() == b.date() and a.weekday() < 5, r
            assert time(8) <= a.time() and b.time() <= time(16) and a < b, r
    night = [r for r in rows if str(r["step"]).startswith("print")
             and not time(8) <= r["end"].astimezone(SHANGHAI).time() <= time(16)]  # type: ignore[attr-defined]
    assert night, "machines print through the night: some print should end outside the shift"
    # Changeovers: consecutive prints on a machine with different materials are >= the changeover apart.
    gap = timedelta(hours=load_routes().changeover_h["sls"])
    material = {b.id: b.material for j in _workload().jobs for b in j.builds}
    for machine in ("m1", "m2"):
        prints = sorted((r for r in rows if r["resource"] == machine), key=lambda r: r["start"])  # type: ignore[arg-type, return-value]
        for x, y in itertools.pairwise(prints):
            assert y["start"] >= x["end"]  # type: ignore[operator]
            if material[str(x["build"])] != material[str(y["build"])]:
                assert y["start"] - x["end"] >= gap, (x, y)  # type: ignore[operator]
        if machine == "m1":
            for r in prints:
                assert r["end"] <= START + timedelta(hours=9) or r["start"] >= START + timedelta(hours=13)  # type: ignore[operator]
    # J3 is released at +20 h
    assert min(r["start"] for r in rows if r["job"] == "J3") >= START + timedelta(hours=20)  # type: ignore[type-var]
    summary = order_summary(sp, s)
    late = sum(o.weight * o.tardiness_min for o in summary)
    assert late == s.weighted_tardiness == check_schedule(sp.problem, s.operations).weighted_tardiness


def test_changeovers_are_grouped_when_due_dates_allow() -> None:
    """With loose due dates the solver orders the builds so that fewer material changes are needed.

    Round-the-clock shifts, so that prints may start at any time and changeovers lengthen the makespan.
    """
    network = _network((Shift(name="a", start=time(0), end=time(12)), Shift(name="b", start=time(12), end=time(0))))
    site = network.sites["test-site"]
    due = START + timedelta(days=6)
    builds = [WorkBuild(id=f"B{i}", process=ProcessFamily.SLS, material=m, print_h=4, parts=5, machines=("m2",))
              for i, m in enumerate(["pa12", "pa11", "pa12", "pa11"])]
    work = Workload(site="test-site", start=START, jobs=tuple(
        WorkJob(id=f"J{i}", due=due, builds=(b,)) for i, b in enumerate(builds)))
    sp = site_problem(network, site, work, horizon_days=7, station_kinds=KINDS)
    result = plan(sp.problem, time_limit_s=4)
    assert result.check.ok
    prints = sorted((r for r in sp.rows(result.schedule.operations) if r["resource"] == "m2"),
                    key=lambda r: r["start"])  # type: ignore[arg-type, return-value]
    mats = [builds[int(str(r["build"])[1:])].material for r in prints]
    changes = sum(a != b for a, b in itertools.pairwise(mats))
    assert changes == 1, mats


def test_demo_workload_is_reproducible_and_labelled() -> None:
    network = _network()
    site = network.sites["test-site"]
    a = demo_workload(network, site, 3, seed=7, start=START)
    b = demo_workload(network, site, 3, seed=7, start=START)
    c = demo_workload(network, site, 3, seed=8, start=START)
    assert a == b and a != c
    assert a.source == "generated" and a.site == "test-site"
    assert all(bd.material in ("pa12", "pa11") for j in a.jobs for bd in j.builds)
    sp = site_problem(network, site, a, 3, station_kinds=KINDS)
    assert check_schedule(sp.problem, plan(sp.problem, time_limit_s=3).schedule.operations).ok


def test_bad_work_is_reported() -> None:
    network = _network()
    site = network.sites["test-site"]
    wrong = Workload(site="test-site", start=START, jobs=(WorkJob(id="J", due=START, builds=(
        WorkBuild(id="B", process=ProcessFamily.SLS, material="pa6", print_h=3),)),))
    with pytest.raises(InputError, match="no machine of site test-site prints sls in 'pa6'"):
        site_problem(network, site, wrong, 7, station_kinds=KINDS)
    unknown = Workload(site="test-site", start=START, jobs=_workload().jobs,
                       maintenance=(Maintenance(resource="m9", start=START, end=START + timedelta(hours=1)),))
    with pytest.raises(InputError, match="'m9' is not a machine or station"):
        site_problem(network, site, unknown, 7, station_kinds=KINDS)
    with pytest.raises(ValueError, match="timezone"):
        WorkJob.model_validate({"id": "J", "due": "2026-11-23T08:00:00", "builds": [
            {"id": "B", "process": "sls", "material": "pa12", "print_h": 3}]})


def test_planning_service_time_limit_matches_the_engine() -> None:
    from fabgrid.scheduling.plan import MAX_TIME_LIMIT_S
    from fabgrid.services import planning

    assert planning.MAX_TIME_LIMIT_S == MAX_TIME_LIMIT_S


def test_lights_out_off_keeps_prints_inside_one_shift_and_refuses_longer_ones() -> None:
    """Without lights-out a print starts and ends in one staffed window; with it, it only starts in one."""
    from fabgrid.scheduling.site import longest_shift_min, work_windows

    net = _network()
    site = net.sites["test-site"]
    short = Workload(site=site.id, start=START, jobs=(
        WorkJob(id="J1", due=START + timedelta(days=3),
                builds=tuple(WorkBuild(id=f"B{i}", process=ProcessFamily.SLS, material="pa12", print_h=3, parts=2,
                                       steps=()) for i in range(3))),))
    assert longest_shift_min(site.calendar, START) == 8 * 60
    for lights_out in (True, False):
        sp = site_problem(net, site, short, 7, station_kinds=KINDS, lights_out=lights_out)
        result = plan(sp.problem, time_limit_s=5, workers=1)
        assert check_schedule(sp.problem, result.schedule.operations).ok
        windows = work_windows(site.calendar, START, sp.problem.horizon)
        for o in result.schedule.operations:
            inside = [w for w in windows if w[0] <= o.start < w[1]]
            assert inside, "every print starts in a staffed window"
            assert lights_out or o.end <= inside[0][1]
    long = short.model_copy(update={"jobs": (WorkJob(id="J9", due=START + timedelta(days=3), builds=(
        WorkBuild(id="B9", process=ProcessFamily.SLS, material="pa12", print_h=12, parts=2, steps=()),)),)})
    with pytest.raises(InputError, match="lights-out printing is off"):
        site_problem(net, site, long, 7, station_kinds=KINDS, lights_out=False)
    site_problem(net, site, long, 7, station_kinds=KINDS, lights_out=True)
