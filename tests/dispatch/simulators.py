"""Protocol SIMULATORS of print hosts for the dispatch tests, written from the public specifications: PrusaLink's
v1 REST API (Prusa-Link-Web, spec/openapi.yaml: /api/v1/status, /api/v1/job, PUT /api/v1/files/usb/<name> with
Print-After-Upload, DELETE /api/v1/job/<id>; X-Api-Key). They are not the real hosts: a print "runs" for
`print_s` seconds of wall time. Real OctoPrint is tested with the real server (conftest.octoprint)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class PrusaLinkSimulator:
    """A PrusaLink printer simulator on 127.0.0.1:`port`."""

    def __init__(self, api_key: str, print_s: float = 3.0) -> None:
        self.api_key = api_key
        self.print_s = print_s
        self.state = "IDLE"
        self.job: dict[str, Any] | None = None
        self.started = 0.0
        self.uploads: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, doc: Any = None) -> None:
                body = b"" if doc is None else json.dumps(doc).encode()
                self.send_response(code)
                if doc is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _auth(self) -> bool:
                if self.headers.get("X-Api-Key") != sim.api_key:
                    self._send(401, {"title": "Unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._auth():
                    return
                sim.tick()
                if self.path == "/api/v1/status":
                    job = {} if sim.job is None else {"id": sim.job["id"], "progress": sim.progress(),
                                                     "time_remaining": 0}
                    printing = sim.state == "PRINTING"
                    self._send(200, {"printer": {"state": sim.state, "temp_nozzle": 215.0 if printing else 24.0,
                                                 "target_nozzle": 215.0 if printing else 0.0,
                                                 "temp_bed": 60.0 if printing else 23.8,
                                                 "target_bed": 60.0 if printing else 0.0}, "job": job})
                elif self.path == "/api/v1/job":
                    if sim.job is None:
                        self._send(204)
                    else:
                        self._send(200, {"id": sim.job["id"], "state": sim.state, "progress": sim.progress(),
                                         "file": {"name": sim.job["name"], "display_name": sim.job["name"]}})
                else:
                    self._send(404, {"title": "Not Found"})

            def do_PUT(self) -> None:
                if not self._auth():
                    return
                size = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(size)
                if not self.path.startswith("/api/v1/files/usb/"):
                    self._send(404, {"title": "Not Found"})
                    return
                sim.tick()
                if sim.state in ("PRINTING", "PAUSED", "BUSY"):
                    self._send(409, {"title": "Conflict", "message": "printer is busy"})
                    return
                name = unquote(self.path.rsplit("/", 1)[1])
                sim.uploads.append((name, len(data), self.headers.get("Print-After-Upload", "")))
                if self.headers.get("Print-After-Upload") == "?1":
                    with sim.lock:
                        sim.job = {"id": len(sim.uploads), "name": name}
                        sim.state, sim.started = "PRINTING", time.monotonic()
                self._send(201)

            def do_DELETE(self) -> None:
                if not self._auth():
                    return
                if sim.job is not None and self.path == f"/api/v1/job/{sim.job['id']}" and sim.state == "PRINTING":
                    sim.state = "STOPPED"
                    self._send(204)
                else:
                    self._send(409, {"title": "Conflict"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def progress(self) -> float:
        if self.state == "FINISHED":
            return 100.0
        return min(100.0, 100.0 * (time.monotonic() - self.started) / self.print_s)

    def tick(self) -> None:
        with self.lock:
            if self.state == "PRINTING" and time.monotonic() - self.started >= self.print_s:
                self.state = "FINISHED"

    def __enter__(self) -> PrusaLinkSimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()  # returns at once when a test already stopped it
        self.server.server_close()


class MoonrakerSimulator:
    """A Moonraker (Klipper) API SIMULATOR on 127.0.0.1, from Moonraker's web API documentation:
    /printer/info, /printer/objects/query (print_stats with layer info, virtual_sdcard, extruder, heater_bed),
    POST /server/files/upload (multipart; root=gcodes, print=true), POST /printer/print/cancel; X-Api-Key."""

    def __init__(self, api_key: str | None, print_s: float = 3.0, layers: int = 20) -> None:
        self.api_key, self.print_s, self.layers = api_key, print_s, layers
        self.state, self.filename, self.started = "standby", "", 0.0
        self.uploads: list[str] = []
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _auth(self) -> bool:
                if sim.api_key is not None and self.headers.get("X-Api-Key") != sim.api_key:
                    self._send(401, {"error": {"code": 401, "message": "Unauthorized"}})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._auth():
                    return
                sim.tick()
                if self.path == "/printer/info":
                    self._send(200, {"result": {"state": "ready", "state_message": "Printer is ready"}})
                elif self.path.startswith("/printer/objects/query"):
                    frac = sim.fraction()
                    hot = sim.state == "printing"
                    self._send(200, {"result": {"eventtime": time.monotonic(), "status": {
                        "print_stats": {"state": sim.state, "filename": sim.filename, "message": "",
                                        "info": {"current_layer": int(frac * sim.layers), "total_layer": sim.layers}},
                        "virtual_sdcard": {"progress": frac},
                        "extruder": {"temperature": 215.0 if hot else 25.0, "target": 215.0 if hot else 0.0},
                        "heater_bed": {"temperature": 60.0 if hot else 24.0, "target": 60.0 if hot else 0.0}}}})
                else:
                    self._send(404, {"error": {"code": 404, "message": "Not Found"}})

            def do_POST(self) -> None:
                if not self._auth():
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sim.tick()
                if self.path == "/server/files/upload":
                    m = re.search(rb'filename="([^"]+)"', body)
                    name = m.group(1).decode() if m else "upload.gcode"
                    sim.uploads.append(name)
                    start = re.search(rb'name="print"\r\n\r\ntrue', body) is not None
                    if start and sim.state == "printing":
                        self._send(400, {"error": {"code": 400, "message": "Printer is busy"}})
                        return
                    if start:
                        sim.state, sim.filename, sim.started = "printing", name, time.monotonic()
                    self._send(201, {"item": {"path": name, "root": "gcodes"}, "print_started": start,
                                     "action": "create_file"})
                elif self.path == "/printer/print/cancel":
                    if sim.state == "printing":
                        sim.state = "cancelled"
                    self._send(200, {"result": "ok"})
                else:
                    self._send(404, {"error": {"code": 404, "message": "Not Found"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fraction(self) -> float:
        if self.state == "complete":
            return 1.0
        if self.state != "printing":
            return 0.0
        return min(1.0, (time.monotonic() - self.started) / self.print_s)

    def tick(self) -> None:
        if self.state == "printing" and time.monotonic() - self.started >= self.print_s:
            self.state = "complete"

    def __enter__(self) -> MoonrakerSimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
