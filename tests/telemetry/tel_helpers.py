"""Helpers of the telemetry tests: machine models built in code, a private Mosquitto, service checks."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fabgrid.domain.catalog import MachineModel, PowerDraw, ProcessFamily


def model(process: ProcessFamily = ProcessFamily.FDM, producing_w: float = 350.0) -> MachineModel:
    """A machine model record built in code (the tests do not depend on the shipped catalog)."""
    return MachineModel(
        id=f"test-{process.value}", vendor="Test", model="T1", process=process, build_volume_mm=(250, 210, 220),
        power=PowerDraw(producing_w=producing_w, idle_w=80, setup_w=150, standby_w=10), price_cny=20000,
        lifetime_h=20000, maintenance_cny_per_year=1000, materials=("pla",), source="test fixture")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateBroker:
    """A Mosquitto of the test's own (own port, own persistence), stoppable and restartable."""

    port: int
    conf: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            self.proc.wait(timeout=10)
        self.proc = None




def _root_conftest() -> object:
    # tests/ is not a package: load the root conftest by path to reuse its require_service
    spec = importlib.util.spec_from_file_location("_fabgrid_root_conftest", Path(__file__).parents[1] / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


require_service = _root_conftest().require_service  # type: ignore[attr-defined]
