"""The operator's jobs page (issue 21, item 1): per queue (analysis, planning, dispatch, notify, sim) the jobs
waiting and running now and those finished in the last day, the oldest waiting job's age, and the dead letters
(failed jobs of every organisation, newest first, with their problem) with a button that runs one again.

Calls services.jobs; included in the operator's router (web.operator).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fabgrid.errors import InputError
from fabgrid.services import jobs
from fabgrid.services._util import now
from fabgrid.web.session import PageRoute, checked_form, language, localized_problem, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
OPERATOR = ("operator",)
#: Failed jobs shown per page.
PAGE = 50


def _int(text: str | None, name: str, default: int) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a whole number", code="job.page") from None


@router.get("/operator/jobs", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    """The queues' load and the failed jobs (optionally of one kind), `PAGE` at a time."""
    who = require(request, *OPERATOR)
    settings, lang = settings_of(request), language(request)
    kind = request.query_params.get("kind") or None
    offset = _int(request.query_params.get("offset"), "offset", 0)
    queues = jobs.queue_overview(settings, who)
    failed = jobs.failed_jobs(settings, who, kind=kind, limit=PAGE, offset=offset)
    running = jobs.running_jobs(settings, who)
    problems = {}
    for j in failed:
        p = j.problem or {}
        problems[j.id] = localized_problem(lang, str(p.get("detail") or p.get("title") or ""), p.get("hint"),
                                           str(p.get("title") or "") or None)
    t = now()
    waiting = {q.queue: (t - q.oldest_queued_at).total_seconds() / 60 if q.oldest_queued_at else None
               for q in queues}
    kinds = sorted({k for q in queues for k in q.kinds} | set(jobs.QUEUE_OF))
    return render(request, "operator_jobs.html", {
        "queues": queues, "waiting_min": waiting, "failed": failed, "running": running, "problems": problems,
        "kind": kind, "kinds": kinds, "queue_of": jobs.queue_of, "offset": offset, "page": PAGE,
        "window_h": jobs.LOAD_WINDOW_H, "retried": request.query_params.get("retried")}, who=who)


@router.post("/operator/jobs/{job_id}/retry")
async def retry(request: Request, job_id: str) -> Response:
    """Run a failed job again with its parameters, on its queue's workers."""
    who = require(request, *OPERATOR)
    await checked_form(request)
    jobs.retry_job(settings_of(request), who, job_id)
    return RedirectResponse(f"/operator/jobs?retried={job_id}", status_code=303)
