"""Background jobs: one claim wins, results and problems are stored, retries are rescheduled, the in-process
pool runs submitted jobs, and the Celery dispatcher sends job ids to the broker."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fabgrid.config import Settings
from fabgrid.errors import InputError
from fabgrid.services import jobs
from fabgrid.store.db import upgrade
from fabgrid.store.uow import UnitOfWork

calls: list[dict[str, Any]] = []


@jobs.register("test_echo")
def _echo(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    calls.append(params)
    if params.get("bad"):
        raise InputError("bad params", hint="fix them", code="test.bad", status=422)
    if params.get("crash"):
        raise RuntimeError("boom")
    if params.get("flaky") and sum(1 for c in calls if c.get("flaky")) < 3:
        raise jobs.RetryLater("not yet", 0.05, max_attempts=5)
    return {"echo": params}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", broker_url=None,
                 mqtt_url=None)
    upgrade(s.database_url)
    calls.clear()
    return s


def _job(settings: Settings, **params: Any) -> str:
    with UnitOfWork(settings.database_url) as uow:
        row = jobs.enqueue(uow, "test_echo", params, organisation_id=None, user_id=None)
        uow.commit()
        return row.id


def test_claimed_once_even_when_run_concurrently(settings: Settings) -> None:
    jid = _job(settings, n=1)
    out: list[str] = []
    threads = [threading.Thread(target=lambda: out.append(jobs.run_job(settings, jid))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and out.count("succeeded") >= 1
    done = jobs.wait(settings, jid, 5)
    assert done.status == "succeeded" and done.result == {"echo": {"n": 1}} and done.attempts == 1
    assert jobs.run_job(settings, jid) == "succeeded" and len(calls) == 1
    assert jobs.run_job(settings, "job_missing") == "missing"


def test_problems_are_stored(settings: Settings) -> None:
    bad, crash = _job(settings, bad=True), _job(settings, crash=True)
    assert jobs.run_job(settings, bad) == "failed" and jobs.run_job(settings, crash) == "failed"
    p = jobs.wait(settings, bad, 1).problem or {}
    assert p["status"] == 422 and p["title"] == "test.bad" and p["hint"] == "fix them"
    p = jobs.wait(settings, crash, 1).problem or {}
    assert p["status"] == 500 and "RuntimeError" in p["detail"] and "boom" not in p["detail"]


def test_retries_through_the_in_process_pool(settings: Settings) -> None:
    jid = _job(settings, flaky=True)
    jobs.submit(settings, jid)
    done = jobs.wait(settings, jid, 20)
    assert done.status == "succeeded" and done.attempts == 3 and len(calls) == 3


def _kind_job(settings: Settings, kind: str) -> str:
    with UnitOfWork(settings.database_url) as uow:
        row = jobs.enqueue(uow, kind, {}, organisation_id=None, user_id=None)
        uow.commit()
        return row.id


def test_celery_dispatcher_sends_each_kind_to_its_queue(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from fabgrid import workers

    sent: list[tuple[str, Any, Any, Any]] = []
    celery = replace(settings, broker_url="memory://", worker_queue="fabgrid-test")
    app = workers.celery_app(celery)
    monkeypatch.setattr(app, "send_task", lambda name, args, countdown, queue: sent.append((name, args, countdown,
                                                                                          queue)))
    workers.install_dispatcher(celery)
    echo, part, sim, mail = (_kind_job(settings, k) for k in ("test_echo", "analyze_part", "sim.run", "email"))
    try:
        jobs.submit(settings, echo, 2.5)
        jobs.submit(settings, part)
        jobs.submit(settings, sim)
        jobs.submit(settings, mail)
    finally:
        jobs.set_dispatcher(None)
    assert sent == [(workers.TASK_NAME, [echo], 2.5, "fabgrid-test.planning"),
                    (workers.TASK_NAME, [part], None, "fabgrid-test.analysis"),
                    (workers.TASK_NAME, [sim], None, "fabgrid-test.sim"),
                    (workers.TASK_NAME, [mail], None, "fabgrid-test.notify")]
    assert workers.TASK_NAME in app.tasks
    # under the default FABGRID_WORKER_QUEUE the queues have their plain names (`fabgrid worker --queues sim`)
    assert jobs.celery_queue(settings, "sim") == "sim" and jobs.job_queue(settings, part) == "analysis"
    assert set(jobs.QUEUE_OF.values()) <= set(jobs.QUEUES)


@pytest.mark.integration
def test_jobs_wait_in_their_own_queue_on_a_real_broker(settings: Settings) -> None:
    """Against Redis: an analysis and a simulation run land in two lists, so a worker of `analysis` never
    sees the simulation (and a long simulation never delays an analysis)."""
    import socket
    import uuid

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import redis

    from fabgrid import workers

    ns = f"test-queues-{uuid.uuid4().hex[:8]}"
    celery = replace(settings, broker_url="redis://127.0.0.1:6379/0", worker_queue=ns)
    workers.install_dispatcher(celery)
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        part, sim = _kind_job(settings, "analyze_part"), _kind_job(settings, "sim.run")
        jobs.submit(celery, part)
        jobs.submit(celery, sim)
        assert r.llen(f"{ns}.analysis") == 1 and r.llen(f"{ns}.sim") == 1 and r.llen(f"{ns}.planning") == 0
        assert part.encode() in r.lindex(f"{ns}.analysis", 0)  # type: ignore[operator]
    finally:
        jobs.set_dispatcher(None)
        r.delete(*(f"{ns}.{q}" for q in jobs.QUEUES))
        workers.celery_app.cache_clear()


def test_a_job_whose_worker_died_runs_again(settings: Settings) -> None:
    from datetime import timedelta

    from fabgrid.services._util import now
    from fabgrid.store.tables import JobRow

    jid = _job(settings, n=2)
    with UnitOfWork(settings.database_url) as uow:
        row = uow.session.get(JobRow, jid)
        assert row is not None
        row.status, row.started_at = "running", now() - timedelta(seconds=60)
        uow.commit()
    assert jobs.run_job(settings, jid) == "running" and calls == []  # still within its time: left alone
    with UnitOfWork(settings.database_url) as uow:
        row = uow.session.get(JobRow, jid)
        assert row is not None
        row.started_at = now() - timedelta(seconds=jobs.STALE_RUNNING_S + 60)
        uow.commit()
    assert jobs.run_job(settings, jid) == "succeeded" and len(calls) == 1


def test_a_bare_worker_knows_every_kind_of_job() -> None:
    """A worker process that imported nothing but services.jobs finds the handler of every kind that has a queue
    (a dispatched build's follow-up was missing: its module was not among HANDLER_MODULES)."""
    import subprocess
    import sys

    code = ("from fabgrid.services import jobs\n"
            "missing = [k for k in jobs.QUEUE_OF if not callable(jobs._handler(k))]\n"
            "print(sorted(jobs.HANDLERS))\n"
            "assert not missing, missing\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    for kind in jobs.QUEUE_OF:
        assert repr(kind) in out.stdout, (kind, out.stdout)
