"""Bambu Lab LAN-mode connector (X1, P1, A1 series), from the community documentation of the printer's local
protocol (OpenBambuAPI: mqtt.md, ftp.md):

- MQTT 3.1.1 over TLS on port 8883 of the printer, user ``bblp``, password the printer's LAN access code. The
  printer reports on ``device/<serial>/report`` (``print.push_status``: ``gcode_state`` IDLE, PREPARE, RUNNING,
  PAUSE, FINISH, FAILED; ``mc_percent``, ``layer_num``/``total_layer_num``, nozzle/bed temperatures, ``subtask_name``,
  ``print_error``, the AMS trays and the external spool ``vt_tray``). P1/A1 printers send only the fields that
  changed, so readings are merged; ``pushing.pushall`` asks for the whole object.
- Commands go to ``device/<serial>/request``: ``print.project_file`` (print plate ``Metadata/plate_1.gcode`` of a
  3MF on the printer's storage), ``print.pause``, ``print.resume``, ``print.stop``.
- Files go up over implicit FTPS on port 990 (same user and access code; the data connection reuses the control
  connection's TLS session, which the printer requires).

The URL is ``mqtts://HOST`` (port 8883) or ``mqtts://HOST:PORT``; ``?ftp_port=N`` names another FTPS port (990).
``mqtt://`` (no TLS) exists for brokers without TLS. The printers' certificates are signed by Bambu Lab's own CA
and name the serial, not the address, so the certificate is not verified (the access code authenticates us to the
printer, nothing authenticates the printer to us: a documented limitation of LAN mode).

A print file named ``*.gcode`` is wrapped as a one-plate 3MF (``Metadata/plate_1.gcode`` and its MD5) before the
upload. A stopped print reports FAILED with ``print_error`` 50348044 (0x0300400C, "print cancelled" in the
printers' error list): that is read as cancelled. Depends on paho-mqtt, the standard library and
fabgrid.dispatch.base only.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import secrets
import socket
import ssl
import threading
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as mqtt

from fabgrid.dispatch.base import TIMEOUT_S, Connection, HostError, HostState, HostStatus, JobOutcome, register
from fabgrid.errors import InputError

#: ``print_error`` of a print stopped by the user (0x0300400C).
CANCELLED_ERROR = 50348044
PLATE = "Metadata/plate_1.gcode"

_STATES: dict[str, tuple[HostState, JobOutcome]] = {
    "IDLE": (HostState.IDLE, JobOutcome.NONE), "PREPARE": (HostState.PRINTING, JobOutcome.RUNNING),
    "SLICING": (HostState.PRINTING, JobOutcome.RUNNING), "RUNNING": (HostState.PRINTING, JobOutcome.RUNNING),
    "PAUSE": (HostState.PAUSED, JobOutcome.RUNNING), "FINISH": (HostState.IDLE, JobOutcome.DONE),
    "FAILED": (HostState.ERROR, JobOutcome.FAILED)}


def plate_3mf(gcode: bytes) -> bytes:
    """A one-plate 3MF holding `gcode` as ``Metadata/plate_1.gcode`` with its MD5 (what project_file prints)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="gcode" ContentType="text/'
                   'x.gcode"/><Default Extension="md5" ContentType="text/plain"/></Types>')
        z.writestr(PLATE, gcode)
        z.writestr(PLATE + ".md5", hashlib.md5(gcode).hexdigest().upper())
    return buf.getvalue()


class _ImplicitFTPS(ftplib.FTP_TLS):
    """ftplib's FTPS with TLS from the first byte (port 990) and the control session reused for data."""

    def connect(self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None) -> str:
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((host, port), self.timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)  # type: ignore[union-attr]
        return conn, size


def _tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # Bambu Lab's own CA, certificate names the serial (see the module doc)
    return ctx


