"""Background jobs: rows of the `jobs` table, one handler per kind, run by whichever process claims them.

The job's state lives in the database, so any API process answers `GET /api/v1/jobs/{id}` for a job any
worker runs. Dispatch is pluggable: `fabgrid.workers` installs a Celery dispatcher when FABGRID_BROKER_URL
is set; otherwise jobs run in a small thread pool of the calling process. A claim is a lease
(`Settings.job_lease_s`) renewed while the job runs: when a worker dies its lease expires and a redelivered
task, the sweep of `resubmit_stale` or a start-up takes the job over; only the holder writes the outcome.
Depends on the store only.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.records import JOB_TERMINAL, Job
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.db import DatabaseBusy
from fabgrid.store.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Settings, dict[str, Any]], dict[str, Any]]
Dispatcher = Callable[[Settings, str, float], None]

HANDLERS: dict[str, Handler] = {}
#: The queues that separate the kinds of work, so that a long simulation never delays an analysis or a
#: notification: `fabgrid worker --queues analysis,planning` serves some of them (default: all).
QUEUES = ("analysis", "planning", "dispatch", "notify", "sim")
#: The queue of each job kind (a kind not named here goes to `planning`).
QUEUE_OF: dict[str, str] = {
    "analyze_part": "analysis",            # parts above the inline size limit
    "build_follow": "dispatch",            # a build sent to a printer, followed to its end
    "email": "notify", "webhook_delivery": "notify",
    "sim.run": "sim", "operator.value_report": "sim",
    "builds.plan": "planning",             # a site's builds re-planned (builds.start_plan)
}
DEFAULT_QUEUE = "planning"
#: Modules that register handlers; imported by `run_job` so a bare worker process knows every kind.
HANDLER_MODULES = ("fabgrid.services.parts", "fabgrid.services.webhooks", "fabgrid.services.orders",
                   "fabgrid.services.simulation", "fabgrid.services.disruptions", "fabgrid.services.mail",
                   "fabgrid.services.value_reports", "fabgrid.services.dispatch", "fabgrid.services.builds")
#: Threads of the in-process pool (the embedded default, no broker).
IN_PROCESS_THREADS = 2
TERMINAL = JOB_TERMINAL
#: A job `running` without a lease (claimed before leases existed) for longer than this lost its worker.
STALE_RUNNING_S = 900.0
#: A job whose worker died this many times fails instead of running again (it may be what kills them).
MAX_LOST_RUNS = 3
#: A job that found the database saturated runs again after this delay, up to this many attempts.
BUSY_RETRY_S = 5.0
MAX_BUSY_ATTEMPTS = 20

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


def queue_of(kind: str) -> str:
    """The queue (one of `QUEUES`) that jobs of `kind` go to."""
    return QUEUE_OF.get(kind, DEFAULT_QUEUE)


def celery_queue(settings: Settings, queue: str) -> str:
    """The broker's name of `queue` for this deployment: the plain name (``sim``) under the default
    FABGRID_WORKER_QUEUE, else ``<FABGRID_WORKER_QUEUE>.<queue>``, so deployments (or test runs) sharing one
    broker never take each other's jobs."""
    from fabgrid.config import DEFAULT_WORKER_QUEUE

    return queue if settings.worker_queue == DEFAULT_WORKER_QUEUE else f"{settings.worker_queue}.{queue}"


def job_queue(settings: Settings, job_id: str) -> str:
    """The broker queue of a stored job (by its kind); `DEFAULT_QUEUE` for an unknown id."""
    with UnitOfWork(settings.database_url) as uow:
        row = uow.jobs.get(job_id, None)
    return celery_queue(settings, queue_of(row.kind) if row is not None else DEFAULT_QUEUE)


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
            user_id: int | None, task_key: str | None = None) -> Job:
    """Add a queued job in the caller's transaction; call `submit` after the commit. With `task_key` (the work it
    does, e.g. ``builds.plan:<site>``) a job already queued or running for that key is returned instead: a
    duplicate request joins it (submitting it again is harmless, only one claim wins)."""
    if task_key is not None:
        found = uow.jobs.active(task_key)
        if found is not None:
            return found
    return uow.jobs.add(new_id("job"), kind, params, organisation_id=organisation_id, user_id=user_id,
                        task_key=task_key)


