"""`fabgrid simulate --workers celery`: a real Celery worker (`fabgrid worker --queues sim`, prefork, on
Redis) runs the sweep's runs as jobs; the document is the one of a local run, apart from wall times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabgrid.services.simulation import SIM_QUEUE
from fabgrid.sim.run import TIMED

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
#: A Redis database of its own, so that no other test's worker serving `sim` on database 0 takes these runs.
REDIS_URL = "redis://127.0.0.1:6379/11"


def _require_redis() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fabgrid_root_conftest", ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.require_service("Redis", "127.0.0.1", 6379)


def _timeless(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _timeless(v) for k, v in doc.items() if k not in TIMED}
    if isinstance(doc, list):
        return [_timeless(v) for v in doc]
    return doc


def same(a: Any, b: Any) -> bool:
    """Equal apart from wall times, NaN equal to NaN (as JSON writes both)."""
    return json.dumps(_timeless(a), sort_keys=True) == json.dumps(_timeless(b), sort_keys=True)


@pytest.fixture
def sim_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[bytes]]:
    _require_redis()
    import redis

    from fabgrid.services import jobs
    from fabgrid.services.platform import migrate_database

    redis.Redis.from_url(REDIS_URL).delete(SIM_QUEUE)  # runs left by an interrupted earlier test
    db = f"sqlite:///{tmp_path / 'fabgrid.db'}"
    migrate_database(db)
    env = {"FABGRID_DATABASE_URL": db, "FABGRID_BROKER_URL": REDIS_URL, "FABGRID_DATA_DIR": str(tmp_path)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "worker", "--queues", SIM_QUEUE,
                             "--concurrency", "2", "--loglevel", "warning"],
                            env=os.environ | env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        jobs.set_dispatcher(None)  # the command routed this process's jobs to Celery
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_celery_workers_give_the_table_of_local_processes(sim_worker: subprocess.Popen[bytes],
                                                          capsys: pytest.CaptureFixture[str],
                                                          sites: tuple[str, ...], tmp_path: Path) -> None:
    from fabgrid.cli import main
    from fabgrid.store.tables import JobRow
    from fabgrid.store.uow import UnitOfWork

    args = ["simulate", "--days", "2", "--seed", "5", "--seeds", "3", "--sites", ",".join(sites[:6]),
            "--scale", "0.04", "--parts", "4", "--fast", "--json"]
    t0 = time.monotonic()
    main([*args, "--workers", "celery"])
    remote = json.loads(capsys.readouterr().out)
    celery_s = time.monotonic() - t0
    assert sim_worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    main([*args, "--workers", "1"])
    local = json.loads(capsys.readouterr().out)
    assert remote["runs"] == 6 and remote["seeds"] == local["seeds"]
    assert same(remote, local), celery_s
    with UnitOfWork(os.environ["FABGRID_DATABASE_URL"]) as uow:
        rows = uow.session.query(JobRow).filter_by(kind="sim.run").all()
        assert len(rows) == 6 and {r.status for r in rows} == {"succeeded"}
        pids = {int(str(r.worker).split(":")[1]) for r in rows}
    assert os.getpid() not in pids  # run by the worker's processes, not here


def test_no_worker_on_the_queue_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   sites: tuple[str, ...]) -> None:
    _require_redis()
    import redis

    from fabgrid.config import Settings
    from fabgrid.errors import InputError
    from fabgrid.services import jobs, simulation
    from fabgrid.workers import install_dispatcher

    url = "redis://127.0.0.1:6379/12"  # no worker serves this database
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'f.db'}", broker_url=url,
                        mqtt_url=None, worker_queue=SIM_QUEUE)
    monkeypatch.setattr(simulation, "CELERY_START_TIMEOUT_S", 1.0)
    install_dispatcher(settings)
    try:
        with pytest.raises(InputError, match="no Celery worker") as exc:
            simulation.simulate(simulation.SimulationOptions(days=1, parts=4, fast=True, scale=0.04,
                                                             sites=",".join(sites[:4]), workers="celery"),
                                settings=settings)
    finally:
        jobs.set_dispatcher(None)
        redis.Redis.from_url(url).delete(SIM_QUEUE)
    assert exc.value.hint is not None and "fabgrid worker --queues sim" in exc.value.hint
