"""Builds, the live schedule and honest machine pages through the API (issue 20, items 1, 2 and 5): two buyers'
orders at one site become one mixed build (order lines, customers, estimated time, 3MF and picture), locked builds
survive re-planning, a split nests two builds again, the schedule plans them in calendar time inside the site's
shifts with the promised dates held against it, a machine marked down re-plans, and each machine says whether its
data is a real host, telemetry or the simulated demo fleet, with OEE, utilisation and energy from its events."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import Settings
from fabgrid.services import accounts
from fabgrid.services.telemetry import SqlEventSink

SITE = "cs-tianxin-01"
PASSWORD = "correct horse battery"


def _box_stl(x: float, y: float, z: float) -> bytes:
    import trimesh

    m = trimesh.creation.box((x, y, z))
    m.apply_translation((x / 2, y / 2, z / 2))
    data: bytes = m.export(file_type="stl")
    return data


def _orders(client: TestClient) -> list[dict[str, Any]]:
    out = []
    for n, dims in enumerate([(12.0, 10.0, 3.0), (8.0, 8.0, 4.0)]):
        email = f"buyer{n}@org{n}.example.com"
        assert client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": f"B{n}",
                                                        "organisation": f"Buyer {n}"}).status_code == 201
        h = _login(client, email)
        part = client.post("/api/v1/parts", files={"file": (f"p{n}.stl", _box_stl(*dims))}, headers=h).json()
        q = client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": n + 1,
                                                "destination": "Changsha"}, headers=h).json()
        r = client.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": SITE}],
                                                "consent_design_sharing": True}, headers=h)
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def _login(client: TestClient, email: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_builds_lock_split_schedule_and_machine_down(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        orders = _orders(client)
        accounts.signup(settings.database_url, email="f@tianxin.example.com", password=PASSWORD, name="F",
                        organisation="Tianxin works", role="factory", site_id=SITE)
        fh = _login(client, "f@tianxin.example.com")
        [build] = client.post("/api/v1/factory/builds/plan", headers=fh).json()["builds"]
        assert build["copies"] == 3 and build["estimated_time_s"] > 0 and "picture" not in build
        three_mf = client.get(build["links"]["3mf"], headers=fh)
        assert three_mf.status_code == 200 and three_mf.content[:2] == b"PK"  # a 3MF is a zip
        png = client.get(build["links"]["picture"], headers=fh)
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"

        locked = client.post(build["links"]["lock"], json={"locked": True}, headers=fh).json()
        assert locked["locked"] is True
        again = client.post("/api/v1/factory/builds/plan", headers=fh).json()
        assert [b["id"] for b in again["builds"]] == [build["id"]] and again["kept"] == 1  # locked: kept as it is
        refused = client.post(build["links"]["split"], headers=fh)
        assert refused.status_code == 409 and refused.json()["title"] == "build.locked"
        assert refused.headers["content-type"].startswith("application/problem+json")
        client.post(build["links"]["lock"], json={"locked": False}, headers=fh)
        halves = client.post(build["links"]["split"], headers=fh).json()["builds"]
        assert sorted(b["copies"] for b in halves) == [1, 2]
        assert {p["line_id"] for b in halves for p in b["parts"]} == {o["lines"][0]["id"] for o in orders}
        assert abs(sum(b["estimated_time_s"] for b in halves) - build["estimated_time_s"]) < 1.0
        listed = client.get("/api/v1/factory/builds", headers=fh).json()["builds"]
        assert {b["id"] for b in listed} == {b["id"] for b in halves}

        sched = client.get("/api/v1/factory/schedule", headers=fh).json()
        prints = [r for r in sched["operations"] if r["step"].startswith("print")]
        assert {r["build"] for r in prints} == {b["id"] for b in halves}
        staffed = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in sched["staffed"]]
        for r in prints:  # lights-out: each print starts inside staffed hours
            start = datetime.fromisoformat(r["start"])
            assert any(a <= start < b for a, b in staffed), r
        assert sched["lines"] == 2 and 0 <= sched["lines_kept"] <= 2 and sched["status"] in ("optimal", "feasible")

        machine = halves[0]["machine_id"]
        marked = client.post(f"/api/v1/factory/machines/{machine}/mark", json={"mark": "maintenance", "hours": 48},
                             headers=fh)
        assert marked.status_code == 200, marked.text
        assert marked.json()["down_until"] and marked.json()["state"] == "planned_downtime"
        after = client.get("/api/v1/factory/schedule", headers=fh).json()
        assert [m for m, _, _ in after["machines_down"]] == [machine]
        for r in after["operations"]:  # nothing on the machine while it is in maintenance
            if r["resource"] == machine:
                assert datetime.fromisoformat(r["start"]) >= datetime.fromisoformat(after["machines_down"][0][2])
        bad = client.post(f"/api/v1/factory/machines/{machine}/mark", json={"mark": "broken"}, headers=fh)
        assert bad.status_code == 422 and bad.json()["title"] == "machine.mark"
        assert client.post("/api/v1/factory/machines/cs-jingkai-01-f01/mark", json={"mark": "down"},
                           headers=fh).status_code == 404


def test_machine_sources_and_figures_from_events(settings: Settings, closed_port: int) -> None:
    accounts.signup(settings.database_url, email="f@tianxin.example.com", password=PASSWORD, name="F",
                    organisation="Tianxin works", role="factory", site_id=SITE)
    now = datetime.now(UTC)
    t0 = now - timedelta(hours=10)

    def ev(mid: str, machine: str, dt_h: float, **kw: Any) -> dict[str, Any]:
        return {"id": mid, "ts": (t0 + timedelta(hours=dt_h)).isoformat(), "site": SITE, "machine": machine, **kw}

    f01, f02, f03 = "cs-tianxin-01-f01", "cs-tianxin-01-f02", "cs-tianxin-01-f03"
    SqlEventSink(settings.database_url)([
        # f02 sends over MQTT: 6 h producing then idle, 1.2 kWh, 10 good parts
        ev("plant:f02:1", f02, 0, type="state", state="producing"),
        ev("plant:f02:2", f02, 6, type="count", good=10, scrap=0, planned_unit_s=1800),
        ev("plant:f02:3", f02, 6, type="state", state="idle"),
        ev("plant:f02:4", f02, 6, type="energy", kwh=1.2),
        # f03 only from the demo's simulated fleet
        ev("embedded123:f03:1", f03, 0, type="state", state="producing"),
    ])
    with TestClient(create_app(settings)) as client:
        fh = _login(client, "f@tianxin.example.com")
        client.put(f"/api/v1/factory/machines/{f01}/connection",
                   json={"kind": "octoprint", "url": f"http://127.0.0.1:{closed_port}", "api_key": "k"}, headers=fh)
        listed = client.get("/api/v1/factory/machine-status", headers=fh)
        assert listed.status_code == 200, listed.text
        machines = {m["id"]: m for m in listed.json()["machines"]}
        one = client.get(f"/api/v1/factory/machines/{f02}/status", headers=fh).json()
        assert client.get("/api/v1/factory/machines/cs-jingkai-01-f01/status", headers=fh).status_code == 404
    assert machines[f01]["source"] == "connected" and machines[f01]["connection_state"] == "unreachable"
    assert machines[f02]["source"] == "telemetry" and machines[f03]["source"] == "simulated"
    others = [m for k, m in machines.items() if k not in (f01, f02, f03)]
    assert others and all(m["source"] == "no_data" for m in others)
    m2 = machines[f02]
    assert one["id"] == f02 and one["source"] == "telemetry"
    assert abs(m2["utilisation"] - 6 / 24) < 0.01  # 6 h producing of the 24 h window
    assert m2["energy_kwh"] == 1.2 and m2["good_parts"] == 10 and m2["state"] == "idle"
    assert m2["oee"] is not None and 0 < m2["oee"] <= 1


def test_powder_bed_lines_are_packed_in_the_build_volume(settings: Settings) -> None:
    """SLS order lines of two buyers become one powder-bed build packed in 3D (parts stacked in the volume)."""
    site = "cs-jingkai-01"
    with TestClient(create_app(settings)) as client:
        for n in range(2):
            email = f"sls{n}@org{n}.example.com"
            client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": f"S{n}",
                                                     "organisation": f"SLS buyer {n}"})
            h = _login(client, email)
            part = client.post("/api/v1/parts", files={"file": (f"s{n}.stl", _box_stl(60.0, 60.0, 20.0))},
                               headers=h).json()
            q = client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "sls_pa12", "quantity": 30,
                                                    "destination": "Changsha"}, headers=h).json()
            assert site in {o["site"] for o in q["offers"]}, q["offers"]
            r = client.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": site}],
                                                    "consent_design_sharing": True}, headers=h)
            assert r.status_code == 201, r.text
        accounts.signup(settings.database_url, email="f@jingkai.example.com", password=PASSWORD, name="F",
                        organisation="Jingkai works", role="factory", site_id=site)
        fh = _login(client, "f@jingkai.example.com")
        plan = client.post("/api/v1/factory/builds/plan", headers=fh).json()
    [build] = plan["builds"]
    assert build["process"] == "sls" and build["copies"] == 60 and build["machine_model"].startswith("farsoon")
    from fabgrid.services import builds

    [stored] = builds.list_builds(settings, site)
    assert stored.model_file and stored.picture
    with zipfile.ZipFile(stored.model_file) as z:
        model = z.read("3D/3dmodel.model").decode()
    top = max(float(v) for v in re.findall(r'z="([-\d.e]+)"', model))
    assert top > 25.0, "copies (20 mm high) are stacked at several heights of the powder bed"


def test_replanning_runs_as_a_job_with_its_progress(settings: Settings) -> None:
    """Issue 21, item 1: `POST /factory/builds/plan?background=true` answers 202 with a job on the planning queue
    that reports its progress and ends with the builds; a second request while it is queued joins the same job;
    the builds are those of the synchronous plan. The web page follows the job."""
    from fabgrid.services import jobs
    from fabgrid.store.uow import UnitOfWork

    assert jobs.queue_of("builds.plan") == "planning"
    with TestClient(create_app(settings)) as client:
        orders = _orders(client)
        accounts.signup(settings.database_url, email="f@tianxin.example.com", password=PASSWORD, name="F",
                        organisation="Tianxin works", role="factory", site_id=SITE)
        fh = _login(client, "f@tianxin.example.com")
        r = client.post("/api/v1/factory/builds/plan", params={"background": "true"}, headers=fh)
        assert r.status_code == 202 and r.headers["location"] == f"/api/v1/jobs/{r.json()['id']}", r.text
        job = jobs.wait(settings, r.json()["id"], timeout_s=120)
        assert job.status == "succeeded" and job.kind == "builds.plan", job.problem
        assert job.progress == 1.0 and job.progress_note == "1 builds"
        doc = client.get(f"/api/v1/jobs/{job.id}", headers=fh).json()
        assert doc["progress"] == 1.0 and doc["result"]["site"] == SITE and len(doc["result"]["builds"]) == 1
        [build] = client.get("/api/v1/factory/builds", headers=fh).json()["builds"]
        assert build["id"] == doc["result"]["builds"][0] and build["copies"] == 3  # both buyers' lines
        assert {p["line_id"] for p in build["parts"]} == {o["lines"][0]["id"] for o in orders}
        # a re-plan asked for while one is queued joins it (the task key), and a new one starts once it is done
        with UnitOfWork(settings.database_url) as uow:
            first = jobs.enqueue(uow, "builds.plan", {"site": SITE}, organisation_id=None, user_id=None,
                                 task_key=f"builds.plan:{SITE}")
            again = jobs.enqueue(uow, "builds.plan", {"site": SITE}, organisation_id=None, user_id=None,
                                 task_key=f"builds.plan:{SITE}")
            uow.commit()
        assert again.id == first.id
        assert jobs.run_job(settings, first.id) == "succeeded"
        with UnitOfWork(settings.database_url) as uow:
            later = jobs.enqueue(uow, "builds.plan", {"site": SITE}, organisation_id=None, user_id=None,
                                 task_key=f"builds.plan:{SITE}")
        assert later.id != first.id
        other = client.get(f"/api/v1/jobs/{job.id}", headers=_login(client, "buyer0@org0.example.com"))
        assert other.status_code == 404  # another organisation's job
