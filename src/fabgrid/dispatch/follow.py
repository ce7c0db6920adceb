"""A host's readings turned into fabgrid machine events (the JSON-lines format of `fabgrid.domain.telemetry`):
a state event when the printer's state changes, job start/end events with the build's counts, temperature
events, and progress as layer events (``basis: "percent"`` when the host reports file progress, not layers).

Pure: no I/O; message ids are ``<job>:<run>:<n>`` (`run`: one follow of the job), so each event is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fabgrid.dispatch.base import HostState, HostStatus, JobOutcome

#: fabgrid machine state (ISO 22400 time model) of each host state.
MACHINE_STATE = {HostState.IDLE: "idle", HostState.PRINTING: "producing", HostState.PAUSED: "unplanned_downtime",
                 HostState.ERROR: "unplanned_downtime", HostState.OFFLINE: "offline"}


@dataclass
class Follower:
    """Turns successive `HostStatus` readings of one job on one machine into events."""

    job: str
    run: str
    machine: str
    site: str | None
    copies: int
    planned_unit_s: float
    seq: int = 0
    last_state: str | None = None
    last_pct: int = -1
    started: bool = False
    ended: bool = False
    temps: dict[str, float] = field(default_factory=dict)

    def _ev(self, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {"id": f"{self.job}:{self.run}:{self.seq}", "ts": at.isoformat(), "machine": self.machine,
                "site": self.site, "type": kind, **fields}

    def start(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """The job start event (on upload)."""
        self.started = True
        return [self._ev("job", at or datetime.now(UTC), event="start", job=self.job)]

    def read(self, st: HostStatus, at: datetime | None = None) -> list[dict[str, Any]]:
        """Events for one reading: state change, temperatures that moved by 1 degC or more, progress per whole
        percent (or layer), and the job end once the outcome is final."""
        at = at or datetime.now(UTC)
        out: list[dict[str, Any]] = []
        state = MACHINE_STATE[st.state]
        if state != self.last_state:
            out.append(self._ev("state", at, state=state, host_state=st.state.value, message=st.message[:200]))
            self.last_state = state
        for sensor, (actual, target) in sorted(st.temperatures.items()):
            if abs(actual - self.temps.get(sensor, -1e9)) >= 1.0:
                self.temps[sensor] = actual
                out.append(self._ev("temperature", at, sensor=sensor, temperature_c=round(actual, 1),
                                    target_c=target, job=self.job))
        if st.layer is not None:
            if st.layer > self.last_pct:
                self.last_pct = st.layer
                out.append(self._ev("layer", at, job=self.job, layer=st.layer, layers=st.layers))
        elif st.progress is not None and st.outcome in (JobOutcome.RUNNING, JobOutcome.DONE):
            pct = int(st.progress * 100)
            if pct > self.last_pct:
                self.last_pct = pct
                out.append(self._ev("layer", at, job=self.job, layer=pct, layers=100, basis="percent"))
        if st.outcome in (JobOutcome.DONE, JobOutcome.CANCELLED, JobOutcome.FAILED) and not self.ended:
            out.extend(self.end(st.outcome, at))
        return out

    def camera(self, score: float, threshold: float, streak: int, at: datetime | None = None) -> list[dict[str, Any]]:
        """The event of one scored camera frame (`streak`: anomalous frames in a row, this one included)."""
        return [self._ev("camera", at or datetime.now(UTC), job=self.job, score=round(score, 4),
                         threshold=round(threshold, 4), anomalous=score > threshold, streak=streak)]

    def end(self, outcome: JobOutcome, at: datetime | None = None, reason: str = "") -> list[dict[str, Any]]:
        """The job end event: the build's copies good when done, else scrap (they go back to the queue)."""
        self.ended = True
        good = self.copies if outcome is JobOutcome.DONE else 0
        return [self._ev("job", at or datetime.now(UTC), event="end", job=self.job, good=good,
                         scrap=self.copies - good, planned_unit_s=self.planned_unit_s, outcome=outcome.value,
                         reason=reason[:200])]