_current: contextvars.ContextVar[tuple[Settings, str] | None] = contextvars.ContextVar("fabgrid_job", default=None)


def progress(fraction: float, note: str = "") -> None:
    """Report how far the running job is (0..1, and a few words), for the pages that show it; nothing outside a
    job. A failed write is logged and ignored (progress is never worth failing a job)."""
    cur = _current.get()
    if cur is None:
        return
    settings, job_id = cur
    try:
        with UnitOfWork(settings.database_url) as uow:
            uow.jobs.set_progress(job_id, min(1.0, max(0.0, float(fraction))), note)
            uow.commit()
    except Exception:
        log.warning("job %s: its progress could not be stored", job_id, exc_info=True)


def submit(settings: Settings, job_id: str, delay_s: float = 0.0) -> None:
    """Hand a committed job to a worker (Celery when installed, else the in-process pool)."""
    (_dispatcher or _in_process)(settings, job_id, delay_s)


def _lost_problem(lost: int) -> dict[str, Any]:
    return {"type": "urn:fabgrid:problem:job.worker_lost", "title": "job.worker_lost", "status": 500,
            "detail": f"the worker running this job stopped {lost} times (killed, or out of memory)",
            "hint": "the job itself may be what stops them; submit it again, or ask an operator"}


def resubmit_stale(settings: Settings, older_than_s: float) -> int:
    """Submit again the jobs still queued after `older_than_s` seconds (their dispatch was lost, e.g. a
    broker restart) and the `running` jobs whose lease expired (their worker died); a job whose worker died
    `MAX_LOST_RUNS` times is failed instead. Returns how many were resubmitted or failed (at most 100 + 100 per
    call). Run at start by the server and `fabgrid worker`, and periodically by `start_sweeper`."""
    t = now()
    with UnitOfWork(settings.database_url) as uow:
        stale = uow.jobs.queued(t - timedelta(seconds=older_than_s))
        lost = uow.jobs.lost(t, t - timedelta(seconds=STALE_RUNNING_S))
        failed = 0
        for job_id in list(lost):
            row = uow.jobs.get(job_id, None)
            if row is not None and row.lost_runs + 1 >= MAX_LOST_RUNS:
                if uow.jobs.fail_lost(job_id, t, _lost_problem(row.lost_runs + 1)):
                    failed += 1
                    log.warning("job %s (%s) failed: its worker died %d times", job_id, row.kind,
                                row.lost_runs + 1)
                lost.remove(job_id)
        uow.commit()
    for job_id in stale + lost:
        submit(settings, job_id)
    return len(stale) + len(lost) + failed


def start_sweeper(settings: Settings, every_s: float | None = None) -> threading.Event:
    """A daemon thread calling `resubmit_stale` every `every_s` seconds (default: the job lease), so a job whose
    worker died is taken over even when its broker message is gone, and `acceptance.expire_unanswered` (lines
    their factory did not answer within the response time); set the returned event to stop it."""
    stop = threading.Event()
    period = every_s if every_s is not None else settings.job_lease_s

    def sweep() -> None:
        while not stop.wait(period):
            try:
                resubmit_stale(settings, max(60.0, period))
                from fabgrid.services.acceptance import expire_unanswered

                expire_unanswered(settings, now())  # allocated lines their factory did not answer in time
            except Exception:  # the database restarting: the next round tries again
                log.warning("job sweep failed", exc_info=True)

    threading.Thread(target=sweep, name="fabgrid-job-sweeper", daemon=True).start()
    return stop


class _Lease:
    """Renews a job's lease every third of its length while the job runs (a daemon thread)."""

    def __init__(self, settings: Settings, job_id: str, worker: str) -> None:
        self.settings, self.job_id, self.worker = settings, job_id, worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        lease = self.settings.job_lease_s
        while not self._stop.wait(lease / 3):
            try:
                with UnitOfWork(self.settings.database_url) as uow:
                    held = uow.jobs.renew(self.job_id, self.worker, now() + timedelta(seconds=lease))
                    uow.commit()
            except Exception:  # the next renewal tries again; the lease outlives two failures
                log.warning("renewing the lease of job %s failed", self.job_id, exc_info=True)
                continue
            if not held:
                log.warning("job %s: the lease was taken over by another worker", self.job_id)
                return


