"""Settings read from the environment once, by `load_settings()`, and validated in one place; nothing
else in fabgrid reads (or writes) ``FABGRID_*`` variables.

FABGRID_DATABASE_URL               SQLAlchemy URL; default: SQLite in the per-user data directory.
FABGRID_DATA_DIR                   where the embedded database and uploaded designs live.
FABGRID_MASTER_KEY                 base64 of 32 bytes wrapping per-file design keys (generated and kept
                                   in the data directory when unset, for the embedded default).
FABGRID_BROKER_URL                 Celery broker (redis:// or amqp://); unset = in-process background work.
FABGRID_WORKER_QUEUE               Celery queue of the jobs (default ``fabgrid``).
FABGRID_MQTT_URL                   MQTT broker for telemetry ingest; unset = in-process simulated machines.
FABGRID_EMBEDDED_FLEET             1 / 0: simulate the machines inside the serving process or not; unset =
                                   `fabgrid serve` decides (on with one worker and no MQTT broker).
FABGRID_DEMO_SOURCE                what simulates those machines: ``fleet`` (default, the telemetry fleet)
                                   or ``simulation`` (the SimPy network simulation, fabgrid policy).
FABGRID_INLINE_ANALYSIS_MAX_BYTES  uploads up to this size are analysed inside the request (default 2 MiB).
FABGRID_RATE_LIMITS                per-user limits ``ACTION=N/SECONDS,...``; unset = the service's defaults.
FABGRID_WEBHOOK_ALLOW_PRIVATE      1 allows webhook URLs on private or loopback addresses (default refused).
FABGRID_JOB_LEASE_S                a job's claim lease, renewed while it runs (default 60 s, 2..3600): a job whose
                                   worker died runs again once the lease expires.
FABGRID_DB_POOL_SIZE               database connections per process (PostgreSQL; default 10, 1..200), plus as
                                   many again in overflow.
FABGRID_DB_POOL_TIMEOUT_S          how long a request waits for a connection before it is answered 503 with
                                   Retry-After (default 5 s, 0.1..60).
FABGRID_MAX_IN_FLIGHT              requests one server process works on at once; more are answered 503 with
                                   Retry-After at once (default 64, 1..10000).
FABGRID_FACTORY_RESPONSE_H         hours a factory has to accept or decline a line allocated to it; then the line
                                   is re-allocated as if declined (default 24, 0.01..720).
FABGRID_SMTP_URL                   e-mail of message notifications: ``smtp://host:port`` (unset = no e-mail).
FABGRID_SMTP_FROM                  the sender of those e-mails (default ``fabgrid@localhost``).
FABGRID_CLAIM_WINDOW_DAYS          days after delivery within which a buyer may open a claim (default 7, 1..365).
Depends on nothing but platformdirs (and fabgrid.errors).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from fabgrid.errors import InputError

#: Sources of the embedded default's live machine data (`services.live_fleet`).
DEMO_SOURCES = ("simulation", "fleet")
DEFAULT_DEMO_SOURCE = "fleet"  # every event kind the pages show (jobs, layers, temperatures); "simulation" opts in
DEFAULT_WORKER_QUEUE = "fabgrid"
MAX_INLINE_ANALYSIS_BYTES = 1024 * 1024 * 1024
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
#: One rate limit: (action, requests, seconds).
RateLimit = tuple[str, float, float]


@dataclass(frozen=True)
class Settings:
    """The process's configuration (build one with `load_settings`, change one with `dataclasses.replace`)."""

    data_dir: Path
    database_url: str
    broker_url: str | None
    mqtt_url: str | None
    demo_source: str = DEFAULT_DEMO_SOURCE
    #: None: not set; the app simulates machines only when True (`fabgrid serve` turns it on).
    embedded_fleet: bool | None = None
    master_key: str | None = field(default=None, repr=False)
    worker_queue: str = DEFAULT_WORKER_QUEUE
    #: None: the default of `services.parts` (2 MiB).
    inline_analysis_max_bytes: int | None = None
    #: None: the rate limiter's defaults (`services.ratelimit`).
    rate_limits: tuple[RateLimit, ...] | None = None
    webhook_allow_private: bool = False
    job_lease_s: float = 60.0
    db_pool_size: int = 10
    db_pool_timeout_s: float = 5.0
    max_in_flight: int = 64
    #: hours a factory has to accept or decline a line allocated to it (then it is re-allocated).
    factory_response_h: float = 24.0
    #: ``smtp://host:port`` of message notifications (None: no e-mail is sent), and their sender.
    smtp_url: str | None = None
    smtp_from: str = "fabgrid@localhost"
    #: days after delivery within which a buyer may open a claim on a line.
    claim_window_days: float = 7.0

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded default database."""
        return self.database_url.startswith("sqlite")


def _bad(name: str, value: str, problem: str, hint: str, code: str | None = None) -> InputError:
    return InputError(f"{name}={value!r} {problem}", hint=hint,
                      code=code or f"config.{name.removeprefix('FABGRID_').lower()}")


def check_demo_source(value: str, name: str = "FABGRID_DEMO_SOURCE") -> str:
    """`value` if it is a demo source, else InputError naming `name` (the variable or option)."""
    if value not in DEMO_SOURCES:
        raise InputError(f"{name}={value!r} is not one of {', '.join(DEMO_SOURCES)}",
                         hint="set it to fleet (default) or simulation", code="config.demo_source")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _bad(name, raw, "is not a yes/no value", f"set {name} to 1 or 0 (or leave it unset)")


def _master_key(env: Mapping[str, str]) -> str | None:
    raw = env.get("FABGRID_MASTER_KEY", "").strip()
    if not raw:
        return None
    hint = ("FABGRID_MASTER_KEY must be the base64 of 32 random bytes, e.g. "
            "`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("FABGRID_MASTER_KEY is not valid base64", hint=hint, code="config.master_key") from None
    if len(key) != 32:
        raise InputError(f"FABGRID_MASTER_KEY decodes to {len(key)} bytes, not 32", hint=hint,
                         code="config.master_key")
    return raw


def _inline_bytes(env: Mapping[str, str]) -> int | None:
    name = "FABGRID_INLINE_ANALYSIS_MAX_BYTES"
    raw = env.get(name, "").strip()
    if not raw:
        return None
    hint = f"give a number of bytes from 0 to {MAX_INLINE_ANALYSIS_BYTES} (0: every upload in the background)"
    if not raw.isdigit():
        raise _bad(name, raw, "is not a number of bytes", hint, "config.inline_analysis")
    if int(raw) > MAX_INLINE_ANALYSIS_BYTES:
        raise _bad(name, raw, f"is above {MAX_INLINE_ANALYSIS_BYTES} bytes (1 GiB)", hint, "config.inline_analysis")
    return int(raw)


def parse_rate_limits(spec: str, name: str = "FABGRID_RATE_LIMITS") -> tuple[RateLimit, ...]:
    """``upload=20/60,quote=60/60`` as (action, requests, seconds); InputError naming `name` and the item."""
    out: list[RateLimit] = []
    for item in spec.split(","):
        try:
            action, rate = item.strip().split("=")
            n_s, window_s = rate.split("/")
            n, window = float(n_s), float(window_s)
        except ValueError:
            raise InputError(f"{name} item {item!r} is not ACTION=N/SECONDS",
                             hint="e.g. upload=20/60,quote=60/60", code="config.rate_limits", status=500) from None
        if not (0 < n < float("inf") and 0 < window < float("inf")) or not action.strip():
            raise InputError(f"{name} item {item!r} needs an action, N > 0 and SECONDS > 0",
                             hint="e.g. upload=20/60,quote=60/60", code="config.rate_limits", status=500)
        out.append((action.strip(), n, window))
    return tuple(out)


def _queue(env: Mapping[str, str]) -> str:
    raw = env.get("FABGRID_WORKER_QUEUE", "").strip()
    if not raw:
        return DEFAULT_WORKER_QUEUE
    if not _QUEUE_NAME.fullmatch(raw):
        raise _bad("FABGRID_WORKER_QUEUE", raw, "is not a queue name",
                   "use 1 to 200 letters, digits, '_', '.', ':' or '-', e.g. fabgrid-staging")
    return raw


#: name -> (bounds, default) of the plain numbers among the settings
_NUMBERS: dict[str, tuple[float, float, float]] = {
    "FABGRID_JOB_LEASE_S": (2.0, 3600.0, 60.0),
    "FABGRID_DB_POOL_SIZE": (1, 200, 10),
    "FABGRID_DB_POOL_TIMEOUT_S": (0.1, 60.0, 5.0),
    "FABGRID_MAX_IN_FLIGHT": (1, 10000, 64),
    "FABGRID_FACTORY_RESPONSE_H": (0.01, 720.0, 24.0),
    "FABGRID_CLAIM_WINDOW_DAYS": (1.0, 365.0, 7.0),
}


def _number(env: Mapping[str, str], name: str) -> float:
    lo, hi, default = _NUMBERS[name]
    raw = env.get(name, "").strip()
    if not raw:
        return default
    integer = isinstance(default, int)
    hint = f"give {'a whole number' if integer else 'a number'} from {lo:g} to {hi:g} (default {default:g})"
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise _bad(name, raw, "is not a number", hint) from None
    if not lo <= value <= hi:
        raise _bad(name, raw, f"is outside {lo:g}..{hi:g}", hint)
    return value


def load_settings(database_url: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or `env`); `database_url` overrides FABGRID_DATABASE_URL.

    Every bad value is an InputError naming the variable and what to set it to."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("FABGRID_DATA_DIR") or user_data_dir("fabgrid", appauthor=False))
    url = database_url or env.get("FABGRID_DATABASE_URL") or f"sqlite:///{data_dir / 'fabgrid.db'}"
    limits = env.get("FABGRID_RATE_LIMITS", "").strip()
    return Settings(
        data_dir=data_dir,
        database_url=url,
        broker_url=env.get("FABGRID_BROKER_URL") or None,
        mqtt_url=env.get("FABGRID_MQTT_URL") or None,
        demo_source=check_demo_source(env.get("FABGRID_DEMO_SOURCE") or DEFAULT_DEMO_SOURCE),
        embedded_fleet=_flag(env, "FABGRID_EMBEDDED_FLEET"),
        master_key=_master_key(env),
        worker_queue=_queue(env),
        inline_analysis_max_bytes=_inline_bytes(env),
        rate_limits=parse_rate_limits(limits) if limits else None,
        webhook_allow_private=bool(_flag(env, "FABGRID_WEBHOOK_ALLOW_PRIVATE")),
        job_lease_s=_number(env, "FABGRID_JOB_LEASE_S"),
        db_pool_size=int(_number(env, "FABGRID_DB_POOL_SIZE")),
        db_pool_timeout_s=_number(env, "FABGRID_DB_POOL_TIMEOUT_S"),
        max_in_flight=int(_number(env, "FABGRID_MAX_IN_FLIGHT")),
        factory_response_h=_number(env, "FABGRID_FACTORY_RESPONSE_H"),
        smtp_url=_smtp_url(env),
        smtp_from=env.get("FABGRID_SMTP_FROM", "").strip() or "fabgrid@localhost",
        claim_window_days=_number(env, "FABGRID_CLAIM_WINDOW_DAYS"),
    )


_SMTP_URL = re.compile(r"smtp://[A-Za-z0-9.\-]+:\d{1,5}")


def _smtp_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("FABGRID_SMTP_URL", "").strip()
    if not raw:
        return None
    if not _SMTP_URL.fullmatch(raw):
        raise _bad("FABGRID_SMTP_URL", raw, "is not smtp://host:port", "e.g. smtp://127.0.0.1:25")
    return raw


def settings_environ(settings: Settings) -> dict[str, str]:
    """The variables that make `load_settings()` in another process return `settings` (for server
    processes that uvicorn starts from an import string, where no object can be handed over)."""
    env = {"FABGRID_DATA_DIR": str(settings.data_dir), "FABGRID_DATABASE_URL": settings.database_url,
           "FABGRID_DEMO_SOURCE": settings.demo_source, "FABGRID_WORKER_QUEUE": settings.worker_queue,
           "FABGRID_WEBHOOK_ALLOW_PRIVATE": "1" if settings.webhook_allow_private else "0",
           "FABGRID_JOB_LEASE_S": repr(settings.job_lease_s), "FABGRID_DB_POOL_SIZE": str(settings.db_pool_size),
           "FABGRID_DB_POOL_TIMEOUT_S": repr(settings.db_pool_timeout_s),
           "FABGRID_MAX_IN_FLIGHT": str(settings.max_in_flight),
           "FABGRID_FACTORY_RESPONSE_H": repr(settings.factory_response_h),
           "FABGRID_SMTP_FROM": settings.smtp_from, "FABGRID_CLAIM_WINDOW_DAYS": repr(settings.claim_window_days)}
    fleet, limits, inline = settings.embedded_fleet, settings.rate_limits, settings.inline_analysis_max_bytes
    optional = {"FABGRID_INLINE_ANALYSIS_MAX_BYTES": None if inline is None else str(inline),
                "FABGRID_BROKER_URL": settings.broker_url, "FABGRID_MQTT_URL": settings.mqtt_url,
                "FABGRID_MASTER_KEY": settings.master_key, "FABGRID_SMTP_URL": settings.smtp_url,
                "FABGRID_EMBEDDED_FLEET": None if fleet is None else str(int(fleet)),
                "FABGRID_RATE_LIMITS": None if limits is None else ",".join(f"{a}={n!r}/{w!r}" for a, n, w in limits)}
    env.update({k: v for k, v in optional.items() if v is not None})
    return env


def export_settings(settings: Settings) -> None:
    """Write `settings_environ(settings)` into this process's environment, for child processes started
    from an import string (uvicorn with several workers); the one place fabgrid writes FABGRID_*."""
    os.environ.update(settings_environ(settings))
