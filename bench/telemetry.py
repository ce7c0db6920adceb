"""Telemetry: MQTT ingest throughput into PostgreSQL (0 lost) next to Mosquitto's own throughput, and
ISO 22400-2 KPIs of 1,000 machines x 30 days of events.

Data sets: (1) the simulated fleet of one network site (`fabgrid fleet`, seed 0), published by a
separate process through a private Mosquitto (port chosen free, queue sized for the run) and
ingested by `fabgrid ingest` into a fresh PostgreSQL database, with 1 and 2 ingest processes on the MQTT 5
shared subscription `$share/bench/...` (and a run of 2 where one is killed with SIGKILL a quarter of the way
through and started again); reference: mosquitto_pub -l ->
mosquitto_sub, QoS 1, the same payloads, measured in the same run. (2) 1,000 machines x 30 days of
state, count and power events generated here with numpy (seed 0); reference: a plain Python loop
over the events for 20 machines (results compared, time extrapolated).
Usage: python -m bench telemetry [--messages N] [--machines N] [--days N] [--skip-mqtt] [--skip-kpi]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from fabgrid.domain.telemetry import MachineState
from fabgrid.telemetry.events import EventColumns
from fabgrid.telemetry.kpi import compute
from fabgrid.telemetry.state import N_STATES, STATE_CODE, fixed_periods

PG_ADMIN = os.environ.get("FABGRID_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SITE = "cs-jingkai-01"
CYCLE = ("setup", "producing", "unplanned_downtime", "producing", "idle")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fabgrid.cli", *args]


# ---- (2) KPIs at scale -----------------------------------------------------------------------

def generate(machines: int, days: float, seed: int = 0) -> EventColumns:
    """State cycles setup -> producing -> (downtime) -> producing -> idle, one count and one power
    event per state change, for every machine; all arrays built at once."""
    rng = np.random.default_rng(seed)
    horizon = days * 86400.0
    cycles = int(horizon / (3 * 3600) * 1.6) + 4
    mean_s = np.array([20 * 60, 80 * 60, 15 * 60, 80 * 60, 25 * 60])
    dur = rng.exponential(1.0, (machines, cycles, len(CYCLE))) * mean_s
    dur[:, :, 2] *= rng.random((machines, cycles)) < 0.3  # 30 % of jobs see a breakdown
    ts = np.cumsum(dur.reshape(machines, -1), axis=1) - dur.reshape(machines, -1)
    code = np.tile([STATE_CODE[s] for s in _states()], (machines, cycles))
    machine = np.repeat(np.arange(machines), cycles * len(CYCLE)).reshape(machines, -1)
    keep = (ts < horizon) & (dur.reshape(machines, -1) > 0)  # no zero-length breakdowns
    st_m, st_ts, st_code = machine[keep], ts[keep], code[keep]
    end_of_job = (np.arange(ts.shape[1]) % len(CYCLE)) == 3
    ck = keep & end_of_job[None, :]
    c_ts = (ts + dur.reshape(machines, -1))[ck]
    parts = rng.integers(1, 40, c_ts.size).astype(np.float64)
    scrap = rng.binomial(parts.astype(np.int64), 0.04).astype(np.float64)
    good = parts - scrap
    rework = rng.binomial(good.astype(np.int64), 0.03).astype(np.float64)
    produce_s = dur[:, :, 1] + dur[:, :, 3]
    pru = (produce_s.reshape(-1)[ck[:, end_of_job].reshape(-1)] * rng.uniform(0.8, 1.0, c_ts.size)) / parts
    power_lut = np.zeros(N_STATES)
    for state, watts in zip(CYCLE, (800.0, 3500.0, 60.0, 3500.0, 400.0), strict=True):
        power_lut[STATE_CODE[MachineState(state)]] = watts
    power = power_lut[st_code] * rng.normal(1.0, 0.03, st_code.size)
    return EventColumns(
        machines=tuple(f"m{i:04d}" for i in range(machines)),
        sites=tuple(f"site{i // 50:02d}" for i in range(machines)),
        state_m=st_m, state_ts=st_ts, state_code=st_code,
        count_m=machine[ck], count_ts=c_ts, good=good, scrap=scrap, rework=rework, planned_s=pru * parts,
        power_m=st_m.copy(), power_ts=st_ts.copy(), power_w=power)


def _states() -> tuple[MachineState, ...]:
    return tuple(MachineState(s) for s in CYCLE)


def loop_reference(cols: EventColumns, machines: int, t_end: float) -> dict[int, tuple[float, float, float]]:
    """Per machine (APT, PBT, GQ) with a plain Python loop over sorted events (the naive way)."""
    out: dict[int, tuple[float, float, float]] = {}
    producing = STATE_CODE[MachineState.PRODUCING]
    in_pbt = {STATE_CODE[s] for s in _states()}  # setup, producing, unplanned downtime, idle
    for m in range(machines):
        idx = [i for i in range(cols.state_m.size) if cols.state_m[i] == m]
        events = sorted((float(cols.state_ts[i]), i, int(cols.state_code[i])) for i in idx)
        apt = pbt = 0.0
        for k, (t, _i, c) in enumerate(events):
            end = events[k + 1][0] if k + 1 < len(events) else t_end
            d = max(0.0, min(end, t_end) - t)
            if c == producing:
                apt += d
            if c in in_pbt:
                pbt += d
        gq = sum(float(cols.good[i]) for i in range(cols.count_m.size)
                 if cols.count_m[i] == m and cols.count_ts[i] < t_end)
        out[m] = (apt, pbt, gq)
    return out


def bench_kpi(machines: int, days: float) -> list[tuple[str, str, str, str]]:
    t0 = time.perf_counter()
    cols = generate(machines, days)
    gen_s = time.perf_counter() - t0
    n_events = cols.state_m.size + cols.count_m.size + cols.power_m.size
    horizon = days * 86400.0
    t0, c0 = time.perf_counter(), time.process_time()
    table = compute(cols, fixed_periods(0.0, horizon, 86400.0))
    kpi_s, kpi_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    ref_machines = 20
    sub = generate(ref_machines, days)
    t0 = time.perf_counter()
    ref = loop_reference(sub, ref_machines, horizon)
    ref_s = (time.perf_counter() - t0) * machines / ref_machines
    check = compute(sub, fixed_periods(0.0, horizon, None)).elements["machine"]
    for m, (apt, pbt, gq) in ref.items():
        assert abs(check["apt_s"][m, -1] - apt) < 1e-6 * max(1.0, apt), "vectorised APT differs from the loop"
        assert abs(check["pbt_s"][m, -1] - pbt) < 1e-6 * max(1.0, pbt)
        assert check["gq"][m, -1] == gq
    net = table.kpis["network"]
    print(f"KPI data set: {machines} machines x {days:g} days, {n_events:,} events "
          f"(generated in {gen_s:.1f} s), {table.periods.n} daily periods; network OEE "
          f"{net['oee'][0, -1]:.3f}, availability {net['availability'][0, -1]:.3f}")
    return [("KPIs, s wall (target <= 10)", f"{kpi_s:.2f} ({kpi_cpu_s:.2f} CPU)",
             f"{ref_s:.1f} (Python loop, extrapolated)", f"{ref_s / kpi_s:.0f}x faster")]


# ---- (1) MQTT -> PostgreSQL ------------------------------------------------------------------

def _start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                    "max_inflight_messages 0\npersistence false\n", encoding="utf-8")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def _child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def mosquitto_reference(port: int, payloads: Path, n: int) -> tuple[float, float, int]:
    """Messages/s of mosquitto_pub -> mosquitto_sub at QoS 1 (Mosquitto's own clients), the clients'
    CPU seconds and how many messages arrived. The payload is a median-size event of the data set,
    sent n times with ``--repeat`` (Mosquitto 2.0's ``mosquitto_pub -l`` drops lines when its
    in-flight window is full, so it cannot be the reference for a lossless run)."""
    lines = payloads.read_text(encoding="utf-8").splitlines()
    payload = sorted(lines, key=len)[len(lines) // 2]
    c0 = _child_cpu_s()
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-t", "ref/#", "-q", "1", "-C", str(n),
                            "-W", "600"], stdout=subprocess.PIPE)
    time.sleep(0.5)
    t0 = time.perf_counter()
    subprocess.run(["mosquitto_pub", "-p", str(port), "-t", "ref/x", "-q", "1", "-m", payload, "--repeat", str(n),
                    "-M", "1000"], check=True)
    out, _ = sub.communicate(timeout=600)
    got = out.count(b"\n")
    return got / (time.perf_counter() - t0), _child_cpu_s() - c0, got


def _fresh_db(admin: Any, name: str) -> str:
    from sqlalchemy import text

    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _ingest_run(mqtt: str, url: str, n: int, k: int, kill: bool) -> dict[str, Any]:
    """n fleet messages into `url` through k `fabgrid ingest` processes on the shared subscription
    ``$share/bench/...``; with `kill`, the second is killed (SIGKILL) a quarter of the way through and started
    again with its session. The rate counts from the first publish until every message has its row."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    def start(i: int) -> subprocess.Popen[str]:
        return subprocess.Popen(_cli("ingest", "--mqtt", mqtt, "--database-url", url, "--share", "bench",
                                     "--no-sparkplug", "--client-id", f"bench-ingest-{i}", "--json"),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    eng = create_engine(url)

    def count() -> tuple[int, int]:
        try:
            with eng.connect() as c:
                r = c.execute(text("SELECT count(*), count(DISTINCT message_id) FROM machine_events")).one()
                return int(r[0]), int(r[1])
        except ProgrammingError:  # the table is created by the first ingest
            return 0, 0

    c0 = _child_cpu_s()
    procs = [start(i) for i in range(k)]
    time.sleep(4.0 + k)  # imports + connect + subscribe (sessions persist: nothing is lost if later)
    t0 = time.perf_counter()
    pub = subprocess.Popen(_cli("fleet", "--site", SITE, "--mqtt", mqtt, "--rate", "0", "--count", str(n),
                                "--json"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    killed = False
    deadline = time.monotonic() + 1800
    while count()[1] < n and time.monotonic() < deadline:
        if kill and not killed and count()[0] >= n // 4:
            procs[1].send_signal(signal.SIGKILL)
            procs[1].wait(10)
            procs[1] = start(1)
            killed = True
        time.sleep(0.05)
    total_s = time.perf_counter() - t0
    pub_out, _ = pub.communicate(timeout=600)
    c1 = _child_cpu_s()
    for p in procs:
        p.send_signal(signal.SIGINT)
    split = [json.loads(p.communicate(timeout=120)[0]).get("stored", 0) for p in procs]
    rows, distinct = count()
    eng.dispose()
    return {"rate": n / total_s, "rows": rows, "distinct": distinct, "lost": n - distinct, "split": split,
            "pub_rate": json.loads(pub_out)["rate_hz"],
            # children's CPU counts when they are reaped: the publisher (and a killed ingest) before c1
            "pub_cpu": c1 - c0, "ingest_cpu": _child_cpu_s() - c1}


def bench_mqtt(n: int) -> list[tuple[str, str, str, str]]:
    from sqlalchemy import create_engine, text

    if shutil.which("mosquitto") is None:
        print("skipped MQTT part: mosquitto not installed")
        return []
    tmp = Path(tempfile.mkdtemp(prefix="fabgrid-bench-"))
    broker, port = _start_broker(tmp)
    db = f"fabgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{db}"'))
        mqtt = f"mqtt://127.0.0.1:{port}"
        events = tmp / "events.jsonl"
        subprocess.run(_cli("fleet", "--site", SITE, "--out", str(events), "--count", str(n), "--json"),
                       check=True, stdout=subprocess.DEVNULL)
        ref_rate, ref_cpu, ref_got = (mosquitto_reference(port, events, n) if shutil.which("mosquitto_pub")
                                      else (float("nan"), float("nan"), 0))
        rows: list[tuple[str, str, str, str]] = []
        one = None
        for k, kill in ((1, False), (2, False), (2, True)):
            r = _ingest_run(mqtt, url if (k, kill) == (1, False) else _fresh_db(admin, f"{db}_{k}{int(kill)}"),
                            n, k, kill)
            one = one or r
            what = f"{k} ingest{'s' if k > 1 else ''}" + (" (one killed, restarted)" if kill else "")
            print(f"MQTT, {what}: {n:,} messages (QoS 1), private Mosquitto port {port}, shared subscription; "
                  f"publisher {r['pub_rate']} msg/s alone; PostgreSQL rows {r['rows']}, distinct ids "
                  f"{r['distinct']}, lost {r['lost']}, doubled {r['rows'] - r['distinct']}, split {r['split']}")
            rows.append((f"MQTT -> PostgreSQL, {what}, msg/s", f"{r['rate']:,.0f} (lost {r['lost']})",
                         f"{ref_rate:,.0f} (mosquitto_pub -> mosquitto_sub, {n - ref_got} lost)",
                         f"{r['rate'] / ref_rate:.2f}"))
        assert one is not None
        us = 1e6 / n
        rows.append(("client CPU per message, us (1 ingest)", f"{one['pub_cpu'] * us:.0f} pub + "
                     f"{one['ingest_cpu'] * us:.0f} ingest", f"{ref_cpu * us:.0f} (mosquitto_pub + mosquitto_sub)",
                     f"{(one['pub_cpu'] + one['ingest_cpu']) / ref_cpu:.1f}x CPU"))
        return rows
    finally:
        broker.terminate()
        broker.wait(10)
        with admin.connect() as c:
            for name in (db, *(f"{db}_{k}" for k in ("20", "21"))):
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench telemetry")
    p.add_argument("--messages", type=int, default=50_000)
    p.add_argument("--machines", type=int, default=1000)
    p.add_argument("--days", type=float, default=30)
    p.add_argument("--skip-mqtt", action="store_true")
    p.add_argument("--skip-kpi", action="store_true")
    a = p.parse_args(argv)
    rows: list[tuple[str, str, str, str]] = []
    if not a.skip_kpi:
        rows += bench_kpi(a.machines, a.days)
    if not a.skip_mqtt:
        rows += bench_mqtt(a.messages)
    print(f"{'figure':<58} {'ours':>18} {'reference':>45} {'ratio':>7}")
    for r in rows:
        print(f"{r[0]:<58} {r[1]:>18} {r[2]:>45} {r[3]:>7}")
    print(f"(machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end: "
          "timings are under whatever load other processes put on it)")
    return 0
