"""The connector contract and its registry: a `Connector` talks to one print host (check, upload and start,
status, cancel) and reports a `HostStatus`; each host type is one module that registers its class with
`@register(kind)`. Modules of this package are discovered on first use, so adding a host type is one module.

Depends on httpx and fabgrid.errors only (no store, no services).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx

from fabgrid.errors import InputError

#: Seconds one request to a host may take (connect, read); a host slower than this is reported unreachable.
TIMEOUT_S = 10.0


class HostState(StrEnum):
    """What the print host says the printer is doing."""

    IDLE = "idle"
    PRINTING = "printing"
    PAUSED = "paused"
    ERROR = "error"
    OFFLINE = "offline"


class JobOutcome(StrEnum):
    """Where the host's current (or last) job is."""

    NONE = "none"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class HostStatus:
    """One reading of a host: printer state, the job (file name, outcome, progress 0..1), temperatures (sensor ->
    (actual, target) degC), the loaded material when the host reports one (None: it does not) and its message."""

    state: HostState
    job: str | None = None
    outcome: JobOutcome = JobOutcome.NONE
    progress: float | None = None
    temperatures: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    material: str | None = None
    message: str = ""
    layer: int | None = None
    layers: int | None = None


@dataclass(frozen=True)
class Connection:
    """How to reach one host: its kind (registry name), base URL and credentials."""

    kind: str
    url: str
    api_key: str | None = None
    serial: str | None = None
    access_code: str | None = None


class HostError(InputError):
    """A host refused or could not be reached; `code` says which (dispatch.unreachable, dispatch.unauthorized,
    dispatch.busy, dispatch.protocol, dispatch.material)."""


class Connector(Protocol):
    """What every host type implements."""

    kind: ClassVar[str]

    def status(self) -> HostStatus:
        """Read the printer and its job."""

    def start(self, name: str, data: bytes) -> str:
        """Upload the print file `name` and start it; the host's job name. HostError(dispatch.busy) when the
        printer is not idle."""

    def cancel(self) -> None:
        """Cancel the running job."""

    def pause(self) -> None:
        """Pause the running job (the printer holds it until it is resumed or cancelled at the host)."""

    def close(self) -> None:
        """Release the HTTP client."""


_REGISTRY: dict[str, Callable[[Connection], Connector]] = {}


def register(kind: str) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: the connector of host type `kind`."""

    def deco(cls: type[Any]) -> type[Any]:
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return deco


def _discover() -> None:
    import fabgrid.dispatch as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in ("base", "camera", "follow", "slicer") and not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def kinds() -> tuple[str, ...]:
    """The registered host types."""
    if not _REGISTRY:
        _discover()
    return tuple(sorted(_REGISTRY))


def connector(conn: Connection) -> Connector:
    """The connector for `conn` (InputError naming the known kinds for an unknown one)."""
    if conn.kind not in kinds():
        raise InputError(f"unknown print host kind {conn.kind!r}", hint=f"use one of {', '.join(kinds())}",
                         code="dispatch.kind")
    return _REGISTRY[conn.kind](conn)


class HttpHost:
    """Shared HTTP plumbing: one client per connector, errors turned into HostError with what to do."""

    name: ClassVar[str] = "host"

    def __init__(self, conn: Connection, headers: dict[str, str]) -> None:
        self.conn = conn
        self.client = httpx.Client(base_url=conn.url.rstrip("/"), headers=headers, timeout=TIMEOUT_S)

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kw: Any) -> httpx.Response:
        """One request; HostError for an unreachable host, a refused key, or a status outside `ok` (409 kept
        for the caller when listed in `ok`)."""
        try:
            r = self.client.request(method, path, **kw)
        except httpx.TimeoutException:
            raise HostError(f"{self.name} at {self.conn.url} did not answer within {TIMEOUT_S:g} s",
                            hint="check that the host is on and reachable from fabgrid", code="dispatch.unreachable",
                            status=502) from None
        except httpx.HTTPError as exc:
            raise HostError(f"{self.name} at {self.conn.url} cannot be reached ({type(exc).__name__}: {exc})",
                            hint="check the URL (scheme, address, port) and that the host is running",
                            code="dispatch.unreachable", status=502) from None
        if r.status_code in (401, 403) and r.status_code not in ok:
            raise HostError(f"{self.name} at {self.conn.url} refused the API key ({r.status_code} on {path})",
                            hint="give the host's API key again: `machines connect ... --api-key`",
                            code="dispatch.unauthorized", status=502)
        if r.status_code not in ok:
            raise HostError(f"{self.name} at {self.conn.url} answered {r.status_code} to {method} {path}: "
                            f"{r.text[:200]}", hint="see the host's log", code="dispatch.protocol", status=502)
        return r

    def json(self, r: httpx.Response) -> dict[str, Any]:
        """The JSON object of a response (HostError when it is not one)."""
        try:
            doc = r.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise HostError(f"{self.name} at {self.conn.url} answered {r.request.url.path} with no JSON object",
                            hint="is this URL the host's API?", code="dispatch.protocol", status=502)
        return doc

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def busy(host: HttpHost, status: HostStatus) -> HostError:
    """The error of a start on a printer that is not idle."""
    return HostError(f"{host.name} at {host.conn.url} is {status.state.value}"
                     + (f" ({status.job})" if status.job else "") + ": the build waits until it is idle",
                     hint="dispatch again when the printer is idle, or cancel its job", code="dispatch.busy",
                     status=409)
