"""Background jobs: rows of the `jobs` table, one handler per kind, run by whichever process claims them.

The job's state lives in the database, so any API process answers `GET /api/v1/jobs/{id}` for a job any
worker runs. Dispatch is pluggable: `fabgrid.workers` installs a Celery dispatcher when FABGRID_BROKER_URL
is set; otherwise jobs run in a small thread pool of the calling process. Depends on the store only.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services._util import iso, new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.tables import JobRow
from fabgrid.store.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Settings, dict[str, Any]], dict[str, Any]]
Dispatcher = Callable[[Settings, str, float], None]

HANDLERS: dict[str, Handler] = {}
#: Modules that register handlers; imported by `run_job` so a bare worker process knows every kind.
HANDLER_MODULES = ("fabgrid.services.parts", "fabgrid.services.webhooks", "fabgrid.services.orders")
#: Threads of the in-process pool (the embedded default, no broker).
IN_PROCESS_THREADS = 2
TERMINAL = ("succeeded", "failed")
#: A job `running` for longer than this lost its worker (the analysis budget is 120 s): it may run again
#: when the broker redelivers it (Celery acks late and rejects on worker loss).
STALE_RUNNING_S = 900.0

_dispatcher: Dispatcher | None = None
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class RetryLater(Exception):
    """Raised by a handler to run the job again after `delay_s` (until `max_attempts`)."""

    def __init__(self, reason: str, delay_s: float, max_attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s
        self.max_attempts = max_attempts


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator registering the handler of a job kind."""

    def deco(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return deco


def set_dispatcher(fn: Dispatcher | None) -> None:
    """Install how jobs are handed to workers (None: the in-process thread pool)."""
    global _dispatcher
    _dispatcher = fn


def _in_process(settings: Settings, job_id: str, delay_s: float) -> None:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(IN_PROCESS_THREADS, thread_name_prefix="fabgrid-job")
        pool = _pool
    if delay_s > 0:
        timer = threading.Timer(delay_s, pool.submit, args=(run_job, settings, job_id))
        timer.daemon = True
        timer.start()
    else:
        pool.submit(run_job, settings, job_id)


def enqueue(uow: UnitOfWork, kind: str, params: dict[str, Any], *, organisation_id: int | None,
            user_id: int | None) -> JobRow:
    """Add a queued job in the caller's transaction; call `submit` after the commit."""
    row = JobRow(id=new_id("job"), kind=kind, params=params, organisation_id=organisation_id, user_id=user_id,
                 status="queued", attempts=0)
    uow.session.add(row)
    uow.session.flush()
    return row


def submit(settings: Settings, job_id: str, delay_s: float = 0.0) -> None:
    """Hand a committed job to a worker (Celery when installed, else the in-process pool)."""
    (_dispatcher or _in_process)(settings, job_id, delay_s)


def resubmit_stale(settings: Settings, older_than_s: float) -> int:
    """Submit again the jobs still queued after `older_than_s` seconds (their dispatch was lost, e.g. a
    broker restart); returns how many (at most 100 per call)."""
    with UnitOfWork(settings.database_url) as uow:
        stale = uow.jobs.queued(now() - timedelta(seconds=older_than_s))
    for job_id in stale:
        submit(settings, job_id)
    return len(stale)


def _problem(exc: InputError) -> dict[str, Any]:
    return {"type": f"urn:fabgrid:problem:{exc.code}", "title": exc.code, "status": exc.status,
            "detail": exc.message, "hint": exc.hint}


def _handler(kind: str) -> Handler:
    if kind not in HANDLERS:
        for mod in HANDLER_MODULES:
            importlib.import_module(mod)
    return HANDLERS[kind]


def run_job(settings: Settings, job_id: str) -> str:
    """Claim and run one job; returns its status afterwards. Safe to call twice: only one claim wins."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    with UnitOfWork(settings.database_url) as uow:
        t = now()
        claimed = uow.jobs.claim(job_id, worker, t, stale_before=t - timedelta(seconds=STALE_RUNNING_S))
        uow.commit()
        row = uow.jobs.get(job_id, None)
        if row is None:
            return "missing"
        if not claimed:
            return row.status
        kind, params, attempts = row.kind, dict(row.params), row.attempts
    status, result, problem, retry = "succeeded", None, None, None
    try:
        result = _handler(kind)(settings, params)
    except RetryLater as r:
        if attempts < r.max_attempts:
            status, retry = "queued", r.delay_s
        else:
            status = "failed"
        problem = {"type": "urn:fabgrid:problem:job.retry", "title": "job.retry", "status": 503,
                   "detail": f"attempt {attempts}: {r.reason}", "hint": None}
    except InputError as exc:
        status, problem = "failed", _problem(exc)
    except Exception as exc:  # a bug must not leave the job 'running' forever
        log.exception("job %s (%s) failed", job_id, kind)
        status = "failed"
        problem = {"type": "urn:fabgrid:problem:job.internal", "title": "job.internal", "status": 500,
                   "detail": f"the job failed with an internal error ({type(exc).__name__})", "hint": None}
    with UnitOfWork(settings.database_url) as uow:
        row = uow.jobs.get(job_id, None)
        assert row is not None
        row.status, row.result, row.problem = status, result, problem
        if retry is not None:
            row.run_after = now() + timedelta(seconds=retry)
        else:
            row.finished_at = now()
        uow.commit()
    if retry is not None:
        submit(settings, job_id, retry)
    return status


def job_json(row: JobRow) -> dict[str, Any]:
    """The job resource."""
    return {"id": row.id, "kind": row.kind, "status": row.status, "attempts": row.attempts,
            "created_at": iso(row.created_at), "started_at": iso(row.started_at),
            "finished_at": iso(row.finished_at), "result": row.result, "problem": row.problem,
            "links": {"self": f"/api/v1/jobs/{row.id}"}}


def get_job(settings: Settings, who: Principal, job_id: str) -> dict[str, Any]:
    """A job of the caller's organisation (another organisation's job is 'not found')."""
    with UnitOfWork(settings.database_url) as uow:
        row = uow.jobs.get(job_id, who.organisation_id)
        if row is None:
            raise NotFoundError(f"job {job_id!r} not found", code="job.not_found")
        return job_json(row)


def wait(settings: Settings, job_id: str, timeout_s: float = 30.0, poll_s: float = 0.05) -> dict[str, Any]:
    """Poll a job until it is finished (for the CLI and tests); InputError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        with UnitOfWork(settings.database_url) as uow:
            row = uow.jobs.get(job_id, None)
            if row is None:
                raise NotFoundError(f"job {job_id!r} not found", code="job.not_found")
            if row.status in TERMINAL:
                return job_json(row)
        if time.monotonic() > deadline:
            raise InputError(f"job {job_id} did not finish within {timeout_s:.0f} s", code="job.timeout",
                             status=504)
        time.sleep(poll_s)
