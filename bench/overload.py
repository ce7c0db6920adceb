"""bench/overload: how the API degrades past what it holds, per endpoint (issue 16, item 12). The server on
loopback with 2 uvicorn workers (SQLite, a fresh data directory, the per-user rate limits raised out of the way: this
measures the server, not the limiter); an open-loop load at rising rates, each for a few seconds, on each endpoint:
GET /health, GET /api/v1/sites (anonymous), GET /api/v1/parts and POST /api/v1/quotes (a signed-in buyer, the same
small part and inputs: the stored quote's path). Printed per endpoint and rate: answers by status, p50/p99 latency,
and whether every refusal carried Retry-After; then the rate each endpoint holds (the highest rate answered 99 %
2xx with p99 <= 1 s). The claim checked: past capacity the server refuses (429/503 with Retry-After) or slows,
never answers 500 and never stalls 30 s. Loopback only, bounded loops.
``python bench/overload.py [RATE ...] [--endpoint NAME]``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RATES = (10, 20, 40, 80)
SECONDS = 6.0
#: name -> (method, path, signed in); the quote's body is made once the part is uploaded
ENDPOINTS = {"health": ("GET", "/health", False), "sites": ("GET", "/api/v1/sites", False),
             "parts": ("GET", "/api/v1/parts", True), "quote": ("POST", "/api/v1/quotes", True)}
#: what an endpoint must answer at a rate to hold it
HOLD_OK_SHARE, HOLD_P99_S = 0.99, 1.0


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(url: str, rate: float, method: str = "GET", path: str = "/api/v1/sites",
         headers: dict[str, str] | None = None,
         body: dict[str, object] | None = None) -> tuple[Counter[int], list[float], bool]:
    import httpx

    codes: Counter[int] = Counter()
    times: list[float] = []
    refused_without_retry = [False]
    lock = threading.Lock()
    client = httpx.Client(base_url=url, timeout=35.0, limits=httpx.Limits(max_connections=200))

    def one() -> None:
        t0 = time.monotonic()
        try:
            r = client.request(method, path, headers=headers, json=body)
            code = r.status_code
            if code in (429, 503) and "retry-after" not in r.headers:
                refused_without_retry[0] = True
        except httpx.HTTPError:
            code = 0
        with lock:
            codes[code] += 1
            times.append(time.monotonic() - t0)

    n = int(rate * SECONDS)
    with ThreadPoolExecutor(200) as pool:
        start = time.monotonic()
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one)
    client.close()
    return codes, times, not refused_without_retry[0]


def _buyer(url: str) -> tuple[dict[str, str], dict[str, object]]:
    """A signed-up buyer's bearer header and the body of a quote of its small uploaded part (analysed, ready)."""
    import httpx
    import trimesh

    password = "overload bench password"
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/api/v1/auth/signup", json={"email": "bench@overload.example.com", "password": password,
                                                 "name": "Bench", "organisation": "Overload bench"})
        assert r.status_code == 201, r.text
        token = c.post("/api/v1/auth/token", data={"username": "bench@overload.example.com",
                                                   "password": password}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        box = trimesh.creation.box((20.0, 15.0, 10.0))
        box.apply_translation((10.0, 7.5, 5.0))
        part = c.post("/api/v1/parts", files={"file": ("box.stl", box.export(file_type="stl"))}, headers=h).json()
        deadline = time.monotonic() + 60
        while c.get(f"/api/v1/parts/{part['id']}", headers=h).json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        body: dict[str, object] = {"part_id": part["id"], "material": "fdm_pla", "quantity": 1,
                                   "destination": "Changsha"}
        assert c.post("/api/v1/quotes", json=body, headers=h).status_code in (200, 201)
    return h, body


def main(argv: list[str]) -> int:
    import httpx

    names = [a.split("=", 1)[1] for a in argv if a.startswith("--endpoint=")] or list(ENDPOINTS)
    rates = [float(a) for a in argv if not a.startswith("-")] or list(RATES)
    data = Path(tempfile.mkdtemp(prefix="fabgrid-overload-"))
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABGRID_")}
    env |= {"FABGRID_DATA_DIR": str(data), "FABGRID_EMBEDDED_FLEET": "0",
            "FABGRID_RATE_LIMITS": "upload=100000/60,quote=100000/60"}
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                print((data / "server.log").read_text()[-3000:])
                return 1
            time.sleep(0.3)
        auth, body = _buyer(url)
        print(f"2 workers, SQLite, {SECONDS:g} s per rate (open loop); holds = the highest rate answered "
              f"{HOLD_OK_SHARE:.0%} 2xx with p99 <= {HOLD_P99_S:g} s")
        print(f"{'endpoint':>8} {'rate/s':>7} {'sent':>5} {'2xx':>5} {'429':>4} {'503':>4} {'5xx other':>9} "
              f"{'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'max s':>6} retry-after")
        worst_ok = True
        holds: dict[str, float] = {}
        for name in names:
            method, path, signed = ENDPOINTS[name]
            holds[name] = 0.0
            for rate in rates:
                codes, times, retry_ok = _run(url, rate, method, path, auth if signed else None,
                                              body if name == "quote" else None)
                q = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
                other = sum(v for k, v in codes.items() if k >= 500 and k != 503)
                ok = sum(v for k, v in codes.items() if 200 <= k < 300)
                print(f"{name:>8} {rate:>7g} {sum(codes.values()):>5} {ok:>5} {codes[429]:>4} {codes[503]:>4} "
                      f"{other:>9} {codes[0]:>6} {q[49] * 1000:>7.0f} {q[98] * 1000:>7.0f} {max(times):>6.1f} "
                      f"{'yes' if retry_ok else 'NO'}")
                worst_ok &= other == 0 and max(times) < 30 and retry_ok
                if ok >= HOLD_OK_SHARE * sum(codes.values()) and q[98] <= HOLD_P99_S:
                    holds[name] = max(holds[name], rate)
        print("holds:", ", ".join(f"{n} {r:g}/s" + ("" if r < max(rates) else "+") for n, r in holds.items()),
              "(+: held at the highest rate tried)")
        print("claim:", "held (no 500, no 30 s stall, every refusal with Retry-After)" if worst_ok else "FAILED")
        return 0 if worst_ok else 1
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