def _problem(exc: InputError) -> dict[str, Any]:
    return {"type": f"urn:fabgrid:problem:{exc.code}", "title": exc.code, "status": exc.status,
            "detail": exc.message, "hint": exc.hint}


def _handler(kind: str) -> Handler:
    if kind not in HANDLERS:
        for mod in HANDLER_MODULES:
            importlib.import_module(mod)
    return HANDLERS[kind]


def run_job(settings: Settings, job_id: str) -> str:
    """Claim and run one job; returns its status afterwards (``running``: another worker holds it under a live
    lease). Safe to call twice: only one claim wins, and only the holder of the claim writes the outcome."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    with UnitOfWork(settings.database_url) as uow:
        t = now()
        claimed = uow.jobs.claim(job_id, worker, t, t + timedelta(seconds=settings.job_lease_s),
                                 stale_before=t - timedelta(seconds=STALE_RUNNING_S))
        uow.commit()
        row = uow.jobs.get(job_id, None)
        if row is None:
            return "missing"
        if not claimed:
            return row.status
        kind, params, attempts, lost = row.kind, dict(row.params), row.attempts, row.lost_runs
    status, result, problem, retry = "succeeded", None, None, None
    if lost >= MAX_LOST_RUNS:
        status, problem = "failed", _lost_problem(lost)
    else:
        with _Lease(settings, job_id, worker):
            status, result, problem, retry = _run_handler(settings, kind, params, attempts, job_id)
    values: dict[str, Any] = {"status": status, "result": result, "problem": problem}
    if retry is not None:
        values["run_after"] = now() + timedelta(seconds=retry)
    else:
        values["finished_at"] = now()
    with UnitOfWork(settings.database_url) as uow:
        held = uow.jobs.finish(job_id, worker, values)
        uow.commit()
        if not held:  # our lease expired and another worker runs it now: its outcome counts, not ours
            log.warning("job %s: the claim was lost while it ran; this run's outcome is dropped", job_id)
            row = uow.jobs.get(job_id, None)
            return row.status if row is not None else "missing"
    if retry is not None:
        submit(settings, job_id, retry)
    return status


def _run_handler(settings: Settings, kind: str, params: dict[str, Any], attempts: int,
                 job_id: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None, float | None]:
    """(status, result, problem, retry delay) of one run of a handler."""
    token = _current.set((settings, job_id))
    try:
        return "succeeded", _handler(kind)(settings, params), None, None
    except RetryLater as r:
        problem = {"type": "urn:fabgrid:problem:job.retry", "title": "job.retry", "status": 503,
                   "detail": f"attempt {attempts}: {r.reason}", "hint": None}
        if attempts < r.max_attempts:
            return "queued", None, problem, r.delay_s
        return "failed", None, problem, None
    except DatabaseBusy as busy:  # the database was saturated: not the job's fault, run it again shortly
        problem = {"type": "urn:fabgrid:problem:db.busy", "title": "db.busy", "status": 503,
                   "detail": f"attempt {attempts}: {busy.message}", "hint": None}
        if attempts < MAX_BUSY_ATTEMPTS:
            return "queued", None, problem, BUSY_RETRY_S
        return "failed", None, problem, None
    except InputError as exc:
        return "failed", None, _problem(exc), None
    except Exception as exc:  # a bug must not leave the job 'running' forever
        log.exception("job %s (%s) failed", job_id, kind)
        internal = {"type": "urn:fabgrid:problem:job.internal", "title": "job.internal", "status": 500,
                    "detail": f"the job failed with an internal error ({type(exc).__name__})", "hint": None}
        return "failed", None, internal, None
    finally:
        _current.reset(token)


def get_job(settings: Settings, who: Principal, job_id: str) -> Job:
    """A job of the caller's organisation (another organisation's job is 'not found')."""
    with UnitOfWork(settings.database_url) as uow:
        row = uow.jobs.get(job_id, who.organisation_id)
        if row is None:
            raise NotFoundError(f"job {job_id!r} not found", code="job.not_found")
        return row


#: The most failed jobs one listing answers.
MAX_FAILED_PAGE = 200


def _operator(who: Principal) -> None:
    if who.role not in ("operator", "admin"):
        raise InputError("this needs an operator account", code="operator.only", status=403)


def failed_jobs(settings: Settings, who: Principal, *, kind: str | None = None, limit: int = 50,
                offset: int = 0) -> list[Job]:
    """The dead letters: failed jobs of every organisation, newest first, with their problem (operators only;
    `limit` 1..200)."""
    _operator(who)
    if not 1 <= limit <= MAX_FAILED_PAGE or not 0 <= offset <= 1_000_000:
        raise InputError(f"limit {limit} / offset {offset} is out of range",
                         hint=f"limit 1..{MAX_FAILED_PAGE}, offset 0..1000000", code="job.page")
    with UnitOfWork(settings.database_url) as uow:
        return uow.jobs.failed(kind=kind, limit=limit, offset=offset)


@dataclass(frozen=True)
class QueueLoad:
    """One queue's jobs: waiting and running now, finished in the window; the oldest waiting one's age."""

    queue: str
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    oldest_queued_at: datetime | None = None
    kinds: tuple[str, ...] = ()


#: The window of finished jobs the queue overview counts, in hours (default and most).
LOAD_WINDOW_H = 24
MAX_LOAD_WINDOW_H = 24 * 30


def queue_overview(settings: Settings, who: Principal, window_h: int = LOAD_WINDOW_H) -> list[QueueLoad]:
    """Per queue (`QUEUES`, in order): the jobs waiting and running now and those that succeeded or failed in the
    last `window_h` hours, for the operator's jobs page (operators only)."""
    _operator(who)
    if not 1 <= window_h <= MAX_LOAD_WINDOW_H:
        raise InputError(f"a window of {window_h} h is out of range", hint=f"1..{MAX_LOAD_WINDOW_H} hours",
                         code="job.window")
    with UnitOfWork(settings.database_url) as uow:
        rows = uow.jobs.load(now() - timedelta(hours=window_h))
    acc: dict[str, dict[str, Any]] = {q: {"queue": q, "kinds": set()} for q in QUEUES}
    for kind, status, n, oldest in rows:
        a = acc[queue_of(kind)]
        a["kinds"].add(kind)
        if status in ("queued", "running", "succeeded", "failed"):
            a[status] = a.get(status, 0) + n
        if status == "queued" and oldest is not None:
            a["oldest_queued_at"] = min(oldest, a.get("oldest_queued_at") or oldest)
    return [QueueLoad(**{**a, "kinds": tuple(sorted(a["kinds"]))}) for a in acc.values()]


