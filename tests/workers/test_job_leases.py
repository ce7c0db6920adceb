"""Issue 16, item 4: job claims survive a dying worker. The claim is a lease renewed while the job runs; a job
whose lease expired is taken over (a redelivered task, the sweep, a start-up), only the holder writes the outcome,
and a job that kills its worker again and again fails. Claim logic on SQLite and PostgreSQL; real Celery workers
on Redis killed with SIGKILL (a prefork child mid-task, and a whole threads-pool worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import slow_jobs  # noqa: F401  (registers test_slow in this process as well)

from fabgrid.config import Settings
from fabgrid.services import jobs
from fabgrid.services._util import now
from fabgrid.store.db import upgrade
from fabgrid.store.tables import JobRow
from fabgrid.store.uow import UnitOfWork

HERE = Path(__file__).resolve().parent


def _settings(tmp_path: Path, url: str, **kw: Any) -> Settings:
    s = Settings(data_dir=tmp_path, database_url=url, broker_url=None, mqtt_url=None, **kw)
    upgrade(s.database_url)
    return s


def _job(settings: Settings, kind: str = "test_slow", **params: Any) -> str:
    with UnitOfWork(settings.database_url) as uow:
        row = jobs.enqueue(uow, kind, params, organisation_id=None, user_id=None)
        uow.commit()
        return row.id


def _row(settings: Settings, job_id: str) -> SimpleNamespace:
    """The job's columns, read in one transaction."""
    with UnitOfWork(settings.database_url) as uow:
        row = uow.session.get(JobRow, job_id)
        assert row is not None
        return SimpleNamespace(**{c.key: getattr(row, c.key) for c in JobRow.__table__.columns})


def _set(settings: Settings, job_id: str, **values: Any) -> None:
    with UnitOfWork(settings.database_url) as uow:
        row = uow.session.get(JobRow, job_id)
        assert row is not None
        for k, v in values.items():
            setattr(row, k, v)
        uow.commit()


def test_a_live_lease_is_respected_and_an_expired_one_taken_over(tmp_path: Path, db_url: str) -> None:
    s = _settings(tmp_path, db_url)
    log = tmp_path / "runs.log"
    jid = _job(s, log=str(log), sleep_s=0)
    t = now()
    with UnitOfWork(s.database_url) as uow:  # a worker claimed it ...
        assert uow.jobs.claim(jid, "dead-worker", t, t + timedelta(seconds=60))
        assert not uow.jobs.claim(jid, "other", t, t + timedelta(seconds=60))  # one claim wins
        uow.commit()
    assert jobs.run_job(s, jid) == "running" and not log.exists()  # ... and its lease is live: left alone
    _set(s, jid, lease_until=now() - timedelta(seconds=1))  # ... then it died: nobody renewed the lease
    assert jobs.run_job(s, jid) == "succeeded" and log.read_text().count("start") == 1
    row = _row(s, jid)
    assert row.lost_runs == 1 and row.attempts == 2 and row.lease_until is None and row.worker != "dead-worker"


def test_only_the_holder_writes_the_outcome(tmp_path: Path, db_url: str) -> None:
    s = _settings(tmp_path, db_url)
    jid = _job(s, log=str(tmp_path / "x.log"), sleep_s=0)
    t = now()
    with UnitOfWork(s.database_url) as uow:
        assert uow.jobs.claim(jid, "slow-worker", t, t - timedelta(seconds=1))  # its lease ran out while it ran
        assert uow.jobs.claim(jid, "new-worker", t, t + timedelta(seconds=60))  # and another took over
        assert not uow.jobs.finish(jid, "slow-worker", {"status": "failed", "finished_at": t})
        assert not uow.jobs.renew(jid, "slow-worker", t + timedelta(seconds=60))
        assert uow.jobs.renew(jid, "new-worker", t + timedelta(seconds=90))
        assert uow.jobs.finish(jid, "new-worker", {"status": "succeeded", "finished_at": t})
        uow.commit()
    assert _row(s, jid).status == "succeeded"


def test_the_lease_is_renewed_while_a_long_job_runs(tmp_path: Path, sqlite_url: str) -> None:
    s = _settings(tmp_path, sqlite_url, job_lease_s=2.0)
    log = tmp_path / "runs.log"
    jid = _job(s, log=str(log), sleep_s=3.5)  # longer than the lease: only renewals keep it
    import threading

    runner = threading.Thread(target=jobs.run_job, args=(s, jid))
    runner.start()
    time.sleep(2.8)
    assert jobs.run_job(s, jid) == "running"  # past the first lease, but renewed: not taken over
    runner.join(10)
    row = _row(s, jid)
    assert row.status == "succeeded" and row.lost_runs == 0 and log.read_text().count("start") == 1