@register("bambu")
class Bambu:
    """One Bambu Lab printer in LAN mode."""

    name = "Bambu Lab"

    def __init__(self, conn: Connection) -> None:
        u = urlsplit(conn.url)
        if u.scheme not in ("mqtts", "mqtt") or not u.hostname:
            raise InputError(f"Bambu Lab URL {conn.url!r} is not mqtts://HOST[:PORT]",
                             hint="write e.g. mqtts://192.168.1.30 (the printer's address)", code="dispatch.url")
        if not conn.serial or not conn.access_code:
            raise InputError("a Bambu Lab printer needs its serial and LAN access code",
                             hint="add --serial SERIAL --access-code CODE (the printer's network settings show "
                             "them in LAN mode)", code="dispatch.api_key")
        self.conn = conn
        self.tls = u.scheme == "mqtts"
        self.host = u.hostname
        self.port: int = u.port or (8883 if self.tls else 1883)
        self.ftp_port = int(parse_qs(u.query).get("ftp_port", ["990"])[0])
        self.serial, self.code = conn.serial, conn.access_code
        self.report: dict[str, Any] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.reports = 0
        self.cv = threading.Condition()
        self.seq = 0
        self.client: mqtt.Client | None = None
        self.connack: int | None = None

    # --- MQTT -----------------------------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: int) -> None:
        with self.cv:
            self.connack = rc
            self.cv.notify_all()
        if rc == 0:
            client.subscribe(f"device/{self.serial}/report", qos=0)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        p = doc.get("print") if isinstance(doc, dict) else None
        if not isinstance(p, dict):
            return
        with self.cv:
            if p.get("command") == "push_status":
                self.report.update(p)
                self.reports += 1
            elif "sequence_id" in p:
                self.results[str(p["sequence_id"])] = p
            self.cv.notify_all()

    def _unreachable(self, why: str) -> HostError:
        return HostError(f"{self.name} {self.serial} at {self.host}:{self.port} {why}",
                         hint="check the address, that LAN mode is on and the printer is on the network",
                         code="dispatch.unreachable", status=502)

    def _client(self) -> mqtt.Client:
        if self.client is not None and self.client.is_connected():
            return self.client
        if self.client is not None:
            self._drop()
        c = mqtt.Client(client_id=f"fabgrid-{secrets.token_hex(4)}", protocol=mqtt.MQTTv311, clean_session=True)
        c.username_pw_set("bblp", self.code)
        if self.tls:
            c.tls_set_context(_tls_context())
        c.on_connect, c.on_message = self._on_connect, self._on_message
        self.connack = None
        try:
            c.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise self._unreachable(f"cannot be reached ({type(exc).__name__}: {exc})") from None
        c.loop_start()
        with self.cv:
            self.cv.wait_for(lambda: self.connack is not None, TIMEOUT_S)
            rc = self.connack
        if rc != 0:
            c.loop_stop()
            c.disconnect()
            if rc in (4, 5):
                raise HostError(f"{self.name} {self.serial} at {self.host} refused the access code (MQTT CONNACK "
                                f"{rc})", hint="give the LAN access code again: `machines connect ... "
                                "--access-code`", code="dispatch.unauthorized", status=502)
            raise self._unreachable("did not accept the MQTT connection" if rc is None
                                    else f"refused the MQTT connection (CONNACK {rc})")
        self.client = c
        return c

    def _drop(self) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()
            self.client = None

    def _request(self, body: dict[str, Any], *, qos: int = 1) -> str:
        c = self._client()
        with self.cv:
            self.seq += 1
            seq = str(self.seq)
        kind = next(iter(body))
        body[kind]["sequence_id"] = seq
        info = c.publish(f"device/{self.serial}/request", json.dumps(body), qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._drop()
            raise self._unreachable(f"lost the MQTT connection (publish: {mqtt.error_string(info.rc)})")
        return seq

    def _answer(self, seq: str, timeout_s: float) -> dict[str, Any] | None:
        with self.cv:
            self.cv.wait_for(lambda: seq in self.results, timeout_s)
            return self.results.pop(seq, None)

    # --- the connector contract ---------------------------------------------------------------------------
    def status(self) -> HostStatus:
        """Ask for the whole report (pushall) and read it, merged with the deltas received before."""
        with self.cv:
            before = self.reports
        self._request({"pushing": {"command": "pushall"}}, qos=0)
        with self.cv:
            if not self.cv.wait_for(lambda: self.reports > before, TIMEOUT_S):
                self._drop()
                raise self._unreachable(f"sent no report within {TIMEOUT_S:g} s")
            p = dict(self.report)
        raw = str(p.get("gcode_state") or "")
        state, outcome = _STATES.get(raw, (HostState.ERROR, JobOutcome.FAILED))
        err = p.get("print_error")
        message = raw
        if raw == "FAILED" and err == CANCELLED_ERROR:
            state, outcome, message = HostState.IDLE, JobOutcome.CANCELLED, "FAILED (cancelled)"
        elif raw == "FAILED":
            message = f"FAILED (print_error {err})"
        temps: dict[str, tuple[float, float | None]] = {}
        for sensor, key in (("tool0", "nozzle"), ("bed", "bed")):
            if isinstance(p.get(f"{key}_temper"), int | float):
                target = p.get(f"{key}_target_temper")
                temps[sensor] = (float(p[f"{key}_temper"]), float(target) if isinstance(target, int | float) else None)
        if isinstance(p.get("chamber_temper"), int | float):
            temps["chamber"] = (float(p["chamber_temper"]), None)
        pct, layer, layers = p.get("mc_percent"), p.get("layer_num"), p.get("total_layer_num")
        counted = isinstance(layer, int) and isinstance(layers, int) and layers > 0
        layer_n, layers_n = (int(layer), int(layers)) if counted else (None, None)  # type: ignore[arg-type]
        return HostStatus(state, job=(p.get("subtask_name") or None) if outcome is not JobOutcome.NONE else None,
                          outcome=outcome, progress=float(pct) / 100.0 if isinstance(pct, int | float) else None,
                          temperatures=temps, material=_material(p), message=message,
                          layer=layer_n, layers=layers_n)

    def start(self, name: str, data: bytes) -> str:
        """Upload the print file over FTPS (a G-code wrapped as a 3MF) and start it with print.project_file."""
        st = self.status()
        if st.state is not HostState.IDLE:
            raise HostError(f"{self.name} {self.serial} is {st.state.value}" + (f" ({st.job})" if st.job else "")
                            + ": the build waits until it is idle", hint="dispatch again when the printer is idle, "
                            "or cancel its job", code="dispatch.busy", status=409)
        if name.endswith(".gcode"):
            plate = data
            data, file = plate_3mf(data), name + ".3mf"
        else:
            plate, file = b"", name
        self._upload(file, data)
        seq = self._request({"print": {
            "command": "project_file", "param": PLATE, "project_id": "0", "profile_id": "0", "task_id": "0",
            "subtask_id": "0", "subtask_name": name, "url": f"file:///sdcard/{file}",
            "md5": hashlib.md5(plate).hexdigest() if plate else "",
            "timelapse": False, "bed_type": "auto", "bed_levelling": True, "flow_cali": False,
            "vibration_cali": False, "layer_inspect": False, "ams_mapping": "", "use_ams": False}})
        answer = self._answer(seq, TIMEOUT_S)
        if answer is not None and str(answer.get("result", "success")).lower() != "success":
            raise HostError(f"{self.name} {self.serial} refused to print {file}: "
                            f"{answer.get('reason') or answer.get('result')}", hint="see the printer's screen",
                            code="dispatch.protocol", status=502)
        return name

    def _upload(self, file: str, data: bytes) -> None:
        ftp = _ImplicitFTPS(context=_tls_context(), timeout=TIMEOUT_S)
        try:
            ftp.connect(self.host, self.ftp_port)
            try:
                ftp.login("bblp", self.code or "")
            except ftplib.error_perm as exc:
                raise HostError(f"{self.name} {self.serial} refused the access code for FTPS ({exc})",
                                hint="give the LAN access code again", code="dispatch.unauthorized",
                                status=502) from None
            ftp.prot_p()
            ftp.storbinary(f"STOR /{file}", io.BytesIO(data))
            ftp.quit()
        except (OSError, ssl.SSLError, EOFError) as exc:
            raise self._unreachable(f"did not take the file over FTPS port {self.ftp_port} "
                                    f"({type(exc).__name__}: {exc})") from None
        except ftplib.Error as exc:
            raise HostError(f"{self.name} {self.serial} refused the upload of {file}: {exc}",
                            hint="check the printer's storage (SD card inserted, space left)",
                            code="dispatch.protocol", status=502) from None
        finally:
            ftp.close()

    def cancel(self) -> None:
        """print.stop."""
        self._request({"print": {"command": "stop", "param": ""}})

    def pause(self) -> None:
        """print.pause."""
        self._request({"print": {"command": "pause", "param": ""}})

    def resume(self) -> None:
        """print.resume."""
        self._request({"print": {"command": "resume", "param": ""}})

    def close(self) -> None:
        """Disconnect from the printer's broker."""
        self._drop()


def _material(p: dict[str, Any]) -> str | None:
    """The filament type feeding the nozzle: the AMS tray in use (``ams.tray_now``), else the external spool."""
    found = p.get("ams")
    ams: dict[str, Any] = found if isinstance(found, dict) else {}
    now = str(ams.get("tray_now", "255"))
    if now.isdigit() and int(now) < 254:
        unit, slot = divmod(int(now), 4)
        for a in ams.get("ams") or []:
            if str(a.get("id")) == str(unit):
                for t in a.get("tray") or []:
                    if str(t.get("id")) == str(slot) and t.get("tray_type"):
                        return str(t["tray_type"])
    vt = p.get("vt_tray")
    if isinstance(vt, dict) and vt.get("tray_type"):
        return str(vt["tray_type"])
    return None
