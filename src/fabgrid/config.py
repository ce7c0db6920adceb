"""Settings read from the environment, validated in one place.

FABGRID_DATABASE_URL  SQLAlchemy URL; default: SQLite in the per-user data directory.
FABGRID_DATA_DIR      where the embedded database and uploaded designs live.
FABGRID_MASTER_KEY    base64 of 32 bytes wrapping per-file design keys (generated and kept
                      in the data directory when unset, for the embedded default).
FABGRID_BROKER_URL    Celery broker (redis:// or amqp://); unset = in-process background work.
FABGRID_MQTT_URL      MQTT broker for telemetry ingest; unset = in-process simulated machines.
FABGRID_DEMO_SOURCE   what simulates those machines: ``simulation`` (default, the SimPy network
                      simulation, fabgrid policy) or ``fleet`` (the telemetry fleet).
Depends on nothing but platformdirs (and fabgrid.errors).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from fabgrid.errors import InputError

#: Sources of the embedded default's live machine data (`services.live_fleet`).
DEMO_SOURCES = ("simulation", "fleet")
DEFAULT_DEMO_SOURCE = "fleet"  # every event kind the pages show (jobs, layers, temperatures); "simulation" opts in


@dataclass(frozen=True)
class Settings:
    """The process's configuration."""

    data_dir: Path
    database_url: str
    broker_url: str | None
    mqtt_url: str | None
    demo_source: str = DEFAULT_DEMO_SOURCE

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded default database."""
        return self.database_url.startswith("sqlite")


def load_settings(database_url: str | None = None) -> Settings:
    """Settings from the environment; `database_url` overrides FABGRID_DATABASE_URL."""
    data_dir = Path(os.environ.get("FABGRID_DATA_DIR") or user_data_dir("fabgrid", appauthor=False))
    url = database_url or os.environ.get("FABGRID_DATABASE_URL") or f"sqlite:///{data_dir / 'fabgrid.db'}"
    demo = os.environ.get("FABGRID_DEMO_SOURCE") or DEFAULT_DEMO_SOURCE
    if demo not in DEMO_SOURCES:
        raise InputError(f"FABGRID_DEMO_SOURCE={demo!r} is not one of {', '.join(DEMO_SOURCES)}",
                         hint="set it to fleet (default) or simulation", code="config.demo_source")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        broker_url=os.environ.get("FABGRID_BROKER_URL") or None,
        mqtt_url=os.environ.get("FABGRID_MQTT_URL") or None,
        demo_source=demo,
    )
