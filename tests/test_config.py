"""Settings: every FABGRID_* variable read once by load_settings, checked with bounds, errors naming the variable;
a Settings object survives the trip through the environment of uvicorn's worker processes."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import pytest

from fabgrid.config import DEFAULT_WORKER_QUEUE, Settings, load_settings, parse_rate_limits, settings_environ
from fabgrid.errors import InputError

KEY = base64.b64encode(bytes(range(32))).decode()


def test_defaults_from_an_empty_environment(tmp_path: Path) -> None:
    s = load_settings(env={"FABGRID_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path and s.database_url == f"sqlite:///{tmp_path / 'fabgrid.db'}"
    assert (s.broker_url, s.mqtt_url, s.master_key, s.embedded_fleet) == (None, None, None, None)
    assert s.demo_source == "fleet" and s.worker_queue == DEFAULT_WORKER_QUEUE
    assert s.inline_analysis_max_bytes is None and s.rate_limits is None and s.webhook_allow_private is False


def test_every_variable_is_read(tmp_path: Path) -> None:
    env = {"FABGRID_DATA_DIR": str(tmp_path), "FABGRID_DATABASE_URL": "postgresql://u@h/db",
           "FABGRID_BROKER_URL": "redis://h:6379/0", "FABGRID_MQTT_URL": "mqtt://h:1883",
           "FABGRID_DEMO_SOURCE": "simulation", "FABGRID_EMBEDDED_FLEET": "0", "FABGRID_MASTER_KEY": KEY,
           "FABGRID_WORKER_QUEUE": "fabgrid-staging", "FABGRID_INLINE_ANALYSIS_MAX_BYTES": "65536",
           "FABGRID_RATE_LIMITS": "upload=3/600, quote=10/60", "FABGRID_WEBHOOK_ALLOW_PRIVATE": "yes",
           "FABGRID_JOB_LEASE_S": "7.5", "FABGRID_DB_POOL_SIZE": "4", "FABGRID_DB_POOL_TIMEOUT_S": "0.5",
           "FABGRID_MAX_IN_FLIGHT": "12"}
    s = load_settings(env=env)
    assert (s.database_url, s.broker_url, s.mqtt_url) == ("postgresql://u@h/db", "redis://h:6379/0", "mqtt://h:1883")
    assert s.demo_source == "simulation" and s.embedded_fleet is False and s.master_key == KEY
    assert s.worker_queue == "fabgrid-staging" and s.inline_analysis_max_bytes == 65536
    assert s.rate_limits == (("upload", 3.0, 600.0), ("quote", 10.0, 60.0)) and s.webhook_allow_private
    assert (s.job_lease_s, s.db_pool_size, s.db_pool_timeout_s, s.max_in_flight) == (7.5, 4, 0.5, 12)
    assert load_settings("sqlite:///x.db", env=env).database_url == "sqlite:///x.db"  # --database-url wins
    assert KEY not in repr(s)  # the key never lands in a log line


@pytest.mark.parametrize(("name", "value", "words"), [
    ("FABGRID_DEMO_SOURCE", "replay", "is not one of"),
    ("FABGRID_EMBEDDED_FLEET", "maybe", "yes/no"),
    ("FABGRID_WEBHOOK_ALLOW_PRIVATE", "2", "yes/no"),
    ("FABGRID_MASTER_KEY", "not base64!", "not valid base64"),
    ("FABGRID_MASTER_KEY", base64.b64encode(b"short").decode(), "not 32"),
    ("FABGRID_WORKER_QUEUE", "two words", "not a queue name"),
    ("FABGRID_INLINE_ANALYSIS_MAX_BYTES", "2MB", "not a number of bytes"),
    ("FABGRID_INLINE_ANALYSIS_MAX_BYTES", "-1", "not a number of bytes"),
    ("FABGRID_INLINE_ANALYSIS_MAX_BYTES", str(2 ** 31), "above"),
    ("FABGRID_RATE_LIMITS", "upload=lots", "ACTION=N/SECONDS"),
    ("FABGRID_RATE_LIMITS", "upload=0/60", "N > 0"),
    ("FABGRID_RATE_LIMITS", "upload=5/-1", "SECONDS > 0"),
    ("FABGRID_RATE_LIMITS", "=5/60", "an action"),
    ("FABGRID_JOB_LEASE_S", "soon", "not a number"),
    ("FABGRID_JOB_LEASE_S", "1", "outside"),
    ("FABGRID_DB_POOL_SIZE", "2.5", "not a number"),
    ("FABGRID_DB_POOL_SIZE", "0", "outside"),
    ("FABGRID_DB_POOL_TIMEOUT_S", "120", "outside"),
    ("FABGRID_MAX_IN_FLIGHT", "0", "outside"),
])
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, words: str) -> None:
    with pytest.raises(InputError, match=words) as err:
        load_settings(env={"FABGRID_DATA_DIR": str(tmp_path), name: value})
    assert name in err.value.message and err.value.hint and err.value.code.startswith("config.")


def test_settings_survive_the_environment_of_worker_processes(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, database_url="sqlite:///a.db", broker_url="redis://h/0", mqtt_url=None,
                 demo_source="simulation", embedded_fleet=True, master_key=KEY, worker_queue="q1",
                 inline_analysis_max_bytes=0, rate_limits=parse_rate_limits("upload=2.5/60"),
                 webhook_allow_private=True, job_lease_s=12.5, db_pool_size=3, db_pool_timeout_s=0.25, max_in_flight=7)
    assert load_settings(env=settings_environ(s)) == s
    plain = replace(s, broker_url=None, embedded_fleet=None, master_key=None, inline_analysis_max_bytes=None,
                    rate_limits=None, webhook_allow_private=False)
    assert load_settings(env=settings_environ(plain)) == plain


def test_nothing_outside_config_reads_the_environment() -> None:
    """The one reader: no module of fabgrid but config.py mentions os.environ or getenv."""
    src = Path(__file__).resolve().parents[1] / "src" / "fabgrid"
    readers = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py")
                     if re.search(r"os\.environ|getenv\(|envvar=", p.read_text(encoding="utf-8")))
    assert readers == ["config.py"]
