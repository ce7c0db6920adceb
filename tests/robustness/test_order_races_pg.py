"""Issue 16, item 3, on PostgreSQL with two uvicorn processes: 10 concurrent POST /orders of one quote store exactly
one order (the others 409), in three trials; 10 concurrent POSTs with one Idempotency-Key all answer that one
order (201 once, 200 replays). Before the fix PostgreSQL stored 3, 1 and 6 orders."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import trimesh

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
N = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def servers(pg_url: str, tmp_path: Path) -> Iterator[list[str]]:
    from fabgrid.services.platform import prepare_database

    prepare_database(pg_url)
    env = os.environ | {"FABGRID_DATABASE_URL": pg_url, "FABGRID_DATA_DIR": str(tmp_path),
                        "FABGRID_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                        "FABGRID_EMBEDDED_FLEET": "0", "FABGRID_RATE_LIMITS": "order=1000/60,quote=1000/60"}
    env.pop("FABGRID_BROKER_URL", None)
    ports = [_free_port(), _free_port()]
    logs = [open(tmp_path / f"api{i}.log", "wb") for i in range(2)]  # noqa: SIM115
    procs = [subprocess.Popen([sys.executable, "-m", "uvicorn", "fabgrid.app:create_app", "--factory", "--host",
                               "127.0.0.1", "--port", str(p), "--log-level", "warning"], env=env, cwd=ROOT,
                              stdout=logs[i], stderr=subprocess.STDOUT) for i, p in enumerate(ports)]
    try:
        deadline = time.monotonic() + 60
        for p in ports:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{p}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "api0.log").read_text()[-2000:]
                time.sleep(0.2)
        yield [f"http://127.0.0.1:{p}" for p in ports]
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


def _race(urls: list[str], headers: list[dict[str, str]], body: dict[str, Any]) -> list[httpx.Response]:
    """N POST /orders at once, alternating between the two processes."""
    def post(i: int) -> httpx.Response:
        return httpx.post(f"{urls[i % 2]}/api/v1/orders", json=body, headers=headers[i], timeout=60)

    with ThreadPoolExecutor(N) as pool:
        return list(pool.map(post, range(N)))


def test_concurrent_orders_of_one_quote_store_one_order(servers: list[str]) -> None:
    a = httpx.Client(base_url=servers[0], timeout=60)
    creds = {"email": "race@robotics.example.com", "password": "correct horse battery", "name": "Race",
             "organisation": "Race Robotics"}
    assert a.post("/api/v1/auth/signup", json=creds).status_code == 201
    token = a.post("/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
    h = {"Authorization": f"Bearer {token.json()['access_token']}"}
    stl = trimesh.creation.box((20, 30, 10)).export(file_type="stl")
    part = a.post("/api/v1/parts", files={"file": ("box.stl", stl)}, headers=h).json()
    part_id = part.get("part", part)["id"]

    def quote(qty: int) -> dict[str, Any]:
        for _ in range(100):  # the analysis may still run
            r = a.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": qty,
                                               "destination": "Changsha"}, headers=h)
            if r.status_code in (200, 201):
                doc: dict[str, Any] = r.json()
                return doc
            time.sleep(0.2)
        raise AssertionError(r.text)

    trials = []
    for trial in range(3):
        q = quote(trial + 1)
        body = {"quote_id": q["id"], "site": q["offers"][0]["site"], "tier": "standard"}
        answers = _race(servers, [h] * N, body)
        codes = Counter(r.status_code for r in answers)
        assert all(r.headers["content-type"].startswith(("application/json", "application/problem+json"))
                   for r in answers)
        stored = [o for o in a.get("/api/v1/orders", headers=h).json()
                  if any(ln["quote_id"] == q["id"] for ln in o["lines"])]
        trials.append((dict(codes), len(stored)))
        assert codes == {201: 1, 409: N - 1}, [r.text for r in answers]
        assert len(stored) == 1
        assert {r.json()["title"] for r in answers if r.status_code == 409} == {"order.duplicate"}

    q = quote(7)
    body = {"quote_id": q["id"], "site": q["offers"][0]["site"], "tier": "standard"}
    keyed = [h | {"Idempotency-Key": "race-key-1"}] * N
    answers = _race(servers, keyed, body)
    codes = Counter(r.status_code for r in answers)
    ids = {r.json()["id"] for r in answers}
    stored = [o for o in a.get("/api/v1/orders", headers=h).json()
              if any(ln["quote_id"] == q["id"] for ln in o["lines"])]
    print(f"PostgreSQL, 2 processes, {N} concurrent POST /orders per trial: (answers, orders stored) {trials}; "
          f"with one Idempotency-Key: answers {dict(codes)}, order ids {len(ids)}, orders stored {len(stored)}")
    assert codes == {201: 1, 200: N - 1} and len(ids) == 1 and len(stored) == 1
