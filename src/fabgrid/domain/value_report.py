"""The operator's value report (issue 22, item 4): a comparison of the traditional and the fabgrid policy run by
the simulator in the background, with the options it was asked with, its progress and, once done, its document.

Plain records; no I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class ValueReportStatus(StrEnum):
    """Where a value report stands: waiting for a worker, simulating, done, or failed (with its problem)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ValueReport(BaseModel):
    """One value report: `options` as asked (days, seeds, seed, parts, sites, scale, disruptions, assumptions),
    `progress` (runs done of runs in all), `doc` (the simulator's comparison, NaN as null) and `charts`
    (chart key -> base64 PNG) once it succeeded, `problem` (RFC 9457 fields) when it failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    status: ValueReportStatus
    options: dict[str, Any]
    requested_by: int
    job_id: str | None = None
    runs_done: int = 0
    runs_total: int = 0
    doc: dict[str, Any] | None = None
    charts: dict[str, str] | None = None
    problem: dict[str, Any] | None = None
    created_at: datetime
    finished_at: datetime | None = None