def running_jobs(settings: Settings, who: Principal, limit: int = 50) -> list[Job]:
    """The jobs running now with their progress, the longest running first (operators only; at most `limit`)."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        return uow.jobs.running(max(1, min(limit, MAX_FAILED_PAGE)))


def retry_job(settings: Settings, who: Principal, job_id: str) -> Job:
    """Run a failed job again (operators only): queued with its parameters, handed to its queue's workers.
    404 for an unknown job, 409 for one that has not failed."""
    _operator(who)
    with UnitOfWork(settings.database_url) as uow:
        row = uow.jobs.get(job_id, None)
        if row is None:
            raise NotFoundError(f"job {job_id!r} not found", code="job.not_found")
        if not uow.jobs.requeue(job_id):
            raise InputError(f"job {job_id} is {row.status}, not failed: only a failed job is retried",
                             hint="wait for it to finish", code="job.not_failed", status=409)
        uow.commit()
        job = uow.jobs.get(job_id, None)
    assert job is not None
    submit(settings, job_id)
    log.info("job %s (%s) retried by user %s", job_id, job.kind, who.user_id)
    return job


def wait(settings: Settings, job_id: str, timeout_s: float = 30.0, poll_s: float = 0.05) -> Job:
    """Poll a job until it is finished (for the CLI and tests); InputError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        with UnitOfWork(settings.database_url) as uow:
            row = uow.jobs.get(job_id, None)
            if row is None:
                raise NotFoundError(f"job {job_id!r} not found", code="job.not_found")
            if row.done:
                return row
        if time.monotonic() > deadline:
            raise InputError(f"job {job_id} did not finish within {timeout_s:.0f} s", code="job.timeout",
                             status=504)
        time.sleep(poll_s)
