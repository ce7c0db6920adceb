"""Protocol SIMULATORS of print hosts for the dispatch tests, written from the public specifications: PrusaLink's
v1 REST API (Prusa-Link-Web, spec/openapi.yaml: /api/v1/status, /api/v1/job, PUT /api/v1/files/usb/<name> with
Print-After-Upload, DELETE /api/v1/job/<id>; X-Api-Key). They are not the real hosts: a print "runs" for
`print_s` seconds of wall time. Real OctoPrint is tested with the real server (conftest.octoprint)."""

from __future__ import annotations

import contextlib
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
                if sim.job is not None and self.path == f"/api/v1/job/{sim.job['id']}/pause":
                    sim.tick()
                    if sim.state != "PRINTING":
                        self._send(409, {"title": "Conflict"})
                        return
                    sim.state = "PAUSED"
                    self._send(204)
                    return
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
                ours = sim.job is not None and self.path == f"/api/v1/job/{sim.job['id']}"
                if ours and sim.state in ("PRINTING", "PAUSED"):
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
                    if sim.state in ("printing", "paused"):
                        sim.state = "cancelled"
                    self._send(200, {"result": "ok"})
                elif self.path == "/printer/print/pause":
                    if sim.state != "printing":
                        self._send(400, {"error": {"code": 400, "message": "Print not in progress"}})
                        return
                    sim.state = "paused"
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


class BambuFtpsSimulator:
    """The printer's FTPS server, SIMULATED: implicit TLS from the first byte (as the printers' port 990), user
    ``bblp`` with the access code, PBSZ/PROT P, PASV and STOR with the data connection under TLS too; files are kept
    in `files` (name -> bytes). Only what an upload needs (USER PASS PBSZ PROT TYPE PASV STOR QUIT)."""

    def __init__(self, access_code: str, certfile: str, keyfile: str) -> None:
        import socket
        import ssl

        self.code = access_code
        self.files: dict[str, bytes] = {}
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stopping:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(raw,), daemon=True).start()

    def _session(self, raw: Any) -> None:
        import socket
        import ssl

        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        rfile = conn.makefile("rb")
        pasv: socket.socket | None = None
        user, authed = "", False

        def reply(line: str) -> None:
            conn.sendall((line + "\r\n").encode())

        try:
            reply("220 Bambu FTPS simulator")
            for line in rfile:
                cmd, _, arg = line.decode().strip().partition(" ")
                cmd = cmd.upper()
                if cmd == "USER":
                    user = arg
                    reply("331 password please")
                elif cmd == "PASS":
                    authed = user == "bblp" and arg == self.code
                    reply("230 logged in" if authed else "530 Login incorrect.")
                elif not authed and cmd != "QUIT":
                    reply("530 Please login with USER and PASS.")
                elif cmd in ("PBSZ", "PROT", "TYPE"):
                    reply("200 OK")
                elif cmd == "PASV":
                    pasv = socket.create_server(("127.0.0.1", 0))
                    p = pasv.getsockname()[1]
                    reply(f"227 Entering Passive Mode (127,0,0,1,{p >> 8},{p & 255})")
                elif cmd == "STOR" and pasv is not None:
                    reply("150 Ok to send data.")
                    data_raw, _ = pasv.accept()
                    pasv.close()
                    pasv = None
                    data = self.ctx.wrap_socket(data_raw, server_side=True)
                    chunks = []
                    while True:
                        b = data.recv(65536)
                        if not b:
                            break
                        chunks.append(b)
                    with contextlib.suppress(OSError, ssl.SSLError):
                        data.unwrap()
                    data.close()
                    self.files[arg.lstrip("/")] = b"".join(chunks)
                    reply("226 Transfer complete.")
                elif cmd == "QUIT":
                    reply("221 Goodbye.")
                    break
                else:
                    reply("502 Command not implemented.")
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def __enter__(self) -> BambuFtpsSimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping = True
        self.sock.close()


