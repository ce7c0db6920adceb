"""Fixtures of the dispatch tests: a seeded database, a cube part file, and a real OctoPrint server (1.11.x, its
bundled virtual printer) installed by pip into a venv of its own under the user's cache directory (kept between
runs), started on a free port of 127.0.0.1 and stopped after the tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trimesh

from fabgrid.config import Settings
from fabgrid.services.platform import seed_database
from fabgrid.store.db import upgrade

OCTOPRINT_SPEC = "octoprint>=1.11,<1.12"
API_KEY = "fabgrid-test-key-0123456789"
SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f01"  # a Creality K1 Max of the shipped network


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on."""
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("FABGRID_MASTER_KEY", raising=False)
    s = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'fabgrid.db'}", broker_url=None,
                 mqtt_url=None)
    upgrade(s.database_url)
    seed_database(s.database_url)
    return s


@pytest.fixture
def cube(tmp_path: Path) -> Path:
    m = trimesh.creation.box((10.0, 10.0, 4.0))
    m.apply_translation((0.0, 0.0, 2.0))
    path = tmp_path / "cube.stl"
    m.export(path)
    return path


def _octoprint_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fabgrid-tests" / "octoprint-1.11"
    exe = cache / "bin" / "octoprint"
    if exe.exists():
        return exe
    if not (cache / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(cache)], check=True, timeout=120)
    pip = subprocess.run([str(cache / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          OCTOPRINT_SPEC], capture_output=True, text=True, timeout=900)
    if pip.returncode != 0:
        text = pip.stderr + pip.stdout
        if any(s in text for s in ("No matching distribution", "NewConnectionError", "Could not fetch",
                                   "Temporary failure in name resolution", "ConnectionError")):
            pytest.skip(f"pip cannot reach the package registry to install {OCTOPRINT_SPEC}: {text[-300:]}")
        raise RuntimeError(f"pip install {OCTOPRINT_SPEC} failed: {text[-2000:]}")
    return exe


@dataclass(frozen=True)
class OctoPrintServer:
    url: str
    api_key: str

    def api(self, method: str, path: str, **kw: object) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"X-Api-Key": self.api_key}, timeout=10, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def octoprint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintServer]:
    exe = _octoprint_venv()
    base = tmp_path_factory.mktemp("octoprint")
    for args in (["--bool", "devel.virtualPrinter.enabled", "true"], ["api.key", API_KEY],
                 ["--bool", "server.firstRun", "false"], ["--bool", "server.onlineCheck.enabled", "false"],
                 ["--bool", "server.pluginBlacklist.enabled", "false"]):
        subprocess.run([str(exe), "--basedir", str(base), "config", "set", *args], check=True, timeout=120,
                       capture_output=True)
    port = free_port()
    log = (base / "serve.log").open("wb")
    proc = subprocess.Popen([str(exe), "--basedir", str(base), "serve", "--iknowwhatimdoing", "--port", str(port),
                             "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT)
    server = OctoPrintServer(f"http://127.0.0.1:{port}", API_KEY)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if server.api("GET", "/api/version").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"OctoPrint did not start: {(base / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.5)
        r = server.api("POST", "/api/connection", json={"command": "connect", "port": "VIRTUAL"})
        assert r.status_code == 204, r.text
        deadline = time.monotonic() + 30
        while server.api("GET", "/api/printer").status_code != 200:
            assert time.monotonic() < deadline, "the virtual printer did not connect"
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def prusalink() -> Iterator[object]:
    """A PrusaLink protocol simulator (tests/dispatch/simulators.py) on a free port."""
    from simulators import PrusaLinkSimulator

    with PrusaLinkSimulator("prusa-key", print_s=3.0) as sim:
        yield sim


@pytest.fixture
def moonraker() -> Iterator[object]:
    """A Moonraker protocol simulator (tests/dispatch/simulators.py) on a free port."""
    from simulators import MoonrakerSimulator

    with MoonrakerSimulator("moon-key", print_s=3.0) as sim:
        yield sim


BAMBU_SERIAL = "01S00C123456789"
BAMBU_CODE = "12345678"


@dataclass(frozen=True)
class BambuLan:
    """A Bambu Lab printer's LAN side for the tests: a real Mosquitto (MQTT over TLS, user bblp, the access code in
    its password file) standing for the printer's broker, and the printer and its FTPS server SIMULATED
    (simulators.BambuPrinterSimulator, BambuFtpsSimulator)."""

    url: str
    printer: Any
    ftps: Any
    mosquitto: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def bambu_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A self-signed certificate naming the serial (as the printers' do) and a Mosquitto with TLS on a free port."""
    if not shutil.which("mosquitto") or not shutil.which("mosquitto_passwd") or not shutil.which("openssl"):
        pytest.skip("needs mosquitto, mosquitto_passwd and openssl (Debian packages mosquitto, openssl)")
    base = tmp_path_factory.mktemp("bambu")
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    f"/CN={BAMBU_SERIAL}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    passwd = base / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "bblp", BAMBU_CODE], check=True,
                   capture_output=True, timeout=30)
    return cert, key, free_port()


@pytest.fixture(scope="session")
def bambu_broker(bambu_tls: tuple[Path, Path, int]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    cert, key, port = bambu_tls
    conf = cert.parent / "mosquitto.conf"
    conf.write_text(f"user root\nper_listener_settings false\nallow_anonymous false\n"
                    f"password_file {cert.parent / 'passwd'}\nlistener {port} 127.0.0.1\n"
                    f"certfile {cert}\nkeyfile {key}\npersistence false\nlog_dest stderr\n")
    log = (cert.parent / "mosquitto.log").open("wb")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {(cert.parent / 'mosquitto.log').read_text()}") from None
            time.sleep(0.2)
    try:
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def bambu(bambu_tls: tuple[Path, Path, int], bambu_broker: tuple[int, subprocess.Popen[bytes]]) -> Iterator[BambuLan]:
    from simulators import BambuFtpsSimulator, BambuPrinterSimulator

    cert, key, _ = bambu_tls
    port, proc = bambu_broker
    with BambuFtpsSimulator(BAMBU_CODE, str(cert), str(key)) as ftps, \
            BambuPrinterSimulator(port, BAMBU_SERIAL, BAMBU_CODE, ftps, print_s=3.0) as printer:
        yield BambuLan(f"mqtts://127.0.0.1:{port}?ftp_port={ftps.port}", printer, ftps, proc)
