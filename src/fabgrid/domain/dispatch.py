"""Typed records of dispatch: a machine's link to its print host (never its secrets) and a planned build with
its parts and status. Pydantic v2; no I/O, no database, no HTTP.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ConnectionState(StrEnum):
    """The outcome of the last check of a machine's host."""

    CONNECTED = "connected"
    UNREACHABLE = "unreachable"
    UNAUTHORIZED = "unauthorized"
    ERROR = "error"


class MachineSource(StrEnum):
    """Where a machine's data comes from, as its page says: a real print host, telemetry (MQTT / OPC UA), the
    simulated demo fleet, or nothing yet."""

    CONNECTED = "connected"
    TELEMETRY = "telemetry"
    SIMULATED = "simulated"
    NO_DATA = "no_data"


class BuildStatus(StrEnum):
    """Where a build is: planned -> sending (slicing, uploading: claimed by one dispatch) -> printing -> done |
    failed | cancelled (failed and cancelled free its lines; a refused send goes back to planned)."""

    PLANNED = "planned"
    SENDING = "sending"
    PRINTING = "printing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """True while the build holds its order lines."""
        return self in (BuildStatus.PLANNED, BuildStatus.SENDING, BuildStatus.PRINTING, BuildStatus.DONE)

    @property
    def final(self) -> bool:
        """True once the machine run is over."""
        return self in (BuildStatus.DONE, BuildStatus.FAILED, BuildStatus.CANCELLED)


class MachineConnection(BaseModel):
    """A machine linked to its print host: kind, host address without credentials, last check."""

    model_config = ConfigDict(frozen=True)

    machine_id: str
    site_id: str
    kind: str
    host: str = Field(description="scheme://host:port of the URL, no path or credentials")
    state: ConnectionState
    message: str = ""
    checked_at: datetime | None = None


class BuildPart(BaseModel):
    """Copies of one part in a build, and the order line they fill (None: the factory's own part)."""

    model_config = ConfigDict(frozen=True)

    name: str
    copies: int = Field(ge=1)
    line_id: str | None = None
    order_id: str | None = None


class PlannedBuild(BaseModel):
    """A build as stored: machine, material, parts, status and the host's job."""

    model_config = ConfigDict(frozen=True)

    id: str
    site_id: str
    machine_id: str | None
    machine_model: str
    process: str
    material: str
    status: BuildStatus
    estimated_time_s: float = Field(ge=0)
    parts: tuple[BuildPart, ...]
    model_file: str | None = None
    host_job: str | None = None
    message: str = ""
    locked: bool = Field(default=False, description="kept as it is when the site is re-planned")
    picture: str | None = None
    operator: str = Field(default="", description="who started the build on its machine (empty: the command line)")
    created_at: datetime
    updated_at: datetime

    @property
    def copies(self) -> int:
        """Parts in the build."""
        return sum(p.copies for p in self.parts)
