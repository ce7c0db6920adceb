"""Issue 16, the kill -9 test of the server: orders are placed by clients that retry (each with its quote's
Idempotency-Key) while the server is killed with SIGKILL twice mid-load and started again on the same database, on
SQLite and on PostgreSQL. Every order a client was told about is stored (0 lost), every quote is ordered exactly
once (0 doubled), no answer is a 5xx other than a refusal with Retry-After, and the database is intact."""

from __future__ import annotations

import base64
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import trimesh

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
QUOTES = 24
CLIENTS = 4
KILLS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn fabgrid.app:create_app` on one port, started again after each kill (as its supervisor would)."""

    def __init__(self, db_url: str, tmp: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.env = os.environ | {"FABGRID_DATABASE_URL": db_url, "FABGRID_DATA_DIR": str(tmp),
                                 "FABGRID_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                                 "FABGRID_EMBEDDED_FLEET": "0",
                                 "FABGRID_RATE_LIMITS": "order=1000/60,quote=1000/60,upload=1000/60"}
        self.env.pop("FABGRID_BROKER_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.tmp / f"server{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fabgrid.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"], env=self.env, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)  # the server and any analysis child: no clean shutdown
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.tmp.glob("server*.log")))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_server_killed_under_order_load_loses_and_doubles_nothing(backend: str, tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    db_url = f"sqlite:///{tmp_path / 'fabgrid.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    server = Server(db_url, tmp_path)
    server.start()
    try:
        _run(server, backend, db_url)
    finally:
        server.stop()


def _run(server: Server, backend: str, db_url: str) -> None:
    c = httpx.Client(base_url=server.url, timeout=60)
    creds = {"email": "kill@robotics.example.com", "password": "correct horse battery", "name": "Kill",
             "organisation": "Kill Robotics"}
    assert c.post("/api/v1/auth/signup", json=creds).status_code == 201
    token = c.post("/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
    h = {"Authorization": f"Bearer {token.json()['access_token']}"}
    stl = trimesh.creation.box((20, 30, 10)).export(file_type="stl")
    part = c.post("/api/v1/parts", files={"file": ("box.stl", stl)}, headers=h).json()
    part_id = part.get("part", part)["id"]
    quotes: list[dict[str, Any]] = []
    while len(quotes) < QUOTES:
        r = c.post("/api/v1/quotes", json={"part_id": part_id, "material": "fdm_pla", "quantity": len(quotes) + 1,
                                           "destination": "Changsha"}, headers=h)
        if r.status_code in (200, 201):
            quotes.append(r.json())
        else:
            assert r.status_code in (409, 503), r.text  # the analysis may still run
            time.sleep(0.2)

    told: dict[str, str] = {}  # quote id -> the order id a client was answered
    answers: Counter[str] = Counter()
    bad: list[str] = []
    lock = threading.Lock()

    def client(mine: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as cl:
            for q in mine:
                body = {"quote_id": q["id"], "site": q["offers"][0]["site"], "tier": "standard"}
                key = {"Idempotency-Key": f"kill-test-{q['id']}"}
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        r = cl.post("/api/v1/orders", json=body, headers=h | key)
                    except httpx.TransportError as exc:  # the server is down: retry with the same key
                        with lock:
                            answers[type(exc).__name__] += 1
                        time.sleep(0.05)
                        continue
                    with lock:
                        answers[str(r.status_code)] += 1
                    if r.status_code == 503 and "retry-after" in r.headers:
                        time.sleep(0.1)
                        continue
                    with lock:
                        if r.status_code in (200, 201):
                            told[q["id"]] = r.json()["id"]
                        else:
                            bad.append(f"{r.status_code} {r.text[:300]}")
                    break
                else:
                    with lock:
                        bad.append(f"quote {q['id']}: no answer in 120 s")
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(quotes[i::CLIENTS],)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for k in range(KILLS):  # kill after a third and after two thirds of the orders
        while len(told) < QUOTES * (k + 1) // (KILLS + 1) and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        server.kill()
        time.sleep(0.3)
        server.start()
    for t in threads:
        t.join(180)

    assert not bad, (bad, server.log())
    assert len(told) == QUOTES
    stored = c.get("/api/v1/orders", headers=h).json()
    per_quote = Counter(ln["quote_id"] for o in stored for ln in o["lines"])
    stored_ids = {o["id"] for o in stored}
    lost = [qid for qid, oid in told.items() if oid not in stored_ids]
    doubled = {qid: n for qid, n in per_quote.items() if n > 1}
    print(f"{backend}: {QUOTES} orders by {CLIENTS} retrying clients, server killed {KILLS} times: answers "
          f"{dict(answers)}, stored {len(stored)}, lost {len(lost)}, doubled {len(doubled)}")
    assert not lost and not doubled
    assert set(per_quote) == {q["id"] for q in quotes} and len(stored) == QUOTES
    assert not any(code.startswith("5") and code != "503" for code in answers)
    if backend == "sqlite":
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
