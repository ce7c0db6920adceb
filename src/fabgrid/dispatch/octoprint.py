"""OctoPrint connector (REST API, docs.octoprint.org/en/1.11.x/api): X-Api-Key authentication; GET /api/printer
(state flags, temperatures; 409 when no printer is connected), GET /api/job (file, progress, state), POST
/api/files/local (multipart upload with ``print=true``), POST /api/job ``{"command": "cancel"}``.

Depends on httpx and fabgrid.dispatch.base only.
"""

from __future__ import annotations

from typing import Any

from fabgrid.dispatch.base import Connection, HostState, HostStatus, HttpHost, JobOutcome, busy, register


@register("octoprint")
class OctoPrint(HttpHost):
    """One OctoPrint server and the printer connected to it."""

    name = "OctoPrint"

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, {"X-Api-Key": conn.api_key or ""})
        self._ours: str | None = None

    def status(self) -> HostStatus:
        """Printer state and temperatures from /api/printer, job and progress from /api/job."""
        r = self.request("GET", "/api/printer", ok=(200, 409))
        if r.status_code == 409:  # "Printer is not operational"
            return HostStatus(HostState.OFFLINE, message="no printer connected to OctoPrint")
        printer = self.json(r)
        flags: dict[str, Any] = (printer.get("state") or {}).get("flags") or {}
        text = str((printer.get("state") or {}).get("text") or "")
        temps: dict[str, tuple[float, float | None]] = {}
        for sensor, t in (printer.get("temperature") or {}).items():
            if isinstance(t, dict) and isinstance(t.get("actual"), int | float):
                temps[sensor] = (float(t["actual"]), None if t.get("target") is None else float(t["target"]))
        job = self.json(self.request("GET", "/api/job"))
        name = ((job.get("job") or {}).get("file") or {}).get("name")
        completion = (job.get("progress") or {}).get("completion")
        progress = None if completion is None else max(0.0, min(1.0, float(completion) / 100.0))
        if flags.get("error") or flags.get("closedOrError"):
            state, outcome = HostState.ERROR, JobOutcome.FAILED if name else JobOutcome.NONE
        elif flags.get("paused") or flags.get("pausing"):
            state, outcome = HostState.PAUSED, JobOutcome.RUNNING
        elif flags.get("printing") or flags.get("cancelling") or flags.get("finishing"):
            state, outcome = HostState.PRINTING, JobOutcome.RUNNING
        else:
            state = HostState.IDLE
            if not name:
                outcome = JobOutcome.NONE
            elif progress is not None and progress >= 0.9999:
                outcome = JobOutcome.DONE
            else:
                outcome = JobOutcome.CANCELLED
        return HostStatus(state, job=name, outcome=outcome, progress=progress, temperatures=temps,
                          message=text or str(job.get("state") or ""))

    def start(self, name: str, data: bytes) -> str:
        """Upload `name` to local storage with print=true (the printer must be idle)."""
        st = self.status()
        if st.state is not HostState.IDLE:
            raise busy(self, st)
        self.request("POST", "/api/files/local", files={"file": (name, data, "application/octet-stream")},
                     data={"select": "true", "print": "true"})
        self._ours = name
        return name

    def cancel(self) -> None:
        """Cancel the job (409 from OctoPrint: nothing is printing, which is fine)."""
        self.request("POST", "/api/job", json={"command": "cancel"}, ok=(200, 204, 409))

    def pause(self) -> None:
        """Pause the job (``action: pause`` does nothing to a paused job; 409: nothing is printing)."""
        self.request("POST", "/api/job", json={"command": "pause", "action": "pause"}, ok=(200, 204, 409))
