"""Fixtures of the telemetry tests: a small fleet built from catalog records, a private Mosquitto."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tel_helpers import PrivateBroker, free_port, model

from fabgrid.domain.catalog import ProcessFamily
from fabgrid.telemetry.fleet import SimMachine


@pytest.fixture
def small_fleet() -> list[SimMachine]:
    """Four machines of two sites and three processes."""
    return [SimMachine("s1", "s1-fdm-1", model()), SimMachine("s1", "s1-fdm-2", model()),
            SimMachine("s1", "s1-sls-1", model(ProcessFamily.SLS, 9000)),
            SimMachine("s2", "s2-cnc-1", model(ProcessFamily.CNC, 15000))]


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A second Mosquitto on a free loopback port (the shared one on 1883 is never stopped)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    # started as root, mosquitto drops to its own user: its persistence directory must be reachable
    # and writable by that user, else sessions silently do not survive a restart
    store = Path(tempfile.mkdtemp(prefix="fabgrid-mosquitto-"))
    store.chmod(0o777)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {store}/\nautosave_interval 1\nmax_queued_messages 1000000\n", encoding="utf-8")
    broker = PrivateBroker(port, conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(store, ignore_errors=True)
