"""MQTT pieces that need no broker: topics, payload decoding, URL parsing, storage retry."""

from __future__ import annotations

import json

import pytest

from fabgrid.errors import InputError
from fabgrid.telemetry.mqtt import Broker, IngestConfig, MqttIngest, decode, parse_topic, topic_for


def test_topic_scheme_round_trip() -> None:
    t = topic_for("cs-jingkai-01", "cs-jingkai-01-f01", "state")
    assert t == "fabgrid/cs-jingkai-01/cs-jingkai-01-f01/state"
    assert parse_topic(t) == ("cs-jingkai-01", "cs-jingkai-01-f01", "state")
    assert parse_topic("fabgrid/a/b/vibration") is None and parse_topic("other/a/b/state") is None
    with pytest.raises(InputError):
        topic_for("a/b", "m", "state")


def test_decode_takes_identity_from_topic_and_rejects_garbage() -> None:
    body = json.dumps({"id": "x1", "ts": "2026-11-20T00:00:00Z", "state": "idle", "machine": "spoofed"})
    ev = decode("fabgrid/s1/m1/state", body.encode())
    assert ev == {"id": "x1", "ts": "2026-11-20T00:00:00Z", "state": "idle", "machine": "m1", "site": "s1",
                  "type": "state"}
    assert decode("fabgrid/s1/m1/state", b"{not json") is None
    assert decode("fabgrid/s1/m1/state", b'{"ts": "2026-11-20T00:00:00Z"}') is None  # no message id


def test_broker_url() -> None:
    assert Broker.from_url("mqtt://u:p@10.0.0.5:1884") == Broker("10.0.0.5", 1884, "u", "p")
    assert Broker.from_url("127.0.0.1").port == 1883
    with pytest.raises(InputError):
        Broker.from_url("http://x")


def test_storage_outage_is_retried_not_acknowledged() -> None:
    calls: list[int] = []

    def flaky(events: list[dict[str, object]]) -> int:
        calls.append(len(events))
        if len(calls) < 3:
            raise ConnectionError("database restarting")
        return len(events)

    cfg = IngestConfig(broker=Broker("127.0.0.1", 1), retry_errors=(ConnectionError,), retry_max_s=0.01)
    ingest = MqttIngest(cfg, flaky)
    assert ingest._sink_with_retry([{"id": "a"}]) == 1 and calls == [1, 1, 1]
    ingest.stop()
    calls.clear()
    with pytest.raises(ConnectionError):  # once stopping, the error surfaces (nothing acknowledged)
        ingest._sink_with_retry([{"id": "b"}])
