"""MQTT transport of machine events: topic scheme, payloads, a publisher and an at-least-once ingest.

Topics are ``fabgrid/<site>/<machine>/<kind>`` (kind = event type); the payload is the JSON event
with a unique ``id``. The ingest subscribes with QoS 1 and a persistent session, hands batches to a
sink callable and acknowledges each message only after its batch was stored, so a crash loses
nothing and redelivered messages are dropped by the sink's unique message id. Uses paho-mqtt 2;
must not import store, services or cli (the sink is passed in).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fabgrid.domain.telemetry import EVENT_KINDS
from fabgrid.errors import InputError

log = logging.getLogger(__name__)

TOPIC_ROOT = "fabgrid"
SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/+"

#: A sink stores a batch of events and returns how many were new (not already stored).
Sink = Callable[[list[dict[str, Any]]], int]


def topic_for(site: str, machine: str, kind: str) -> str:
    """The topic of an event: ``fabgrid/<site>/<machine>/<kind>``."""
    for name, part in (("site", site), ("machine", machine), ("kind", kind)):
        if not part or any(c in part for c in "/+#"):
            raise InputError(f"{name} {part!r} cannot be used in an MQTT topic",
                             hint="ids must be non-empty and free of '/', '+', '#'", code="telemetry.topic")
    return f"{TOPIC_ROOT}/{site}/{machine}/{kind}"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """``(site, machine, kind)`` of a fabgrid topic, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[3] not in EVENT_KINDS:
        return None
    return parts[1], parts[2], parts[3]


def decode(topic: str, payload: bytes) -> dict[str, Any] | None:
    """The event of one message (site, machine, type from the topic), or None when malformed."""
    where = parse_topic(topic)
    if where is None:
        return None
    try:
        ev = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(ev, dict) or not isinstance(ev.get("id"), str) or not isinstance(ev.get("ts"), str):
        return None
    ev["site"], ev["machine"], ev["type"] = where
    return ev


@dataclass(frozen=True)
class Broker:
    """Where an MQTT broker listens (parsed from ``mqtt://host:port``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Broker:
        """Parse ``mqtt://[user:pass@]host[:port]`` (``tcp://`` also accepted)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise InputError(f"MQTT URL {url!r} is not of the form mqtt://host:port",
                             hint="e.g. --mqtt mqtt://127.0.0.1:1883", code="telemetry.mqtt_url")
        return cls(parts.hostname, parts.port or 1883, parts.username, parts.password)


def _client(client_id: str, broker: Broker, *, manual_ack: bool = False) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                    manual_ack=manual_ack)
    if broker.username:
        c.username_pw_set(broker.username, broker.password)
    c.reconnect_delay_set(min_delay=1, max_delay=5)
    return c


class Publisher:
    """QoS 1 publisher with a persistent session: unacknowledged messages are resent after a reconnect.

    Keep `backlog()` at or below `max_inflight` (see `fleet.run_fleet`): paho scans its queue of
    waiting messages on every acknowledgement, so a long queue costs time per message.
    """

    def __init__(self, broker: Broker, client_id: str, *, max_inflight: int = 200) -> None:
        self.max_inflight = max_inflight
        self.client = _client(client_id, broker)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.sent = 0
        self.acked = 0
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect_async(broker.host, broker.port, keepalive=30, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def _on_publish(self, _c: mqtt.Client, _u: object, _mid: int, _rc: object, _p: object) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, site: str, machine: str, event: Mapping[str, Any]) -> None:
        """Queue one event for QoS 1 delivery (returns immediately; paho resends until acknowledged)."""
        body = {k: v for k, v in event.items() if k not in ("site", "machine", "type")}
        self.client.publish(topic_for(site, machine, str(event["type"])),
                            json.dumps(body, separators=(",", ":")), qos=1)
        self.sent += 1

    def backlog(self) -> int:
        """Messages published but not yet acknowledged by the broker."""
        with self._lock:
            return self.sent - self.acked

    def close(self, timeout_s: float = 60.0) -> bool:
        """Wait until every message is acknowledged by the broker (or timeout), then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.backlog() > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        done = self.backlog() == 0
        self.client.disconnect()
        self.client.loop_stop()
        return done


@dataclass
class IngestStats:
    """What an ingest run did."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    connects: int = 0
    max_queue: int = 0
    elapsed_s: float = 0.0
    rejected_topics: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IngestConfig:
    """Ingest settings; bounds checked once here."""

    broker: Broker
    client_id: str = "fabgrid-ingest"
    subscription: str = SUBSCRIPTION
    batch_size: int = 2000
    batch_wait_s: float = 0.2
    queue_max: int = 20000
    receive_maximum: int = 5000
    session_expiry_s: int = 7 * 24 * 3600
    #: errors of the sink that mean "storage unavailable, try again" (e.g. the database restarting)
    retry_errors: tuple[type[Exception], ...] = (OSError,)
    retry_max_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 100_000:
            raise InputError("batch size must be 1..100000", code="telemetry.ingest")
        if not 1 <= self.receive_maximum <= 65535:
            raise InputError("receive maximum must be 1..65535 (MQTT 5)", code="telemetry.ingest")
        if self.queue_max < self.batch_size:
            raise InputError("the queue must hold at least one batch", code="telemetry.ingest")


