"""The deployment of deploy/Procfile, run: 2 web processes, 2 workers on separate queues (analysis; planning,
dispatch) and 2 ingest processes on the MQTT 5 shared subscription, against one fresh PostgreSQL, Redis as the
Celery broker and a private Mosquitto, with a site's simulated fleet publishing. Mid-load the analysis worker
and one ingest are killed with SIGKILL and started again (as their supervisor would): every accepted upload
gets its analysis, every order its allocation, every message its row, exactly once."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trimesh

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SITE = "cs-jingkai-01"


def _root_conftest() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fabgrid_root_conftest_deploy", ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _deploy_files() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fabgrid_deploy_files", ROOT / "tests" / "test_deploy_files.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """The Procfile's processes, each startable, killable and restartable by name."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        files = _deploy_files()
        self.commands = files.procfile()
        self.expand = files.expand
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, ptype: str, n: int, **extra: str) -> subprocess.Popen[bytes]:
        name = f"{ptype}.{n}"
        env = {**self.env, "PS": name, "HOSTNAME": "node1", **extra}
        argv = self.expand(self.commands[ptype], env)
        assert argv[0] == "fabgrid"
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "fabgrid.cli", *argv[1:]], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)  # the process and its children, no clean shutdown
        proc.wait(10)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture
def mosquitto() -> Iterator[str]:
    import shutil

    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    port = _free_port()
    conf = Path(tempfile.mkdtemp(prefix="fabgrid-deploy-mqtt-")) / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n", encoding="utf-8")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def cluster(pg_url: str, mosquitto: str, tmp_path: Path) -> Iterator[tuple[Cluster, list[str]]]:
    _root_conftest().require_service("Redis", "127.0.0.1", 6379)
    from fabgrid.services.platform import prepare_database

    prepare_database(pg_url)  # `fabgrid db upgrade`: schema and the shipped network
    ns = f"fabgrid-deploy-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "FABGRID_DATABASE_URL": pg_url, "FABGRID_DATA_DIR": str(tmp_path),
           "FABGRID_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
           "FABGRID_BROKER_URL": "redis://127.0.0.1:6379/0", "FABGRID_WORKER_QUEUE": ns,
           "FABGRID_MQTT_URL": mosquitto, "FABGRID_INLINE_ANALYSIS_MAX_BYTES": "65536",
           "FABGRID_JOB_LEASE_S": "6", "FABGRID_RATE_LIMITS": "upload=200/60,quote=200/60",
           "PYTHONUNBUFFERED": "1"}
    c = Cluster(env, tmp_path)
    ports = [_free_port(), _free_port()]
    try:
        for i, port in enumerate(ports, 1):
            c.start("web", i, PORT=str(port))
        c.start("worker_analysis", 1)
        c.start("worker_planning", 1)
        c.start("ingest", 1)
        c.start("ingest", 2)
        deadline = time.monotonic() + 90
        for i, port in enumerate(ports, 1):
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, c.log(f"web.{i}")
                time.sleep(0.2)
        yield c, [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        c.stop_all()
        import redis

        from fabgrid.services.jobs import QUEUES

        redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(*(f"{ns}.{q}" for q in QUEUES))


def _login(client: httpx.Client, i: int) -> dict[str, str]:
    creds = {"email": f"buyer{i}@startup{i}.example.com", "password": "correct horse battery staple",
             "name": f"Buyer {i}", "organisation": f"Startup {i}"}
    assert client.post("/api/v1/auth/signup", json=creds).status_code == 201
    tok = client.post("/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
    return {"Authorization": f"Bearer {tok.json()['access_token']}"}


def _rows(pg_url: str, sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import create_engine, text

    eng = create_engine(pg_url)
    try:
        with eng.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]
    finally:
        eng.dispose()


def test_the_procfile_deployment_survives_a_killed_worker_and_ingest(cluster: tuple[Cluster, list[str]],
                                                                      pg_url: str) -> None:
    c, urls = cluster
    webs = [httpx.Client(base_url=u, timeout=60) for u in urls]
    heads = [_login(webs[i % 2], i) for i in range(2)]
    n_msgs = 4000
    fleet = subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "fleet", "--site", SITE, "--mqtt",
                              c.env["FABGRID_MQTT_URL"], "--rate", "400", "--count", str(n_msgs), "--seed", "3",
                              "--json"], env=c.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    uploads: list[tuple[int, str, str]] = []  # (buyer, job, part)
    for k in range(8):  # each above the inline limit: analysed by the analysis worker
        mesh = trimesh.creation.icosphere(subdivisions=4, radius=12 + k)
        r = webs[k % 2].post("/api/v1/parts", files={"file": (f"sphere{k}.stl", mesh.export(file_type="stl"))},
                             headers=heads[k % 2])
        assert r.status_code == 202, r.text
        uploads.append((k % 2, r.json()["id"], r.json()["part"]["id"]))
        if k == 3:  # mid-load: the analysis worker and one ingest die without warning, then come back
            time.sleep(1.0)
            c.kill("worker_analysis.1")
            c.kill("ingest.2")
            time.sleep(1.0)
            c.start("worker_analysis", 1)
            c.start("ingest", 2)
    deadline = time.monotonic() + 240
    for buyer, job_id, _part in uploads:
        while True:
            job = webs[1 - buyer].get(f"/api/v1/jobs/{job_id}", headers=heads[buyer]).json()
            if job["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, (job, c.log("worker_analysis.1"))
            time.sleep(0.5)
        assert job["status"] == "succeeded", job
    orders = []
    for buyer, _job, part in uploads:
        web = webs[buyer]
        q = web.post("/api/v1/quotes", json={"part_id": part, "material": "fdm_pla", "quantity": 3},
                     headers=heads[buyer])
        assert q.status_code == 201, q.text
        o = web.post("/api/v1/orders", json={"quote_id": q.json()["id"], "site": q.json()["offers"][0]["site"]},
                     headers=heads[buyer])
        assert o.status_code == 201, o.text
        orders.append((buyer, o.json()["id"]))
    for buyer, oid in orders:
        assert webs[1 - buyer].get(f"/api/v1/orders/{oid}", headers=heads[buyer]).json()["status"] == "allocated"
    fleet.communicate(timeout=120)
    assert fleet.returncode == 0
    deadline = time.monotonic() + 120
    while True:  # every message of the fleet has its row (the two ingests split them)
        stored = _rows(pg_url, "SELECT count(*), count(DISTINCT message_id) FROM machine_events")[0]
        if stored[1] >= n_msgs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    jobs = _rows(pg_url, "SELECT id, status, attempts, lost_runs FROM jobs WHERE kind = 'analyze_part'")
    reports = _rows(pg_url, "SELECT id, status FROM parts")
    print(f"deploy cluster: {len(uploads)} uploads -> analysis jobs {sorted(j[1] for j in jobs)}, runs "
          f"{sum(j[2] for j in jobs)}, lost runs {sum(j[3] for j in jobs)}; {len(orders)} orders allocated; "
          f"{n_msgs} messages -> rows {stored[0]}, distinct {stored[1]}")
    assert len(jobs) == len(uploads) and all(j[1] == "succeeded" for j in jobs)
    assert sorted(p[1] for p in reports) == ["ready"] * len(uploads)
    assert stored == (n_msgs, n_msgs), "a message lost or stored twice"