class BambuPrinterSimulator:
    """A Bambu Lab printer in LAN mode, SIMULATED as an MQTT client of a real broker (the real printer runs its own
    broker; the tests run Mosquitto with TLS and a password file in its place). From OpenBambuAPI's mqtt.md: it
    answers ``pushing.pushall`` on ``device/<serial>/report`` with the whole ``print`` object, sends only the
    changed fields while printing (as P1/A1 printers do), runs ``print.project_file`` of a 3MF uploaded to its FTPS
    storage (`ftps.files`) for `print_s` seconds of wall time, and obeys pause, resume and stop (stop: FAILED with
    print_error 50348044). `material` is the external spool's filament type (vt_tray)."""

    def __init__(self, broker_port: int, serial: str, access_code: str, ftps: BambuFtpsSimulator, *,
                 tls: bool = True, print_s: float = 3.0, layers: int = 25, material: str = "PETG") -> None:
        import ssl

        import paho.mqtt.client as mqtt

        self.serial, self.ftps, self.print_s, self.layers = serial, ftps, print_s, layers
        self.state: dict[str, Any] = {
            "command": "push_status", "gcode_state": "IDLE", "mc_percent": 0, "layer_num": 0, "total_layer_num": 0,
            "nozzle_temper": 26.0, "nozzle_target_temper": 0, "bed_temper": 24.0, "bed_target_temper": 0,
            "subtask_name": "", "gcode_file": "", "print_error": 0,
            "vt_tray": {"id": "254", "tray_type": material}, "ams": {"ams": [], "tray_now": "255"}}
        self.commands: list[dict[str, Any]] = []
        self.started = 0.0
        self.paused_at: float | None = None
        self.lock = threading.Lock()
        self.client = mqtt.Client(client_id=f"printer-{serial}", protocol=mqtt.MQTTv311)
        self.client.username_pw_set("bblp", access_code)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            self.client.tls_set_context(ctx)
        self.client.on_message = self._on_message
        self.broker_port = broker_port
        self.stopping = threading.Event()
        self.ticker = threading.Thread(target=self._tick_loop, daemon=True)

    def _publish(self, fields: dict[str, Any]) -> None:
        self.client.publish(f"device/{self.serial}/report", json.dumps({"print": fields}), qos=0)

    def _answer(self, req: dict[str, Any], result: str = "success", reason: str = "") -> None:
        self._publish({**req, "result": result, "reason": reason})

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        doc = json.loads(msg.payload)
        if "pushing" in doc:
            with self.lock:
                full = json.loads(json.dumps(self.state))
            self._publish(full)
            return
        req = doc.get("print") or {}
        self.commands.append(req)
        cmd = req.get("command")
        with self.lock:
            st = self.state["gcode_state"]
            if cmd == "project_file":
                file = str(req.get("url", "")).removeprefix("file:///sdcard/")
                if st in ("RUNNING", "PREPARE", "PAUSE"):
                    self._answer(req, "failed", "printer is busy")
                    return
                if file not in self.ftps.files:
                    self._answer(req, "failed", f"file {file} not found")
                    return
                import io
                import zipfile

                with zipfile.ZipFile(io.BytesIO(self.ftps.files[file])) as z:
                    z.read(str(req.get("param")))  # KeyError -> the test sees a broken 3MF
                self.state.update(gcode_state="RUNNING", subtask_name=req.get("subtask_name", file),
                                  gcode_file=file, mc_percent=0, layer_num=0, total_layer_num=self.layers,
                                  print_error=0, nozzle_temper=220.0, nozzle_target_temper=220,
                                  bed_temper=70.0, bed_target_temper=70)
                self.started = time.monotonic()
            elif cmd == "stop" and st in ("RUNNING", "PAUSE", "PREPARE"):
                self.state.update(gcode_state="FAILED", print_error=50348044, nozzle_target_temper=0,
                                  bed_target_temper=0)
            elif cmd == "pause" and st == "RUNNING":
                self.state["gcode_state"], self.paused_at = "PAUSE", time.monotonic()
            elif cmd == "resume" and st == "PAUSE" and self.paused_at is not None:
                self.started += time.monotonic() - self.paused_at
                self.state["gcode_state"], self.paused_at = "RUNNING", None
        self._answer(req)

    def _tick_loop(self) -> None:
        while not self.stopping.wait(0.25):
            with self.lock:
                if self.state["gcode_state"] != "RUNNING":
                    continue
                frac = min(1.0, (time.monotonic() - self.started) / self.print_s)
                delta: dict[str, Any] = {"command": "push_status", "mc_percent": int(frac * 100),
                                         "layer_num": int(frac * self.layers)}
                if frac >= 1.0:
                    delta.update(gcode_state="FINISH", nozzle_target_temper=0, bed_target_temper=0)
                self.state.update(delta)
            self._publish(delta)  # only what changed, as P1/A1 printers report

    def __enter__(self) -> BambuPrinterSimulator:
        self.client.connect("127.0.0.1", self.broker_port)
        self.client.subscribe(f"device/{self.serial}/request", qos=1)
        self.client.loop_start()
        self.ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.client.loop_stop()
        self.client.disconnect()
