"""Moonraker connector (Klipper's API server, moonraker.readthedocs.io, web API): optional X-Api-Key
authentication; GET /printer/info (Klippy ready?), GET /printer/objects/query?print_stats&virtual_sdcard&extruder&
heater_bed (job state, file, progress, layers, temperatures), POST /server/files/upload (multipart, ``root=gcodes``,
``print=true``), POST /printer/print/cancel.

Depends on httpx and fabgrid.dispatch.base only.
"""

from __future__ import annotations

from typing import Any

from fabgrid.dispatch.base import Connection, HostState, HostStatus, HttpHost, JobOutcome, busy, register

_JOB = {"standby": (HostState.IDLE, JobOutcome.NONE), "printing": (HostState.PRINTING, JobOutcome.RUNNING),
        "paused": (HostState.PAUSED, JobOutcome.RUNNING), "complete": (HostState.IDLE, JobOutcome.DONE),
        "cancelled": (HostState.IDLE, JobOutcome.CANCELLED), "error": (HostState.ERROR, JobOutcome.FAILED)}


@register("moonraker")
class Moonraker(HttpHost):
    """One Moonraker server and its Klipper printer."""

    name = "Moonraker"

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, {"X-Api-Key": conn.api_key} if conn.api_key else {})

    def status(self) -> HostStatus:
        """Klippy's state, then the print objects."""
        info: dict[str, Any] = self.json(self.request("GET", "/printer/info")).get("result") or {}
        if info.get("state") != "ready":
            return HostStatus(HostState.OFFLINE, message=str(info.get("state_message") or info.get("state") or ""))
        doc = self.json(self.request("GET", "/printer/objects/query",
                                     params="print_stats&virtual_sdcard&extruder&heater_bed"))
        objs: dict[str, Any] = (doc.get("result") or {}).get("status") or {}
        ps: dict[str, Any] = objs.get("print_stats") or {}
        state, outcome = _JOB.get(str(ps.get("state")), (HostState.ERROR, JobOutcome.FAILED))
        temps: dict[str, tuple[float, float | None]] = {}
        for sensor, key in (("tool0", "extruder"), ("bed", "heater_bed")):
            t = objs.get(key) or {}
            if isinstance(t.get("temperature"), int | float):
                target = t.get("target")
                temps[sensor] = (float(t["temperature"]), float(target) if isinstance(target, int | float) else None)
        layer_info: dict[str, Any] = ps.get("info") or {}
        layer, layers = layer_info.get("current_layer"), layer_info.get("total_layer")
        progress = (objs.get("virtual_sdcard") or {}).get("progress")
        return HostStatus(state, job=ps.get("filename") or None, outcome=outcome,
                          progress=None if progress is None else float(progress), temperatures=temps,
                          message=str(ps.get("message") or ps.get("state") or ""),
                          layer=int(layer) if isinstance(layer, int) else None,
                          layers=int(layers) if isinstance(layers, int) else None)

    def start(self, name: str, data: bytes) -> str:
        """Upload to the gcodes root with print=true (the printer must be idle)."""
        st = self.status()
        if st.state is not HostState.IDLE:
            raise busy(self, st)
        self.request("POST", "/server/files/upload", files={"file": (name, data, "application/octet-stream")},
                     data={"root": "gcodes", "print": "true"})
        return name

    def cancel(self) -> None:
        """Cancel the print."""
        self.request("POST", "/printer/print/cancel", ok=(200, 400))

    def pause(self) -> None:
        """Pause the print (400: nothing is printing)."""
        self.request("POST", "/printer/print/pause", ok=(200, 400))
