"""One MQTT 5 connection over TCP: the `mqtt5` codec (Rust, sans-I/O) on a blocking socket.

Written for throughput: packets are read in large chunks and decoded in bulk, and callers send
many packets with one system call (e.g. all acknowledgements of a stored batch). Reconnecting
and session state (what is unacknowledged) belong to the callers in `telemetry.mqtt`.
Depends on the standard library and `mqtt5` only.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from typing import TypeVar

import mqtt5
from mqtt5 import (
    ConnAckPacket,
    ConnAckReasonCode,
    ConnectPacket,
    DisconnectPacket,
    PingReqPacket,
    QoS,
    SubAckPacket,
    SubscribePacket,
    TopicFilter,
)

#: bytes asked of the kernel per read; a QoS 1 event message is ~150-250 bytes
READ_CHUNK = 1 << 20
#: a packet larger than this is a protocol error here (telemetry events are small)
MAX_PACKET = 256 * 1024

P = TypeVar("P")


class ConnectionLost(OSError):
    """The connection to the broker ended or misbehaved; reconnect."""


class ConnectRefused(ConnectionLost):
    """The broker answered CONNECT with a failure reason code."""

    def __init__(self, code: ConnAckReasonCode, reason: str | None) -> None:
        super().__init__(f"the MQTT broker refused the connection: {code.name}"
                         + (f" ({reason})" if reason else ""))
        self.code = code


@dataclass(frozen=True)
class Session:
    """What a connection asks of the broker."""

    client_id: str
    clean_start: bool = False
    session_expiry_s: int = 3600
    receive_max: int = 65535
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = None


class Connection:
    """A connected MQTT 5 client socket; `read` returns the complete packets received so far."""

    def __init__(self, host: str, port: int, session: Session, *, timeout_s: float = 10.0) -> None:
        self.session = session
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise ConnectionLost(f"cannot reach the MQTT broker at {host}:{port}: {exc}") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout_s)  # bounds sendall when the broker stops reading
        self._buf = bytearray()
        self.pending: list[mqtt5.Packet] = []  # packets read while waiting for a specific one
        self._last_send = self._last_recv = time.monotonic()
        self._ping_sent: float | None = None
        password = None if session.password is None else session.password.encode()
        self.send(ConnectPacket(session.client_id, username=session.username, password=password,
                                clean_start=session.clean_start, keep_alive=session.keepalive_s,
                                session_expiry_interval=session.session_expiry_s,
                                receive_max=session.receive_max, max_packet_size=MAX_PACKET).write())
        ack = self._first(ConnAckPacket, timeout_s)
        if ack.reason_code != ConnAckReasonCode.SUCCESS:
            self.sock.close()
            raise ConnectRefused(ack.reason_code, ack.reason_str)
        self.session_present = ack.session_present
        #: how many unacknowledged QoS 1 messages the broker accepts from us at once
        self.send_quota = ack.receive_max

    def _first(self, kind: type[P], timeout_s: float) -> P:
        deadline = time.monotonic() + timeout_s
        early: list[mqtt5.Packet] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.sock.close()
                raise ConnectionLost(f"no {kind.__name__} from the MQTT broker within {timeout_s:g} s")
            got = self._read(left)
            for i, p in enumerate(got):
                if isinstance(p, kind):
                    self.pending += early + got[:i] + got[i + 1:]
                    return p
            early += got

    def subscribe(self, pattern: str, qos: QoS = QoS.AT_LEAST_ONCE, timeout_s: float = 10.0) -> None:
        """Subscribe and wait for the broker's SUBACK (packets that arrive meanwhile are kept)."""
        self.send(SubscribePacket(1, [TopicFilter(pattern, max_qos=qos)]).write())
        ack = self._first(SubAckPacket, timeout_s)
        if any(int(c) >= 0x80 for c in ack.reason_codes):
            raise ConnectionLost(f"the MQTT broker refused the subscription {pattern!r}: {ack.reason_codes}")

    def send(self, data: bytes) -> None:
        """Send encoded packets (any number, concatenated)."""
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"sending to the MQTT broker failed: {exc}") from exc
        self._last_send = time.monotonic()

    def read(self, timeout_s: float) -> list[mqtt5.Packet]:
        """The packets that arrive within `timeout_s` (those already buffered first); keeps the
        connection alive with PINGREQ and raises `ConnectionLost` when the broker goes silent."""
        if self.pending:
            out, self.pending = self.pending, []
            return out + self._read(0.0)
        return self._read(timeout_s)

    def _read(self, timeout_s: float) -> list[mqtt5.Packet]:
        now = time.monotonic()
        ka = self.session.keepalive_s
        if ka and now - self._last_send >= ka / 2:
            self.send(PingReqPacket().write())
            self._ping_sent = self._ping_sent or now
        if ka and self._ping_sent is not None and now - self._last_recv > 1.5 * ka:
            raise ConnectionLost(f"the MQTT broker sent nothing for {now - self._last_recv:.0f} s")
        try:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout_s))
            if not ready:
                return []
            data = self.sock.recv(READ_CHUNK)
        except OSError as exc:
            raise ConnectionLost(f"reading from the MQTT broker failed: {exc}") from exc
        if not data:
            raise ConnectionLost("the MQTT broker closed the connection")
        self._last_recv = time.monotonic()
        self._ping_sent = None
        self._buf += data
        return self._decode()

    def _decode(self) -> list[mqtt5.Packet]:
        out: list[mqtt5.Packet] = []
        view = memoryview(self._buf)
        off = 0
        try:
            while off < len(view):
                try:
                    packet, size = mqtt5.read(view[off:])
                except IndexError:  # an incomplete packet: wait for more bytes
                    if len(view) - off > MAX_PACKET:
                        raise ConnectionLost("a packet from the MQTT broker exceeds the size limit") from None
                    break
                except ValueError as exc:
                    raise ConnectionLost(f"malformed packet from the MQTT broker: {exc}") from exc
                off += size
                if isinstance(packet, DisconnectPacket):
                    raise ConnectionLost(f"the MQTT broker disconnected: {packet.reason_code.name}")
                out.append(packet)
        finally:
            view.release()
        del self._buf[:off]
        return out

    def close(self, *, clean: bool = True) -> None:
        """Send DISCONNECT (the session stays at the broker for `session_expiry_s`) and close."""
        try:
            if clean:
                self.sock.sendall(DisconnectPacket().write())
        except OSError:
            pass
        finally:
            self.sock.close()
