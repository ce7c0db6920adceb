"""bench/api_scale: quotes per second of a 100,352-triangle part with 1, 2 and 4 web processes on PostgreSQL.

For each count W: a fresh PostgreSQL database with the shipped network, `uvicorn --workers W` on loopback, a
Celery worker (`fabgrid worker --queues analysis`, Redis) for the part's analysis, then 10 concurrent clients
send 100 quotes with distinct quantities (none answered from the stored-quote cache). Reported: quotes/s, p50
and p99, and the throughput against W = 1 measured in the same run (the reference). On this 2-core machine the
expected ceiling is about 2x (one core per process); the capacity model (docs/capacity.md) extrapolates.
Needs PostgreSQL (127.0.0.1:5432) and Redis (6379). Usage: python -m bench api_scale [--quick] (W = 1, 2)
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.api import ROOT, _percentile, _port, _sphere_stl, _up, _wait_http, upload_and_wait

PG_ADMIN = os.environ.get("FABGRID_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CLIENTS = 10
QUOTES = 100


def _run(workers: int, stl: bytes, tmp: Path) -> dict[str, float]:
    import httpx
    from sqlalchemy import create_engine, text

    from fabgrid.services.jobs import QUEUES
    from fabgrid.services.platform import prepare_database

    name = f"fabgrid_bench_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    ns = f"fabgrid-bench-scale-{uuid.uuid4().hex[:8]}"
    env = os.environ | {"FABGRID_DATABASE_URL": db, "FABGRID_DATA_DIR": str(tmp),
                        "FABGRID_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                        "FABGRID_BROKER_URL": "redis://127.0.0.1:6379/0", "FABGRID_WORKER_QUEUE": ns,
                        "FABGRID_RATE_LIMITS": "upload=1000/60,quote=100000/60", "FABGRID_EMBEDDED_FLEET": "0"}
    procs: list[subprocess.Popen[bytes]] = []
    log = open(tmp / f"scale-{workers}.log", "wb")  # noqa: SIM115
    try:
        prepare_database(db)
        port = _port()
        url = f"http://127.0.0.1:{port}"
        procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "fabgrid.app:create_app", "--factory",
                                       "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                                       "--log-level", "warning"], env=env, cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "worker", "--queues", "analysis",
                                       "--concurrency", "1", "--pool", "solo", "--loglevel", "warning"], env=env,
                                      cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        _wait_http(url)
        c = httpx.Client(base_url=url, timeout=120)
        creds = {"email": "scale@bench.example.com", "password": "bench password 123", "name": "Bench",
                 "organisation": "Bench Co"}
        c.post("/api/v1/auth/signup", json=creds).raise_for_status()
        tok = c.post("/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
        h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        part_id = upload_and_wait(c, h, stl)

        def one(qty: int) -> float:
            t0 = time.perf_counter()
            resp = c.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": qty,
                                                  "destination": "Changsha"}, headers=h)
            if resp.status_code not in (200, 201):
                raise RuntimeError(f"quote {qty}: {resp.status_code} {resp.text[:200]}")
            return time.perf_counter() - t0

        with ThreadPoolExecutor(CLIENTS) as pool:  # warm-up: each process prepares the part once
            list(pool.map(one, range(5000, 5000 + 4 * workers)))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            lat = list(pool.map(one, range(1, QUOTES + 1)))
        elapsed = time.perf_counter() - t0
        return {"rate": QUOTES / elapsed, "p50": statistics.median(lat), "p99": _percentile(lat, 0.99)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(*(f"{ns}.{q}" for q in QUEUES))
        from fabgrid.store.db import get_engine

        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str]) -> int:
    if not (_up("127.0.0.1", 5432) and _up("127.0.0.1", 6379)):
        print("skipped: needs PostgreSQL on 127.0.0.1:5432 and Redis on 6379")
        return 0
    counts = (1, 2) if "--quick" in argv else (1, 2, 4)
    tmp = Path(tempfile.mkdtemp(prefix="fabgrid-bench-scale-"))
    stl, tris = _sphere_stl(159, 159)
    results = {w: _run(w, stl, tmp) for w in counts}
    base = results[1]["rate"]
    print(f"data set: UV sphere, {tris:,} triangles; {CLIENTS} clients, {QUOTES} quotes with distinct quantities "
          f"per run; PostgreSQL, Celery over Redis; reference: 1 web process in the same run")
    print(f"{'web processes':<16} {'quotes/s':>10} {'p50 s':>8} {'p99 s':>8} {'vs 1 process':>14}")
    for w, r in results.items():
        print(f"{w:<16} {r['rate']:>10.1f} {r['p50']:>8.3f} {r['p99']:>8.3f} {r['rate'] / base:>13.2f}x")
    print(f"(machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end)")
    return 0
