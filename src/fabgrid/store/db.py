"""Engines, sessions and migrations for the fabgrid database.

SQLite in the per-user data directory by default (WAL journal, busy timeout, foreign keys);
PostgreSQL when FABGRID_DATABASE_URL says so. Depends on SQLAlchemy and Alembic only.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from fabgrid.errors import InputError

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: What a failing database raises, for the callers of the store (which do not import SQLAlchemy themselves).
StoreError = SQLAlchemyError
#: A database failure that may pass when retried (connection lost, server restarting, database locked).
TransientStoreError = OperationalError


#: Connections per process (and as many again in overflow) and how long a caller waits for one, by default.
DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT_S = 5.0
#: Seconds a refused caller is told to wait (Retry-After).
BUSY_RETRY_AFTER_S = 2
_pools: dict[str, tuple[int, float]] = {}


class DatabaseBusy(InputError):
    """No database connection became free within the pool timeout: the process is saturated. Answered 503 with
    Retry-After (the request is refused at once instead of stalling), never a 500."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the server is busy: no database connection became free within {timeout_s:g} s",
                         hint=f"retry in {BUSY_RETRY_AFTER_S} s", code="db.busy", status=503)
        self.retry_after_s = BUSY_RETRY_AFTER_S


class _BoundedPool(QueuePool):
    """A QueuePool whose exhaustion raises `DatabaseBusy` (an error callers and the API understand)."""

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except PoolTimeoutError:
            raise DatabaseBusy(self.timeout()) from None


def configure_pool(url: str, size: int, timeout_s: float) -> None:
    """Connections per process for `url` (`size`, plus as many in overflow) and the wait for one (`timeout_s`);
    `get_engine(url)` answers the engine of that configuration from then on (one engine per configuration)."""
    key = _normalise_url(url)
    if _pools.get(key) != (size, timeout_s):
        _pools[key] = (size, timeout_s)


def _normalise_url(url: str) -> str:
    # psycopg 3 is the driver we ship in the `postgres` extra.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def get_engine(url: str) -> Engine:
    """A pooled engine for `url` (one per URL and pool configuration per process; `configure_pool`)."""
    size, timeout_s = _pools.get(_normalise_url(url), (DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT_S))
    return _engine(url, size, timeout_s)


@functools.cache
def _engine(url: str, pool_size: int, pool_timeout_s: float) -> Engine:
    url = _normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"database URL {url!r} is not a valid SQLAlchemy URL: {exc}",
                         hint="use sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
                         code="db.url") from None
    pool = {"poolclass": _BoundedPool, "pool_size": pool_size, "max_overflow": pool_size,
            "pool_timeout": pool_timeout_s}
    if parsed.get_backend_name() == "sqlite":
        in_memory = not parsed.database or parsed.database == ":memory:"
        if not in_memory:
            Path(parsed.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                  "check_same_thread": False}, **({} if in_memory else pool))
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise InputError("PostgreSQL needs the psycopg driver, which is not installed",
                             hint="pip install 'fabgrid[postgres]'", code="db.driver") from None
        return create_engine(url, pool_pre_ping=True, **pool)  # type: ignore[arg-type]
    raise InputError(f"unsupported database {parsed.get_backend_name()!r} in FABGRID_DATABASE_URL",
                     hint="use SQLite (default) or PostgreSQL", code="db.url")


get_engine.cache_clear = _engine.cache_clear  # type: ignore[attr-defined]


def ping(url: str) -> str:
    """Run ``SELECT 1`` on the database at `url` (raises StoreError when it does not answer); returns the
    backend's name (sqlite, postgresql)."""
    from sqlalchemy import text

    engine = get_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine.dialect.name


def session_factory(url: str) -> sessionmaker[Session]:
    """A session factory bound to the engine for `url`."""
    return sessionmaker(get_engine(url), expire_on_commit=False)


def alembic_config(url: str) -> Any:
    """The Alembic configuration of the shipped migrations, for `url`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("fabgrid.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", _normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at `url` to `revision`; returns the revision it is at afterwards."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    try:
        engine = get_engine(url)
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise InputError(f"cannot open the database {make_url(_normalise_url(url)).render_as_string()}: "
                         f"{exc.orig}", hint="check FABGRID_DATABASE_URL / --database-url and that the "
                         "server is running", code="db.unreachable") from None
