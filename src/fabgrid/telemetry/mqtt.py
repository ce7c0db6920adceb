"""MQTT transport of machine events: topic scheme, payloads, a publisher and an at-least-once ingest.

Topics are ``fabgrid/<site>/<machine>/<kind>`` (kind = event type); the payload is the JSON event
with a unique ``id``. The ingest subscribes with QoS 1 and a persistent session, hands batches to a
sink callable and acknowledges each message only after its batch was stored, so a crash loses
nothing and redelivered messages are dropped by the sink's unique message id. Further payload families
(Sparkplug B, `telemetry.sparkplug`) plug into the same ingest as a `TopicFamily`. Both clients are MQTT 5
on `telemetry.mqtt_wire` (the Rust `mqtt5` codec on a socket, built for throughput); must not import
store, services or cli (the sink is passed in).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
from mqtt5 import PubAckPacket, PublishPacket, QoS

from fabgrid.domain.telemetry import EVENT_KINDS
from fabgrid.errors import InputError
from fabgrid.telemetry.mqtt_wire import Connection, ConnectionLost, Session

log = logging.getLogger(__name__)

TOPIC_ROOT = "fabgrid"
SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/+"
#: A shared-subscription group name (MQTT 5, section 4.8.2): no '/', '+', '#'; kept short and plain here.
_SHARE_GROUP = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def shared(subscription: str, group: str) -> str:
    """The MQTT 5 shared subscription ``$share/<group>/<filter>``: the broker hands each message of the filter
    to one of the group's sessions, so several ingest processes split the load (each acknowledges its own)."""
    if not _SHARE_GROUP.fullmatch(group):
        raise InputError(f"share group {group!r} is not a valid name",
                         hint="use 1-64 letters, digits, '_', '.' or '-', e.g. --share ingest",
                         code="telemetry.share_group")
    return f"$share/{group}/{subscription}"

#: A sink stores a batch of events and returns how many were new (not already stored).
Sink = Callable[[list[dict[str, Any]]], int]
#: Why a sink cannot store one event (None: it can); asked before the batch is written.
Refusal = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Parked:
    """A message (or one event of it) the ingest could not store: a dead letter, with the reason."""

    topic: str
    payload: bytes
    reason: str
    message_id: str | None = None


#: Keeps dead letters durably (they are acknowledged afterwards); returns how many it kept.
DeadLetters = Callable[[list[Parked]], int]


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


#: Longest message id the ingest accepts (the database keys events by it).
MAX_ID_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check(topic: str, payload: bytes) -> dict[str, Any] | str:
    """The event of one fabgrid message (site, machine, type from the topic), or why it is not one.

    A naive ``ts`` is taken as UTC and written with its offset; everything else is left as sent."""
    where = parse_topic(topic)
    if where is None:
        return f"topic {topic[:120]!r} is not fabgrid/<site>/<machine>/<kind> with a known kind"
    try:
        ev = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:  # also raised for invalid UTF-8
        return f"the payload is not JSON ({str(exc)[:120]})"
    if not isinstance(ev, dict):
        return "the payload is not a JSON object"
    mid = ev.get("id")
    if not isinstance(mid, str) or not mid:
        return 'the event has no message id ("id": a non-empty string)'
    if len(mid) > MAX_ID_CHARS:
        return f"the message id has {len(mid)} characters; at most {MAX_ID_CHARS} are accepted"
    if _CONTROL.search(mid):
        return "the message id contains control characters (such as NUL)"
    ts = ev.get("ts")
    if not isinstance(ts, str):
        return 'the event has no time ("ts": an ISO 8601 string)'
    try:
        t = datetime.fromisoformat(ts)
    except ValueError:
        return f"ts {ts[:40]!r} is not an ISO 8601 time"
    if t.tzinfo is None:
        ev["ts"] = t.replace(tzinfo=UTC).isoformat()
    ev["site"], ev["machine"], ev["type"] = where
    return ev


def decode(topic: str, payload: bytes) -> dict[str, Any] | None:
    """The event of one message (site, machine, type from the topic), or None when malformed (`check` says
    why)."""
    ev = check(topic, payload)
    return ev if isinstance(ev, dict) else None


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


