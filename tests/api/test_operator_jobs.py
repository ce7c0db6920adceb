"""The dead letters of background work (issue 21, item 1): an operator lists the failed jobs of every
organisation with their problem and runs one again; buyers cannot; retrying a job that has not failed is 409."""

from __future__ import annotations

from typing import Any

from web_kit import Platform

from fabgrid.config import Settings
from fabgrid.errors import InputError
from fabgrid.services import jobs
from fabgrid.store.uow import UnitOfWork

_runs: list[str] = []


@jobs.register("test_flaky_once")
def _flaky(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    _runs.append(params["tag"])
    if _runs.count(params["tag"]) == 1:
        raise InputError("the printer host did not answer", hint="retry later", code="test.unreachable",
                         status=503)
    return {"ok": params["tag"]}


def _failed_job(platform: Platform, tag: str) -> str:
    with UnitOfWork(platform.settings.database_url) as uow:
        job = jobs.enqueue(uow, "test_flaky_once", {"tag": tag}, organisation_id=None, user_id=None)
        uow.commit()
    assert jobs.run_job(platform.settings, job.id) == "failed"
    return job.id


def test_operator_sees_the_failed_job_and_retries_it(platform: Platform) -> None:
    c, op, buyer = platform.client, platform.account("operator"), platform.buyer()
    jid = _failed_job(platform, "a")
    r = c.get("/api/v1/operator/jobs?status=failed&kind=test_flaky_once", headers=op)
    assert r.status_code == 200, r.text
    items = {j["id"]: j for j in r.json()["items"]}
    assert items[jid]["status"] == "failed" and items[jid]["problem"]["title"] == "test.unreachable"
    assert c.get("/api/v1/operator/jobs", headers=buyer).status_code == 403
    assert c.post(f"/api/v1/operator/jobs/{jid}/retry", headers=buyer).status_code == 403
    r = c.post(f"/api/v1/operator/jobs/{jid}/retry", headers=op)
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "succeeded"), r.text
    done = jobs.wait(platform.settings, jid, 30)  # the in-process pool runs it (no broker here)
    assert done.status == "succeeded" and done.result == {"ok": "a"} and done.attempts == 2
    assert jid not in {j["id"] for j in c.get("/api/v1/operator/jobs", headers=op).json()["items"]}
    r = c.post(f"/api/v1/operator/jobs/{jid}/retry", headers=op)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert c.post("/api/v1/operator/jobs/job_nope/retry", headers=op).status_code == 404
    assert c.get("/api/v1/operator/jobs?limit=0", headers=op).status_code == 422
    assert c.get("/api/v1/operator/jobs?status=succeeded", headers=op).status_code == 422
