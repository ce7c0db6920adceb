"""bench/overload: how the API degrades past what it holds (issue 16, item 12). The server on loopback with 2 uvicorn
workers (SQLite, a fresh data directory); an open-loop load of GET /api/v1/sites at rising rates, each for a few
seconds. Printed per rate: answers by status, p50/p99 latency, and whether every refusal carried Retry-After. The
claim checked: past capacity the server refuses (429/503 with Retry-After) or slows, never answers 500 and never
stalls 30 s. Loopback only, bounded loops. ``python bench/overload.py [RATE ...]``
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
PATH = "/api/v1/sites"


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(url: str, rate: float) -> tuple[Counter[int], list[float], bool]:
    import httpx

    codes: Counter[int] = Counter()
    times: list[float] = []
    refused_without_retry = [False]
    lock = threading.Lock()
    client = httpx.Client(base_url=url, timeout=35.0, limits=httpx.Limits(max_connections=200))

    def one() -> None:
        t0 = time.monotonic()
        try:
            r = client.get(PATH)
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


def main(argv: list[str]) -> int:
    import httpx

    rates = [float(a) for a in argv] or list(RATES)
    data = Path(tempfile.mkdtemp(prefix="fabgrid-overload-"))
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABGRID_")}
    env |= {"FABGRID_DATA_DIR": str(data), "FABGRID_EMBEDDED_FLEET": "0"}
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
        print(f"GET {PATH}, 2 workers, SQLite, {SECONDS:g} s per rate (open loop)")
        print(f"{'rate/s':>7} {'sent':>5} {'2xx':>5} {'429':>4} {'503':>4} {'5xx other':>9} {'errors':>6} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'max s':>6} retry-after")
        worst_ok = True
        for rate in rates:
            codes, times, retry_ok = _run(url, rate)
            q = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
            other = sum(v for k, v in codes.items() if k >= 500 and k != 503)
            ok = sum(v for k, v in codes.items() if 200 <= k < 300)
            print(f"{rate:>7g} {sum(codes.values()):>5} {ok:>5} {codes[429]:>4} {codes[503]:>4} {other:>9} "
                  f"{codes[0]:>6} {q[49] * 1000:>7.0f} {q[98] * 1000:>7.0f} {max(times):>6.1f} "
                  f"{'yes' if retry_ok else 'NO'}")
            worst_ok &= other == 0 and max(times) < 30 and retry_ok
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