class Publisher:
    """QoS 1 publisher with a persistent session; unacknowledged messages are resent after a reconnect.

    Single-threaded: `publish` encodes and buffers, and sends when `flush_bytes` are buffered or
    `flush_s` has passed; it blocks while `max_inflight` messages (or the broker's receive maximum)
    wait for their PUBACK. The first connection is made here (`ConnectionLost` when the broker cannot
    be reached); later losses are retried every 1-5 s while `publish`/`close` wait.
    """

    def __init__(self, broker: Broker, client_id: str, *, max_inflight: int = 2000,
                 session_expiry_s: int = 3600, flush_bytes: int = 64 * 1024, flush_s: float = 0.005) -> None:
        if not 1 <= max_inflight <= 65535:
            raise InputError("max_inflight must be 1..65535 (MQTT packet ids)", code="telemetry.publish")
        self.broker = broker
        self.session = Session(client_id, clean_start=False, session_expiry_s=session_expiry_s,
                               username=broker.username, password=broker.password)
        self.max_inflight = max_inflight
        self.flush_bytes, self.flush_s = flush_bytes, flush_s
        #: packet id -> encoded PUBLISH not yet acknowledged, oldest first
        self.pending: dict[int, bytes] = {}
        self._unsent: list[int] = []
        self._unsent_bytes = 0
        self._next_id = 0
        self._last_flush = time.monotonic()
        self._retry_at = 0.0
        self._delay = 1.0
        self.sent = self.acked = self.connects = 0
        self._conn: Connection | None = None
        self._connect()

    def _connect(self) -> None:
        conn = Connection(self.broker.host, self.broker.port, self.session)
        self._conn, self._delay = conn, 1.0
        self.connects += 1
        # resend what the broker has not acknowledged (DUP set), then what was never sent
        unsent = set(self._unsent)
        again = [_with_dup(p) for pid, p in self.pending.items() if pid not in unsent]
        if again:
            conn.send(b"".join(again))

    def _window(self) -> int:
        quota = self._conn.send_quota if self._conn is not None else self.max_inflight
        return min(self.max_inflight, quota)

    def publish(self, site: str, machine: str, event: Mapping[str, Any]) -> None:
        """Queue one event for QoS 1 delivery (resent until the broker acknowledges it)."""
        body = {k: v for k, v in event.items() if k not in ("site", "machine", "type")}
        self.publish_raw(topic_for(site, machine, str(event["type"])), orjson.dumps(body))

    def publish_raw(self, topic: str, payload: bytes) -> None:
        """Queue one message of any topic and payload (e.g. Sparkplug B) for QoS 1 delivery."""
        while len(self.pending) >= self._window():
            self.poll(0.05)
        pid = self._next_id
        while True:
            pid = pid % 65535 + 1
            if pid not in self.pending:
                break
        self._next_id = pid
        packet = PublishPacket(topic, payload, qos=QoS.AT_LEAST_ONCE, packet_id=pid).write()
        self.pending[pid] = packet
        self._unsent.append(pid)
        self._unsent_bytes += len(packet)
        self.sent += 1
        if self._unsent_bytes >= self.flush_bytes or time.monotonic() - self._last_flush >= self.flush_s:
            self.poll(0.0)

    def poll(self, timeout_s: float = 0.0) -> None:
        """Send what is buffered and take the acknowledgements that arrive within `timeout_s`;
        reconnect when the connection was lost and the back-off delay has passed."""
        if self._conn is None:
            if time.monotonic() < self._retry_at:
                time.sleep(min(timeout_s, max(0.0, self._retry_at - time.monotonic())))
                return
            try:
                self._connect()
            except ConnectionLost as exc:
                self._lost(exc)
                return
        assert self._conn is not None
        try:
            if self._unsent:
                self._conn.send(b"".join(self.pending[pid] for pid in self._unsent))
                self._unsent.clear()
                self._unsent_bytes = 0
                self._last_flush = time.monotonic()
            for packet in self._conn.read(timeout_s):
                if isinstance(packet, PubAckPacket) and self.pending.pop(packet.packet_id, None) is not None:
                    self.acked += 1
        except ConnectionLost as exc:
            self._lost(exc)

    def _lost(self, exc: Exception) -> None:
        log.warning("MQTT publisher: %s; retrying in %.0f s", exc, self._delay)
        if self._conn is not None:
            self._conn.close(clean=False)
        self._conn = None
        self._unsent = [pid for pid in self._unsent if pid in self.pending]
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(5.0, self._delay * 2)

    def wait(self, seconds: float) -> None:
        """Pause `seconds` while sending what is buffered and taking acknowledgements (and pings)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.poll(left)

    def backlog(self) -> int:
        """Messages published but not yet acknowledged by the broker."""
        self.poll(0.0)
        return len(self.pending)

    def close(self, timeout_s: float = 60.0) -> bool:
        """Wait until every message is acknowledged by the broker (or timeout), then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            self.poll(min(0.1, max(0.0, deadline - time.monotonic())))
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        return not self.pending


