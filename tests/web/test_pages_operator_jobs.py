"""The operator's jobs page (issue 21, item 1): each queue's waiting, running, done and failed jobs, and the dead
letters (failed jobs with their reason, in the page's language) with a button that runs one again; only operators
see it. The failing job is a real one: the analysis of a part that does not exist."""

from __future__ import annotations

import html
import re

from pages_kit import Site, csrf_of

from fabgrid.services import jobs
from fabgrid.store.uow import UnitOfWork
from fabgrid.web.session import localized_problem


def _failed_analysis(site: Site) -> str:
    with UnitOfWork(site.settings.database_url) as uow:
        job = jobs.enqueue(uow, "analyze_part", {"part_id": "prt_gone"}, organisation_id=None, user_id=None)
        uow.commit()
    assert jobs.run_job(site.settings, job.id) == "failed"
    return job.id


def test_the_operator_sees_the_queues_and_runs_a_failed_job_again(site: Site) -> None:
    job_id = _failed_analysis(site)
    op = site.browser("en")
    site.login(op, site.account("operator"))
    page = op.get("/operator")
    assert 'href="/operator/jobs"' in page.text
    page = op.get("/operator/jobs")
    assert page.status_code == 200, page.text[:500]
    text = html.unescape(page.text)
    queues = re.findall(r'<tr data-queue="(\w+)">', text)
    assert queues == list(jobs.QUEUES)
    analysis = re.search(r'<tr data-queue="analysis">(.*?)</tr>', text, re.S)
    assert analysis is not None
    failed_count = int(re.findall(r'<td class="num">(\d+)</td>', analysis.group(1))[3])
    assert failed_count >= 1
    row = re.search(rf'<tr data-job="{job_id}" data-kind="analyze_part">(.*?)</tr>', text, re.S)
    assert row is not None and "vanished before its analysis" in row.group(1) and "part.not_found" in row.group(1)
    assert "Analysis of a large part" in row.group(1)

    only = op.get("/operator/jobs", params={"kind": "email"})
    assert f'data-job="{job_id}"' not in only.text  # the filter by kind
    r = op.post(f"/operator/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == f"/operator/jobs?retried={job_id}"
    done = jobs.wait(site.settings, job_id, timeout_s=30)
    assert done.status == "failed" and done.attempts == 2  # it ran again (and the part is still gone)
    assert job_id in op.get(r.headers["location"]).text

    missing = op.post("/operator/jobs/job_nope/retry", data={"csrf_token": csrf_of(page.text)})
    assert missing.status_code == 404
    bad = op.get("/operator/jobs", params={"offset": "many"})
    assert bad.status_code == 422


def test_a_running_job_shows_its_progress(site: Site) -> None:
    from datetime import timedelta

    from fabgrid.services._util import now

    with UnitOfWork(site.settings.database_url) as uow:
        job = jobs.enqueue(uow, "builds.plan", {"site": "nowhere"}, organisation_id=None, user_id=None)
        t = now()
        assert uow.jobs.claim(job.id, "test-worker", t, t + timedelta(minutes=5))
        uow.jobs.set_progress(job.id, 0.4, "fdm fdm_pla: 3 lines")
        uow.commit()
    zh = site.browser("zh-CN")
    site.login(zh, site.account("operator"))
    text = html.unescape(zh.get("/operator/jobs").text)
    row = re.search(rf'<tr data-job="{job.id}">(.*?)</tr>', text[text.index('id="running-jobs"'):], re.S)
    assert row is not None and "重新规划工厂的成型批次" in row.group(1) and "40 %" in row.group(1)
    with UnitOfWork(site.settings.database_url) as uow:  # let it go: finished as failed by its "worker"
        uow.jobs.finish(job.id, "test-worker", {"status": "failed", "finished_at": now(),
                                                 "problem": {"title": "job.internal", "detail": "test"}})
        uow.commit()


def test_the_jobs_page_in_chinese_and_for_operators_only(site: Site) -> None:
    job_id = _failed_analysis(site)
    zh = site.browser("zh-CN")
    site.login(zh, site.account("operator"))
    text = html.unescape(zh.get("/operator/jobs").text)
    assert "后台任务" in text and "失败的任务" in text and "零件分析" in text
    row = re.search(rf'<tr data-job="{job_id}" data-kind="analyze_part">(.*?)</tr>', text, re.S)
    assert row is not None
    said, _ = localized_problem("zh", "part prt_gone vanished before its analysis", None, "part.not_found")
    assert said in row.group(1)
    buyer = site.browser("en")
    site.signup_buyer(buyer)
    assert buyer.get("/operator/jobs").status_code == 403


def test_every_queue_and_kind_has_its_name_in_both_languages() -> None:
    from fabgrid.web import i18n

    for lang in ("zh", "en"):
        cat = i18n.catalog(lang)
        assert all(f"jobqueue.{q}" in cat for q in jobs.QUEUES), lang
        assert all(f"jobkind.{k}" in cat for k in jobs.QUEUE_OF), lang