class MqttIngest:
    """Subscribe, batch, store, then acknowledge: at-least-once delivery made exactly-once by the sink.

    Backpressure: the broker sends at most `receive_maximum` unacknowledged messages, and the
    network thread blocks on a bounded queue when the writer falls behind.
    """

    def __init__(self, config: IngestConfig, sink: Sink) -> None:
        self.config = config
        self.sink = sink
        self.stats = IngestStats()
        self._queue: queue.Queue[tuple[int, int, int, str, bytes]] = queue.Queue(config.queue_max)
        self._generation = 0
        self._connected = threading.Event()
        self._stop = threading.Event()
        c = self.client = _client(config.client_id, config.broker, manual_ack=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
        if rc.is_failure:
            log.warning("MQTT connect refused: %s", rc)
            return
        self._generation += 1
        self.stats.connects += 1
        client.subscribe(self.config.subscription, qos=1)
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", rc)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        item = (self._generation, msg.mid, msg.qos, msg.topic, bytes(msg.payload))
        while True:  # block the network thread: TCP backpressure up to the broker
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._stop.is_set() and not self._connected.is_set():
                    return

    def stop(self) -> None:
        """Ask `run` to store what it has received and return."""
        self._stop.set()

    def run(self, *, duration_s: float | None = None, until: Callable[[IngestStats], bool] | None = None,
            idle_exit_s: float | None = None) -> IngestStats:
        """Ingest until `stop()`, `duration_s`, `until(stats)` or `idle_exit_s` without messages."""
        cfg = self.config
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = cfg.session_expiry_s
        props.ReceiveMaximum = cfg.receive_maximum
        self.client.connect_async(cfg.broker.host, cfg.broker.port, keepalive=30, clean_start=False,
                                  properties=props)
        self.client.loop_start()
        t0 = last = time.monotonic()
        try:
            while not self._stop.is_set():
                batch = self._take_batch()
                now = time.monotonic()
                if batch:
                    self._store(batch)
                    last = now
                if duration_s is not None and now - t0 >= duration_s:
                    break
                if until is not None and until(self.stats):
                    break
                if idle_exit_s is not None and now - last >= idle_exit_s and self._connected.is_set():
                    break
            self._store(self._drain())
        finally:
            self._stop.set()
            self.client.disconnect()
            self.client.loop_stop()
            self.stats.elapsed_s = time.monotonic() - t0
        return self.stats

    def _take_batch(self) -> list[tuple[int, int, int, str, bytes]]:
        try:
            first = self._queue.get(timeout=self.config.batch_wait_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.batch_wait_s
        while len(batch) < self.config.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.002)
        self.stats.max_queue = max(self.stats.max_queue, self._queue.qsize() + len(batch))
        return batch

    def _sink_with_retry(self, events: list[dict[str, Any]]) -> int:
        """Store a batch, retrying while storage is unavailable (the broker keeps the unacknowledged
        messages meanwhile); after `stop()` the error propagates and nothing is acknowledged."""
        delay = min(0.5, self.config.retry_max_s)
        while True:
            try:
                return self.sink(events)
            except self.config.retry_errors as exc:
                if self._stop.is_set():
                    raise
                log.warning("storing %d events failed (%s); retrying in %.1f s", len(events), exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.retry_max_s)

    def _drain(self) -> list[tuple[int, int, int, str, bytes]]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _store(self, batch: Iterable[tuple[int, int, int, str, bytes]]) -> None:
        items = list(batch)
        if not items:
            return
        events = []
        for _g, _mid, _qos, topic, payload in items:
            ev = decode(topic, payload)
            if ev is None:
                self.stats.rejected += 1
                if len(self.stats.rejected_topics) < 20:
                    self.stats.rejected_topics.append(topic)
            else:
                events.append(ev)
        new = self._sink_with_retry(events) if events else 0
        self.stats.received += len(items)
        self.stats.stored += new
        self.stats.duplicates += len(events) - new
        self.stats.batches += 1
        gen = self._generation
        for g, mid, qos, _t, _p in items:
            # a message id belongs to one connection: after a reconnect the broker redelivers it
            if g == gen and qos > 0:
                self.client.ack(mid, qos)
