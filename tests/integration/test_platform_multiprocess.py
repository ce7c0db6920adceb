"""Two uvicorn API processes and a Celery worker (`fabgrid worker`) against one fresh PostgreSQL database with
Redis as broker: upload on one process, poll the job on the other, the worker runs it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trimesh

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def require_service(name: str, host: str, port: int) -> None:
    """tests/ is not a package: load the root conftest by path to reuse its `require_service`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fabgrid_root_conftest", ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.require_service(name, host, port)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    require_service("Redis", "127.0.0.1", 6379)
    from fabgrid.services.platform import prepare_database

    prepare_database(pg_url)
    env = os.environ | {"FABGRID_DATABASE_URL": pg_url, "FABGRID_DATA_DIR": str(tmp_path),
                        "FABGRID_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                        "FABGRID_BROKER_URL": "redis://127.0.0.1:6379/0",
                        "FABGRID_WORKER_QUEUE": f"fabgrid-test-{uuid.uuid4().hex[:8]}",
                        "FABGRID_INLINE_ANALYSIS_MAX_BYTES": "65536"}
    ports = [_free_port(), _free_port()]
    logs = [open(tmp_path / f"proc{i}.log", "wb") for i in range(3)]  # noqa: SIM115
    procs = [subprocess.Popen([sys.executable, "-m", "uvicorn", "fabgrid.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(p), "--log-level", "warning"],
                              env=env, cwd=ROOT, stdout=logs[i], stderr=subprocess.STDOUT)
             for i, p in enumerate(ports)]
    procs.append(subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "worker", "--concurrency", "1",
                                   "--pool", "solo",
                                   "--loglevel", "info"], env=env, cwd=ROOT, stdout=logs[2],
                                  stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 60
        for p in ports:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{p}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "proc0.log").read_text()[-2000:]
                time.sleep(0.2)
        yield {"urls": [f"http://127.0.0.1:{p}" for p in ports], "worker": procs[2], "db": pg_url,
               "logs": tmp_path}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for f in logs:
            f.close()


def test_upload_on_one_process_poll_on_the_other(cluster: dict[str, object]) -> None:
    a, b = (httpx.Client(base_url=u, timeout=30) for u in cluster["urls"])  # type: ignore[attr-defined]
    creds = {"email": "ada@robotics.example.com", "password": "correct horse battery", "name": "Ada",
             "organisation": "Xiangjiang Robotics"}
    assert a.post("/api/v1/auth/signup", json=creds).status_code == 201
    token = b.post("/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
    h = {"Authorization": f"Bearer {token.json()['access_token']}"}
    stl = trimesh.creation.icosphere(subdivisions=4, radius=20).export(file_type="stl")
    assert len(stl) > 65536  # above the inline threshold: analysed by the worker
    r = a.post("/api/v1/parts", files={"file": ("sphere.stl", stl)}, headers=h)
    assert r.status_code == 202, r.text
    job_id, part_id = r.json()["id"], r.json()["part"]["id"]
    deadline = time.monotonic() + 90
    while True:
        job = b.get(f"/api/v1/jobs/{job_id}", headers=h).json()
        if job["status"] in ("succeeded", "failed"):
            break
        alive = cluster["worker"].poll() is None  # type: ignore[attr-defined]
        assert alive and time.monotonic() < deadline, (job, (cluster["logs"] / "proc2.log").read_text()[-3000:],  # type: ignore[operator]
                                                       (cluster["logs"] / "proc0.log").read_text()[-3000:])  # type: ignore[operator]
        time.sleep(0.25)
    assert job["status"] == "succeeded", job
    part = b.get(f"/api/v1/parts/{part_id}", headers=h).json()
    assert part["status"] == "ready" and part["facts"]["triangles"] == 5_120
    from fabgrid.store.tables import JobRow
    from fabgrid.store.uow import UnitOfWork

    with UnitOfWork(str(cluster["db"])) as uow:  # the worker column is the store's, not the Job record's
        row = uow.session.get(JobRow, job_id)
        assert row is not None and row.worker is not None
        assert row.worker.split(":")[1] == str(cluster["worker"].pid)  # type: ignore[attr-defined]
    q = b.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": 2}, headers=h)
    assert q.status_code == 201, q.text
    o = a.post("/api/v1/orders", json={"quote_id": q.json()["id"], "site": q.json()["offers"][0]["site"]},
               headers=h)
    assert o.status_code == 201 and b.get(f"/api/v1/orders/{o.json()['id']}", headers=h).json()["status"] == \
        "allocated"
    other = {"email": "bo@drones.example.com", "password": "correct horse battery", "name": "Bo",
             "organisation": "Furong Drones"}
    b.post("/api/v1/auth/signup", json=other)
    h2 = {"Authorization": "Bearer " + a.post("/api/v1/auth/token", data={
        "username": other["email"], "password": other["password"]}).json()["access_token"]}
    assert a.get(f"/api/v1/jobs/{job_id}", headers=h2).status_code == 404
    assert b.get(f"/api/v1/parts/{part_id}", headers=h2).status_code == 404
