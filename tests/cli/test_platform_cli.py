"""`fabgrid db upgrade`, `fabgrid serve` and the CLI's error contract, run as a user runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

FABGRID = [sys.executable, "-m", "fabgrid.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FABGRID, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_db_upgrade_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    r = run("db", "upgrade", "--database-url", url, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["revision"] and doc["counts"]["sites"] >= 60


def test_unknown_command_and_option_are_errors_not_tracebacks() -> None:
    for args in (["no-such-command"], ["db", "upgrade", "--no-such-flag"]):
        r = run(*args)
        assert r.returncode == 2
        assert r.stderr.startswith("error:"), r.stderr
        assert "Traceback" not in r.stderr


def test_bad_database_url_is_a_clear_error() -> None:
    r = run("db", "upgrade", "--database-url", "mysql+nothing://x")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_home(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "FABGRID_DATA_DIR": str(tmp_path)}
    env.pop("FABGRID_DATABASE_URL", None)
    proc = subprocess.Popen([*FABGRID, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read() if proc.stderr else "serve exited") from None
                time.sleep(0.2)
        assert body and body["status"] == "ok"
        assert (tmp_path / "fabgrid.db").exists()  # embedded SQLite in the data directory
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert b'id="network-map"' in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
