"""Fixtures of the browser tests: a real `fabgrid serve` on a free loopback port with a temporary data
directory, and Debian's headless Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_kit import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, need


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("e2e-data")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABGRID_")}
    env["FABGRID_DATA_DIR"] = str(data)
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fabgrid serve did not start:\n" + (data / "server.log").read_text()[-3000:])
            time.sleep(0.3)
        yield Server(url, data, f"sqlite:///{data / 'fabgrid.db'}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")  # module: Playwright's sync loop must be gone before other tests run asyncio
def browser() -> Iterator[Any]:
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "Playwright for Python is not installed (pip install playwright; no browser download)")
        raise
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
