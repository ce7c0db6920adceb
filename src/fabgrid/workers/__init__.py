"""Background execution of long service calls: Celery with Redis or RabbitMQ as broker when
FABGRID_BROKER_URL is set (`fabgrid worker`), else the in-process thread pool of `services.jobs`.

Each job kind has its queue (`services.jobs.QUEUE_OF`: analysis, planning, dispatch, notify, sim), so a
worker can serve some of them (`fabgrid worker --queues analysis,planning`) and a long simulation never
delays an analysis. The broker carries only job ids; the job's parameters, state and result live in the database, so any
number of API processes and workers can share one PostgreSQL. Tasks are acknowledged late and rejected when
their worker process dies, so the broker redelivers them; a redelivered task that finds its job held under a
live lease comes back when that lease would have expired, and then takes the job over (`services.jobs`).
Celery is imported lazily.
"""

from __future__ import annotations

import functools
from typing import Any

from fabgrid.config import Settings
from fabgrid.errors import InputError

TASK_NAME = "fabgrid.run_job"
#: Seconds before Redis hands an unacknowledged task to another worker: longer than the longest job (a
#: value report of 60 days x 10 seeds, the largest allowed, runs well under an hour on one core).
VISIBILITY_TIMEOUT_S = 3 * 3600


@functools.cache
def celery_app(settings: Settings) -> Any:
    """The Celery application of `settings` (its broker and queue; one per process), with the job task
    registered: a job runs with these settings. FABGRID_WORKER_QUEUE (`settings.worker_queue`) separates
    deployments (or test runs) sharing one broker."""
    if not settings.broker_url:
        raise InputError("no broker: Celery needs FABGRID_BROKER_URL", code="workers.no_broker")
    try:
        from celery import Celery
    except ImportError:
        raise InputError("FABGRID_BROKER_URL is set but Celery is not installed",
                         hint="pip install 'fabgrid[workers]'", code="workers.celery") from None
    app = Celery("fabgrid", broker=settings.broker_url, set_as_current=False)
    from fabgrid.services.jobs import DEFAULT_QUEUE, celery_queue

    # the visibility timeout (Redis) must outlast the longest task, else the broker hands a running task to a
    # second worker; the job's lease in the database makes such a second delivery harmless anyway
    app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                    task_ignore_result=True, task_default_queue=celery_queue(settings, DEFAULT_QUEUE),
                    broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
                    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S})

    @app.task(name=TASK_NAME, bind=True, max_retries=None, acks_late=True,  # type: ignore[untyped-decorator]
              reject_on_worker_lost=True)
    def run(task: Any, job_id: str) -> str:
        from fabgrid.services.jobs import run_job

        status = run_job(settings, job_id)
        if status == "running":  # another claim holds it: alive (it finishes) or dead (its lease runs out)
            from fabgrid.services.jobs import job_queue

            raise task.retry(countdown=settings.job_lease_s, queue=job_queue(settings, job_id))
        return status

    from celery.signals import worker_ready

    @worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def sweep(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is app:  # a worker of this app, not the API process's client
            from fabgrid.services.jobs import start_sweeper

            start_sweeper(settings)  # jobs of workers that died (lease expired) are taken over meanwhile

    return app


def install_dispatcher(settings: Settings) -> None:
    """Send jobs of this process to the Celery broker of `settings`, each to the queue of its kind."""
    from fabgrid.services import jobs

    app = celery_app(settings)

    def dispatch(_settings: Settings, job_id: str, delay_s: float) -> None:
        app.send_task(TASK_NAME, args=[job_id], countdown=delay_s if delay_s > 0 else None,
                      queue=jobs.job_queue(settings, job_id))

    jobs.set_dispatcher(dispatch)
