"""`fabgrid worker`: run background jobs (part analysis, webhooks, reroutes, simulation runs) from the
Celery broker, from the queues given with `--queues` (default: FABGRID_WORKER_QUEUE).

Needs FABGRID_BROKER_URL (redis://... or amqp://...) and the same FABGRID_DATABASE_URL, FABGRID_DATA_DIR,
FABGRID_MASTER_KEY and FABGRID_WORKER_QUEUE as the API processes. Calls services.jobs and starts the Celery
worker of fabgrid.workers (imported inside the command); never the store.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from fabgrid.cli._common import err_console

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def parse_queues(raw: str | None, default: str) -> list[str]:
    """The queue names of `--queues` (comma-separated, each 1-200 letters, digits, ``_ . : -``), in order
    and without repeats; `default` when none is given."""
    from fabgrid.errors import InputError

    if raw is None or not raw.strip():
        return [default]
    names = [q.strip() for q in raw.split(",")]
    bad = [q for q in names if not _QUEUE_NAME.fullmatch(q)]
    if bad:
        raise InputError(f"--queues: {', '.join(repr(q) for q in bad)} is not a queue name",
                         hint="give names of 1-200 letters, digits, _ . : - separated by commas, e.g. "
                              "--queues analysis,planning", code="workers.queues")
    return list(dict.fromkeys(names))


def worker(
    broker_url: Annotated[str | None, typer.Option("--broker-url", help="default: FABGRID_BROKER_URL")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="jobs run at once")] = 2,
    pool: Annotated[str | None, typer.Option(
        help="celery pool: prefork, threads or solo (default: prefork when serving sim, else threads)")] = None,
    queues: Annotated[str | None, typer.Option(
        "--queues", help="comma-separated Celery queues to serve, e.g. analysis,planning or sim (simulation "
        "runs of `fabgrid simulate --workers celery`); default: FABGRID_WORKER_QUEUE")] = None,
    loglevel: Annotated[str, typer.Option(help="celery log level")] = "info",
    sweep_after_s: Annotated[float, typer.Option(help="at start, resend jobs queued longer than this")] = 60.0,
) -> None:
    """Run a Celery worker for fabgrid's background jobs (job state lives in the database)."""
    from dataclasses import replace

    from fabgrid.config import load_settings
    from fabgrid.errors import InputError
    from fabgrid.services import jobs
    from fabgrid.services.simulation import SIM_QUEUE
    from fabgrid.workers import celery_app, install_dispatcher

    settings = load_settings(database_url)
    if broker_url:
        settings = replace(settings, broker_url=broker_url)
    if not settings.broker_url:
        raise InputError("no broker: the worker needs FABGRID_BROKER_URL or --broker-url",
                         hint="e.g. redis://127.0.0.1:6379/0; without a broker the API runs jobs in-process",
                         code="workers.no_broker")
    served = parse_queues(queues, settings.worker_queue)
    if pool is None:  # simulation runs are CPU-bound Python: threads would share one core (the GIL)
        pool = "prefork" if SIM_QUEUE in served else "threads"
    if pool not in ("prefork", "threads", "solo"):
        raise InputError(f"--pool {pool!r} is not prefork, threads or solo", code="workers.pool")
    install_dispatcher(settings)  # the jobs run with these settings (the Celery app holds them)
    resent = jobs.resubmit_stale(settings, sweep_after_s)
    err_console.print(f"fabgrid worker: broker {settings.broker_url}, database {settings.database_url}, "
                      f"queues {','.join(served)}, {concurrency} {pool}; resent {resent} stale jobs")
    celery_app(settings).worker_main(["worker", f"--concurrency={concurrency}", f"--pool={pool}",
                                      f"--loglevel={loglevel}", "-Q", ",".join(served), "--without-gossip",
                                      "--without-mingle", "--without-heartbeat"])


def register(app: typer.Typer) -> None:
    """Add `worker` to the CLI."""
    app.command("worker")(worker)