def _with_dup(packet: bytes) -> bytes:
    """The same PUBLISH with the DUP flag set (a redelivery)."""
    return bytes((packet[0] | 0x08,)) + packet[1:]

@dataclass
class IngestStats:
    """What an ingest run did."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    #: messages that are not events (malformed JSON, no id, bad time, unknown topic): parked
    rejected: int = 0
    #: messages and events kept as dead letters: the rejected ones and those the sink refused
    parked: int = 0
    batches: int = 0
    connects: int = 0
    max_queue: int = 0
    elapsed_s: float = 0.0
    rejected_topics: list[str] = field(default_factory=list)
    #: the first 20 reasons of parked messages, ``topic: reason``
    parked_reasons: list[str] = field(default_factory=list)
    #: what each further topic family (e.g. ``sparkplug``) counted, by family name
    families: dict[str, dict[str, Any]] = field(default_factory=dict)


class TopicFamily(Protocol):
    """Another payload family on the same ingest (Sparkplug B: `telemetry.sparkplug.SparkplugHost`).

    `handle` gets each message whose topic starts with `prefix` and is not a fabgrid topic, in the
    order received, and returns its events (None: malformed, counted as rejected); `commands` are
    published (QoS 0) after each stored batch.
    """

    name: str
    prefix: str
    subscriptions: tuple[str, ...]

    def handle(self, topic: str, payload: bytes) -> list[dict[str, Any]] | None: ...

    def commands(self) -> list[tuple[str, bytes]]: ...

    def summary(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IngestConfig:
    """Ingest settings; bounds checked once here."""

    broker: Broker
    client_id: str = "fabgrid-ingest"
    subscription: str = SUBSCRIPTION
    batch_size: int = 5000
    batch_wait_s: float = 0.2
    #: unacknowledged messages the broker may send us at once (MQTT 5 receive maximum)
    receive_maximum: int = 20000
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30
    #: errors of the sink that mean "storage unavailable, try again" (e.g. the database restarting)
    retry_errors: tuple[type[Exception], ...] = (OSError,)
    #: errors of the sink that mean "the storage refuses an event of this batch": the batch is halved until
    #: the refused events are found; they are parked, the others stored
    refused_errors: tuple[type[Exception], ...] = ()
    retry_max_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 65535:
            raise InputError(f"batch size {self.batch_size} is out of range", hint="use 1..65535",
                             code="telemetry.ingest")
        if not self.batch_size <= self.receive_maximum <= 65535:
            raise InputError(f"receive maximum {self.receive_maximum} must be between the batch size "
                             f"({self.batch_size}) and 65535 (MQTT 5)", code="telemetry.ingest")


#: (connection generation, packet id, qos, topic, payload) of one received message
_Item = tuple[int, int, int, str, bytes]


class MqttIngest:
    """Subscribe, batch, store, then acknowledge: at-least-once delivery made exactly-once by the sink.

    One thread reads the socket, stores a batch when `batch_size` messages are held or `batch_wait_s`
    has passed since its first message, then sends all the batch's PUBACKs at once. A message that is not an
    event, or that the sink refuses (`refusal`, or a `refused_errors` error of the batch), is handed to
    `dead_letters` with the reason and acknowledged: one bad message never stops the ones behind it. Backpressure:
    the broker sends at most `receive_maximum` unacknowledged messages, and nothing is read while a
    batch is being stored. A lost connection is re-established every 1-5 s; what the broker
    redelivers after it is dropped by the sink's unique message id.
    """

    def __init__(self, config: IngestConfig, sink: Sink, *, families: tuple[TopicFamily, ...] = (),
                 dead_letters: DeadLetters | None = None, refusal: Refusal | None = None) -> None:
        self.config = config
        self.sink = sink
        self.families = families
        self.dead_letters = dead_letters
        self.refusal = refusal
        self.stats = IngestStats()
        self._generation = 0
        self._conn: Connection | None = None
        self._stop = threading.Event()
        self._acks: dict[int, bytes] = {}

    def stop(self) -> None:
        """Ask `run` to store what it has received and return (callable from another thread)."""
        self._stop.set()

    def _connect(self) -> Connection:
        cfg = self.config
        conn = Connection(cfg.broker.host, cfg.broker.port,
                          Session(cfg.client_id, clean_start=False, session_expiry_s=cfg.session_expiry_s,
                                  receive_max=cfg.receive_maximum, keepalive_s=cfg.keepalive_s,
                                  username=cfg.broker.username, password=cfg.broker.password))
        conn.subscribe(cfg.subscription)
        for family in self.families:
            for pattern in family.subscriptions:
                conn.subscribe(pattern)
        self._generation += 1
        self.stats.connects += 1
        return conn

    def run(self, *, duration_s: float | None = None, until: Callable[[IngestStats], bool] | None = None,
            idle_exit_s: float | None = None) -> IngestStats:
        """Ingest until `stop()`, `duration_s`, `until(stats)` or `idle_exit_s` without messages."""
        cfg = self.config
        t0 = last = time.monotonic()
        batch: list[_Item] = []
        first_at = 0.0
        retry_at, delay = 0.0, 1.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._conn is None and now >= retry_at:
                    try:
                        self._conn = self._connect()
                        delay = 1.0
                    except ConnectionLost as exc:
                        log.warning("MQTT ingest: %s; retrying in %.0f s", exc, delay)
                        retry_at, delay = now + delay, min(5.0, delay * 2)
                wait = cfg.batch_wait_s if not batch else max(0.0, first_at + cfg.batch_wait_s - now)
                if self._conn is None:
                    self._stop.wait(min(wait, max(0.0, retry_at - now)) or 0.05)
                else:
                    try:
                        for p in self._conn.read(wait):
                            if isinstance(p, PublishPacket):
                                if not batch:
                                    first_at = time.monotonic()
                                batch.append((self._generation, p.packet_id or 0, int(p.qos), p.topic,
                                              p.payload))
                    except ConnectionLost as exc:
                        log.warning("MQTT ingest: %s; reconnecting", exc)
                        self._conn.close(clean=False)
                        self._conn = None
                now = time.monotonic()
                if batch and (len(batch) >= cfg.batch_size or now - first_at >= cfg.batch_wait_s
                              or self._conn is None):
                    self._store(batch)
                    batch, last = [], now
                if duration_s is not None and now - t0 >= duration_s:
                    break
                if until is not None and until(self.stats):
                    break
                if idle_exit_s is not None and now - last >= idle_exit_s and self._conn is not None:
                    break
            self._store(batch)
        finally:
            self._stop.set()
            self.stats.families = {f.name: f.summary() for f in self.families}
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self.stats.elapsed_s = time.monotonic() - t0
        return self.stats

    def _with_retry(self, what: str, fn: Callable[[], int]) -> int:
        """Run a storage call, retrying while storage is unavailable (the broker keeps the unacknowledged
        messages meanwhile); after `stop()` the error propagates and nothing is acknowledged."""
        delay = min(0.5, self.config.retry_max_s)
        while True:
            try:
                return fn()
            except self.config.retry_errors as exc:
                if self._stop.is_set():
                    raise
                log.warning("storing %s failed (%s); retrying in %.1f s", what, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.retry_max_s)

    def _sink_with_retry(self, events: list[dict[str, Any]]) -> int:
        return self._with_retry(f"{len(events)} events", lambda: self.sink(events))

    def _write(self, events: list[dict[str, Any]], origins: list[tuple[str, bytes]]) -> tuple[int, list[Parked]]:
        """Store events; when the sink refuses the batch, halve it until the refused events are found
        (a bad event among n costs about 2 log2(n) writes) and return them as dead letters."""
        try:
            return self._sink_with_retry(events), []
        except self.config.refused_errors as exc:
            if isinstance(exc, self.config.retry_errors):
                raise
            if len(events) == 1:
                topic, payload = origins[0]
                reason = f"refused by the storage: {' '.join(str(exc).split())[:300]}"
                return 0, [Parked(topic, payload, reason, _event_id(events[0]))]
            half = len(events) // 2
            n1, p1 = self._write(events[:half], origins[:half])
            n2, p2 = self._write(events[half:], origins[half:])
            return n1 + n2, p1 + p2

    def _park(self, parked: list[Parked]) -> None:
        if not parked:
            return
        self.stats.parked += len(parked)
        for p in parked:
            if len(self.stats.parked_reasons) < 20:
                self.stats.parked_reasons.append(f"{p.topic[:120]}: {p.reason}")
        if self.dead_letters is None:
            log.warning("MQTT ingest: %d messages dropped (no dead-letter store), first: %s", len(parked),
                        parked[0].reason)
            return
        dead_letters = self.dead_letters
        self._with_retry(f"{len(parked)} dead letters", lambda: dead_letters(parked))

    def _store(self, items: list[_Item]) -> None:
        if not items:
            return
        events: list[dict[str, Any]] = []
        origins: list[tuple[str, bytes]] = []
        parked: list[Parked] = []
        for _g, _mid, _qos, topic, payload in items:
            ev = check(topic, payload)
            if isinstance(ev, dict):
                found = [ev]
            else:
                family = self._family(topic)
                more = family.handle(topic, payload) if family is not None else None
                if more is None:
                    self.stats.rejected += 1
                    if len(self.stats.rejected_topics) < 20:
                        self.stats.rejected_topics.append(topic)
                    bad = ev if family is None else f"not a valid {family.name} message"
                    parked.append(Parked(topic, payload, bad, _mid_of(payload)))
                    continue
                found = more
            for e in found:
                refused_why = self.refusal(e) if self.refusal is not None else None
                if refused_why is None:
                    events.append(e)
                    origins.append((topic, payload))
                else:
                    parked.append(Parked(topic, payload, refused_why, _event_id(e)))
        new, refused = self._write(events, origins) if events else (0, [])
        self._park(parked + refused)
        self.stats.received += len(items)
        self.stats.stored += new
        self.stats.duplicates += len(events) - len(refused) - new
        self.stats.batches += 1
        self.stats.max_queue = max(self.stats.max_queue, len(items))
        # a packet id belongs to one connection: after a reconnect the broker redelivers the message
        acks = [self._ack(mid) for g, mid, qos, _t, _p in items if g == self._generation and qos > 0]
        acks += [PublishPacket(t, p, qos=QoS.AT_MOST_ONCE).write() for f in self.families for t, p in f.commands()]
        if acks and self._conn is not None:
            try:
                self._conn.send(b"".join(acks))
            except ConnectionLost as exc:
                log.warning("MQTT ingest: %s; the broker will redeliver the batch", exc)
                self._conn.close(clean=False)
                self._conn = None

    def _family(self, topic: str) -> TopicFamily | None:
        return next((f for f in self.families if topic.startswith(f.prefix)), None)

    def _ack(self, packet_id: int) -> bytes:
        ack = self._acks.get(packet_id)
        if ack is None:
            ack = self._acks[packet_id] = PubAckPacket(packet_id).write()
        return ack


def _event_id(ev: Mapping[str, Any]) -> str | None:
    mid = ev.get("id")
    return mid if isinstance(mid, str) else None


def _mid_of(payload: bytes) -> str | None:
    """The message id of a payload that is a JSON object with a string id, else None."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return _event_id(doc) if isinstance(doc, dict) else None
