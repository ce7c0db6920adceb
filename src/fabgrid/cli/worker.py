"""`fabgrid worker`: run background jobs (part analysis, webhooks, reroutes, simulation runs) from the
Celery broker, from the queues given with `--queues` (analysis, planning, dispatch, notify, sim; default: all).

Needs FABGRID_BROKER_URL (redis://... or amqp://...) and the same FABGRID_DATABASE_URL, FABGRID_DATA_DIR,
FABGRID_MASTER_KEY and FABGRID_WORKER_QUEUE as the API processes. Calls services.jobs and starts the Celery
worker of fabgrid.workers (imported inside the command); never the store.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fabgrid.cli._common import err_console


def parse_queues(raw: str | None) -> list[str]:
    """The queues of `--queues` (comma-separated names of `services.jobs.QUEUES`), in order and without
    repeats; all of them when none is given."""
    from fabgrid.errors import InputError
    from fabgrid.services.jobs import QUEUES

    if raw is None or not raw.strip():
        return list(QUEUES)
    names = [q.strip() for q in raw.split(",")]
    bad = [q for q in names if q not in QUEUES]
    if bad:
        raise InputError(f"--queues: {', '.join(repr(q) for q in bad)} is not a fabgrid queue",
                         hint=f"give some of {', '.join(QUEUES)} separated by commas, e.g. "
                              "--queues analysis,planning", code="workers.queues")
    return list(dict.fromkeys(names))


def worker(
    broker_url: Annotated[str | None, typer.Option("--broker-url", help="default: FABGRID_BROKER_URL")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="default: FABGRID_DATABASE_URL")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="jobs run at once")] = 2,
    pool: Annotated[str | None, typer.Option(
        help="celery pool: prefork, threads or solo (default: prefork when serving sim, else threads)")] = None,
    queues: Annotated[str | None, typer.Option(
        "--queues", help="comma-separated queues to serve: analysis (part analysis), planning (allocation, "
        "re-allocation), dispatch (builds sent to printers), notify (e-mail, webhooks), sim (simulation runs, "
        "value reports); default: all")] = None,
    loglevel: Annotated[str, typer.Option(help="celery log level")] = "info",
    sweep_after_s: Annotated[float, typer.Option(help="at start, resend jobs queued longer than this")] = 60.0,
) -> None:
    """Run a Celery worker for fabgrid's background jobs (job state lives in the database)."""
    from dataclasses import replace

    from fabgrid.config import load_settings
    from fabgrid.errors import InputError
    from fabgrid.services import jobs
    from fabgrid.services.jobs import celery_queue
    from fabgrid.services.simulation import SIM_QUEUE
    from fabgrid.workers import celery_app, install_dispatcher

    settings = load_settings(database_url)
    if broker_url:
        settings = replace(settings, broker_url=broker_url)
    if not settings.broker_url:
        raise InputError("no broker: the worker needs FABGRID_BROKER_URL or --broker-url",
                         hint="e.g. redis://127.0.0.1:6379/0; without a broker the API runs jobs in-process",
                         code="workers.no_broker")
    served = parse_queues(queues)
    if pool is None:  # simulation runs are CPU-bound Python: threads would share one core (the GIL)
        pool = "prefork" if SIM_QUEUE in served else "threads"
    if pool not in ("prefork", "threads", "solo"):
        raise InputError(f"--pool {pool!r} is not prefork, threads or solo", code="workers.pool")
    install_dispatcher(settings)  # the jobs run with these settings (the Celery app holds them)
    resent = jobs.resubmit_stale(settings, sweep_after_s)
    err_console.print(f"fabgrid worker: broker {settings.broker_url}, database {settings.database_url}, "
                      f"queues {','.join(served)}, {concurrency} {pool}; resent {resent} stale jobs")
    names = ",".join(celery_queue(settings, q) for q in served)
    celery_app(settings).worker_main(["worker", f"--concurrency={concurrency}", f"--pool={pool}",
                                      f"--loglevel={loglevel}", "-Q", names, "--without-gossip",
                                      "--without-mingle", "--without-heartbeat"])


def register(app: typer.Typer) -> None:
    """Add `worker` to the CLI."""
    app.command("worker")(worker)
