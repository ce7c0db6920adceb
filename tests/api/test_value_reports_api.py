"""The operator's value report through the API (issue 22, item 4): POST starts the comparison of the traditional
and the fabgrid policy as a background job (202), the job succeeds, the report is stored and listed with its
cards (only those with a figure), the industry claims with their public source, the assumptions as rows; bad input
is a 422 problem+json and starts nothing. A tiny run (2 days, 2 seeds, 4 parts, 4 sites) keeps it short."""

from __future__ import annotations

from web_kit import Platform

TINY = {"days": 2, "seeds": 2, "parts": 4, "sites": 4, "assumptions": {"fabgrid.batch_h": 2}}


def test_value_report_flow_and_bad_input(platform: Platform) -> None:
    oh = platform.account("operator")
    before = platform.client.get("/api/v1/operator/value-reports", headers=oh).json()
    for bad in ({"days": 0}, {"days": 61}, {"seeds": 11}, {"parts": 1}, {"disruptions": "/etc/passwd"},
                {"disruptions": "site:nowhere-01:closed:day1-2"}, {"assumptions": {"no.such_key": 1}},
                {"sites": 10_000}):
        r = platform.client.post("/api/v1/operator/value-reports", json=TINY | bad, headers=oh)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), bad
    assert platform.client.get("/api/v1/operator/value-reports", headers=oh).json() == before
    buyer = platform.buyer()
    assert platform.client.post("/api/v1/operator/value-reports", json=TINY, headers=buyer).status_code == 403

    r = platform.client.post("/api/v1/operator/value-reports", json=TINY, headers=oh)
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["status"] == "queued" and started["progress"]["runs_total"] == 4
    job = platform.wait_job(oh, started["job_id"], timeout_s=240)
    assert job["status"] == "succeeded", job
    doc = platform.client.get(f"/api/v1/operator/value-reports/{started['id']}", headers=oh).json()
    assert doc["status"] == "succeeded" and doc["progress"] == {"runs_done": 4, "runs_total": 4}
    rep = doc["report"]
    assert rep["days"] == 2 and len(rep["seeds"]) == 2 and rep["sites"] == 4
    assert set(rep["policies"]) == {"traditional", "fabgrid"}
    for k in rep["cards"]:
        assert rep["change"][k]["mean"] is not None, k
    assert set(rep["cards"]) | set(rep["left_out"]) == {"parts_per_machine_hour", "cost_per_part_cny",
                                                         "energy_kwh_per_value_added_cny", "on_time_rate",
                                                         "orders_lost"}
    assert rep["claims"] and all("issue" not in c["source"] and "MIIT" in c["source"] for c in rep["claims"])
    rows = {a["parameter"]: a for a in rep["assumptions"]}
    assert rows["fabgrid.batch_h"]["value"] == "2" and rows["fabgrid.batch_h"]["changed"]
    assert rows["demand.orders_per_day"]["changed"] is False
    assert {"change", "oee", "parts_good", "orders_delivered", "cost"} <= set(rep["charts"])
    listed = platform.client.get("/api/v1/operator/value-reports", headers=oh).json()
    assert listed[0]["id"] == started["id"] and "report" not in listed[0]
    assert platform.client.get("/api/v1/operator/value-reports/vrp_nope", headers=oh).status_code == 404