def test_start_up_resumes_lost_jobs_and_fails_a_job_that_keeps_killing_workers(tmp_path: Path, db_url: str) -> None:
    s = _settings(tmp_path, db_url)
    log = tmp_path / "runs.log"
    resumed, poison = _job(s, log=str(log), sleep_s=0), _job(s, log=str(log), sleep_s=0)
    gone = now() - timedelta(seconds=5)
    _set(s, resumed, status="running", worker="dead", started_at=gone, lease_until=gone)
    _set(s, poison, status="running", worker="dead", started_at=gone, lease_until=gone,
         lost_runs=jobs.MAX_LOST_RUNS - 1)
    assert jobs.resubmit_stale(s, 60) == 2  # one resubmitted (in-process pool), one failed
    assert jobs.wait(s, resumed, 10).status == "succeeded"
    p = jobs.wait(s, poison, 1).problem or {}
    assert p["title"] == "job.worker_lost" and "3 times" in p["detail"]
    assert log.read_text().count("start") == 1


# --- real Celery workers on Redis ------------------------------------------------------------------------------


def _celery_settings(tmp_path: Path, pg_url: str) -> Settings:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return _settings(tmp_path, pg_url, job_lease_s=3.0, worker_queue=f"test-lease-{uuid.uuid4().hex[:8]}")


def _start_worker(s: Settings, pool: str) -> subprocess.Popen[bytes]:
    from fabgrid.config import settings_environ

    env = {**os.environ, **settings_environ(s), "FABGRID_BROKER_URL": "redis://127.0.0.1:6379/0",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(HERE / "slow_jobs.py"), "worker", "--pool", pool,
                             "--concurrency", "1", "--loglevel", "warning", "--sweep-after-s", "60"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(pred: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its children (its own session)
        proc.wait(10)


@pytest.mark.integration
def test_prefork_child_killed_mid_task_the_redelivered_task_takes_the_job_over(tmp_path: Path, pg_url: str) -> None:
    from fabgrid import workers

    s = _celery_settings(tmp_path, pg_url)
    log = tmp_path / "runs.log"
    worker = _start_worker(s, "prefork")
    try:
        celery = replace(s, broker_url="redis://127.0.0.1:6379/0")
        workers.install_dispatcher(celery)
        jid = _job(s, log=str(log), sleep_s=4)
        jobs.submit(celery, jid)
        _wait_for(lambda: log.exists() and "start" in log.read_text(), 60, "the first run to start")
        child = int(log.read_text().split()[1])
        assert child != worker.pid
        os.kill(child, signal.SIGKILL)  # the prefork child dies mid-task; the parent lives on
        t_kill = time.monotonic()
        _wait_for(lambda: _row(s, jid).status in jobs.TERMINAL, 60, "the job to finish")
        took = time.monotonic() - t_kill
    finally:
        jobs.set_dispatcher(None)
        _stop(worker)
    row = _row(s, jid)
    runs = log.read_text().split("\n")
    print(f"prefork child killed: job {row.status} {took:.1f} s after the kill, runs {runs}, "
          f"lost_runs {row.lost_runs}, attempts {row.attempts}")
    assert row.status == "succeeded" and row.lost_runs == 1
    assert sum(r.startswith("start") for r in runs) == 2 and sum(r.startswith("finish") for r in runs) == 1
    assert row.result is not None and row.result["pid"] != child


@pytest.mark.integration
def test_whole_worker_killed_the_next_worker_resumes_the_job(tmp_path: Path, pg_url: str) -> None:
    from fabgrid import workers

    s = _celery_settings(tmp_path, pg_url)
    log = tmp_path / "runs.log"
    first = _start_worker(s, "threads")
    second = None
    try:
        celery = replace(s, broker_url="redis://127.0.0.1:6379/0")
        workers.install_dispatcher(celery)
        jid = _job(s, log=str(log), sleep_s=2)
        jobs.submit(celery, jid)
        _wait_for(lambda: log.exists() and "start" in log.read_text(), 60, "the first run to start")
        _stop(first)  # SIGKILL of the worker: its message stays unacknowledged at Redis for an hour
        time.sleep(s.job_lease_s + 0.5)  # the lease runs out
        second = _start_worker(s, "threads")  # its start-up sweep resubmits the lost job
        _wait_for(lambda: _row(s, jid).status in jobs.TERMINAL, 60, "the job to finish")
    finally:
        jobs.set_dispatcher(None)
        _stop(first)
        if second is not None:
            _stop(second)
    row = _row(s, jid)
    assert row.status == "succeeded" and row.lost_runs == 1
    assert log.read_text().count("start") == 2 and log.read_text().count("finish") == 1
