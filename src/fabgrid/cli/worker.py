"""`fabgrid worker`: run background jobs (part analysis, webhooks, reroutes) from the Celery broker.

Needs FABGRID_BROKER_URL (redis://... or amqp://...) and the same FABGRID_DATABASE_URL, FABGRID_DATA_DIR
and FABGRID_MASTER_KEY as the API processes. Celery is imported inside the command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fabgrid.cli._common import err_console


def worker(
    broker_url: Annotated[str | None, typer.Option("--broker-url", help="default: FABGRID_BROKER_URL")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="jobs run at once")] = 2,
    pool: Annotated[str, typer.Option(help="celery pool: prefork, threads or solo")] = "threads",
    loglevel: Annotated[str, typer.Option(help="celery log level")] = "info",
    sweep_after_s: Annotated[float, typer.Option(help="at start, resend jobs queued longer than this")] = 60.0,
) -> None:
    """Run a Celery worker for fabgrid's background jobs (job state lives in the database)."""
    import os
    from datetime import timedelta

    from fabgrid.config import load_settings
    from fabgrid.errors import InputError
    from fabgrid.services import jobs
    from fabgrid.services._util import now
    from fabgrid.store.uow import UnitOfWork
    from fabgrid.workers import QUEUE, celery_app, install_dispatcher

    if database_url:
        os.environ["FABGRID_DATABASE_URL"] = database_url
    if broker_url:
        os.environ["FABGRID_BROKER_URL"] = broker_url
    settings = load_settings(database_url)
    if not settings.broker_url:
        raise InputError("no broker: the worker needs FABGRID_BROKER_URL or --broker-url",
                         hint="e.g. redis://127.0.0.1:6379/0; without a broker the API runs jobs in-process",
                         code="workers.no_broker")
    if pool not in ("prefork", "threads", "solo"):
        raise InputError(f"--pool {pool!r} is not prefork, threads or solo", code="workers.pool")
    install_dispatcher(settings.broker_url)
    with UnitOfWork(settings.database_url) as uow:
        stale = uow.jobs.queued(now() - timedelta(seconds=sweep_after_s))
    for job_id in stale:
        jobs.submit(settings, job_id)
    err_console.print(f"fabgrid worker: broker {settings.broker_url}, database {settings.database_url}, "
                      f"{concurrency} {pool}; resent {len(stale)} stale jobs")
    celery_app(settings.broker_url).worker_main(["worker", f"--concurrency={concurrency}", f"--pool={pool}",
                                                 f"--loglevel={loglevel}", "-Q", QUEUE, "--without-gossip",
                                                 "--without-mingle", "--without-heartbeat"])


def register(app: typer.Typer) -> None:
    """Add `worker` to the CLI."""
    app.command("worker")(worker)
