"""PrusaLink connector (v1 REST API of Prusa-Link-Web, spec/openapi.yaml): X-Api-Key authentication; GET
/api/v1/status (printer state and temperatures, job progress), GET /api/v1/job (file; 204 without a job), PUT
/api/v1/files/usb/<name> with ``Print-After-Upload: ?1``, DELETE /api/v1/job/<id> (stop).

Digest authentication (newer firmware's default) is not implemented: give the printer's API key.
Depends on httpx and fabgrid.dispatch.base only.
"""

from __future__ import annotations

from urllib.parse import quote

from fabgrid.dispatch.base import Connection, HostState, HostStatus, HttpHost, JobOutcome, busy, register

_STATES = {"IDLE": HostState.IDLE, "READY": HostState.IDLE, "FINISHED": HostState.IDLE, "STOPPED": HostState.IDLE,
           "BUSY": HostState.PRINTING, "PRINTING": HostState.PRINTING, "PAUSED": HostState.PAUSED,
           "ATTENTION": HostState.PAUSED, "ERROR": HostState.ERROR}


@register("prusalink")
class PrusaLink(HttpHost):
    """One PrusaLink printer (MK4, MINI, XL ...)."""

    name = "PrusaLink"

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, {"X-Api-Key": conn.api_key or ""})
        self._job_id: int | None = None
        self._last: str | None = None

    def status(self) -> HostStatus:
        """State and temperatures from /api/v1/status, the file from /api/v1/job."""
        doc = self.json(self.request("GET", "/api/v1/status"))
        p = doc.get("printer") or {}
        raw = str(p.get("state") or "")
        state = _STATES.get(raw, HostState.ERROR)
        temps: dict[str, tuple[float, float | None]] = {}
        for sensor, key in (("tool0", "nozzle"), ("bed", "bed")):
            if isinstance(p.get(f"temp_{key}"), int | float):
                target = p.get(f"target_{key}")
                temps[sensor] = (float(p[f"temp_{key}"]), float(target) if isinstance(target, int | float) else None)
        job = doc.get("job") or {}
        progress = job.get("progress")
        if isinstance(job.get("id"), int):
            self._job_id = int(job["id"])
        jr = self.request("GET", "/api/v1/job", ok=(200, 204))
        if jr.status_code == 200:
            self._last = ((self.json(jr).get("file") or {}).get("name")) or self._last
        outcome = {"FINISHED": JobOutcome.DONE, "STOPPED": JobOutcome.CANCELLED, "ERROR": JobOutcome.FAILED}.get(
            raw, JobOutcome.RUNNING if state in (HostState.PRINTING, HostState.PAUSED) else JobOutcome.NONE)
        return HostStatus(state, job=self._last if outcome is not JobOutcome.NONE else None, outcome=outcome,
                          progress=None if progress is None else float(progress) / 100.0, temperatures=temps,
                          message=raw)

    def start(self, name: str, data: bytes) -> str:
        """PUT the file to the USB storage with Print-After-Upload (the printer must be idle)."""
        st = self.status()
        if st.state is not HostState.IDLE:
            raise busy(self, st)
        self.request("PUT", f"/api/v1/files/usb/{quote(name)}", content=data,
                     headers={"Print-After-Upload": "?1", "Overwrite": "?1", "Content-Type": "text/x.gcode"})
        self._last = name
        return name

    def cancel(self) -> None:
        """Stop the current job (DELETE /api/v1/job/<id>)."""
        if self._job_id is None:
            self.status()
        if self._job_id is not None:
            self.request("DELETE", f"/api/v1/job/{self._job_id}", ok=(200, 204, 409))

    def pause(self) -> None:
        """Pause the current job (PUT /api/v1/job/<id>/pause; 409: it is not printing)."""
        if self._job_id is None:
            self.status()
        if self._job_id is not None:
            self.request("PUT", f"/api/v1/job/{self._job_id}/pause", ok=(200, 204, 409))
