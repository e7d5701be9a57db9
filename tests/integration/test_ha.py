"""The sensor's summary stream (--summary-period) and Home Assistant
discovery (--ha-discovery) against a real mosquitto: summaries validate
against schemas/summary.schema.json and match the readings of their window
as a subscriber of the 100 Hz stream sees them; --count N counts readings
only; the discovery config is retained, carries Home Assistant's current
fields, comes back on every connect and whenever Home Assistant says
"online"; a clean stop leaves the entity unavailable, not deleted.
Every wait is bounded; nothing asserts a wall-clock time.
"""

import json
import re
import signal
import subprocess
import threading
from decimal import ROUND_HALF_UP, Decimal
from datetime import datetime, timezone

import pytest

from conftest import (REPO, bounded_polls, mqtt_publish_all, sensor_argv,
                      tolerant_validator_class)

SUMMARY_SCHEMA = REPO / "schemas" / "summary.schema.json"
SENT_ON_CONNECT = r"home assistant discovery: config sent on \S+ \(connected"


@pytest.fixture(scope="module")
def summary_validator():
    schema = json.loads(SUMMARY_SCHEMA.read_text())
    cls = tolerant_validator_class()
    cls.check_schema(schema)
    return cls(schema)


class Recorder:
    """A python paho subscriber that keeps (topic, payload, retain) of
    every message, in order of arrival."""

    def __init__(self, port, topics):
        import paho.mqtt.client as mqtt
        self.msgs = []
        self.lock = threading.Lock()
        self.subacked = threading.Event()
        self.c = mqtt.Client(client_id="", clean_session=True)
        self.c.on_connect = lambda cl, ud, fl, rc: cl.subscribe(
            [(t, 1) for t in topics])
        self.c.on_subscribe = lambda *a: self.subacked.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.subacked.wait(10), "python subscriber: no SUBACK in 10 s"

    def _on_message(self, cl, ud, m):
        with self.lock:
            self.msgs.append((m.topic, bytes(m.payload), bool(m.retain)))

    def on(self, topic):
        with self.lock:
            return [(p, r) for t, p, r in self.msgs if t == topic]

    def wait(self, topic, n, timeout=15):
        for _ in bounded_polls(timeout):
            if len(self.on(topic)) >= n:
                return self.on(topic)
        pytest.fail(f"{len(self.on(topic))} messages on {topic} within "
                    f"{timeout} s, want {n}")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def recorder():
    made = []

    def make(port, topics):
        r = Recorder(port, topics)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def retained(port, topic, timeout=10):
    """The retained message on topic (mosquitto_sub --retained-only), or
    None when there is none."""
    r = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
         "--retained-only", "-C", "1", "-W", str(timeout)],
        capture_output=True, timeout=timeout + 5)
    assert r.returncode in (0, 27), r.stderr    # 27: -W ran out
    return r.stdout.rstrip(b"\n") if r.returncode == 0 else None


def wait_retained(port, topic, want, timeout):
    """Poll until the retained message on topic is want (True) or the
    bounded wait is over (False)."""
    for _ in range(int(timeout)):
        if retained(port, topic, timeout=1) == want:
            return True
    return False


def ts_us(s):
    d = datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond


def cents(x):
    return int((Decimal(repr(x)) * 100).to_integral_value())


# --------------------------------------------------------------------------
# The summary stream

def test_summaries_match_the_readings_of_their_window(
        bins, broker, procs, recorder, summary_validator):
    dev = "ha-sum-1"
    rec = recorder(broker.port, [f"pitemp/{dev}/temperature",
                                 f"pitemp/{dev}/summary"])
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--device", dev, "-C", "350", "--rate", "100",
        "--summary-period", "1"))
    assert sensor.wait_exit(30) == 0, sensor.describe()

    # --count 350 is 350 readings, whatever else went out.
    readings = [json.loads(p) for p, _ in
                rec.wait(f"pitemp/{dev}/temperature", 350)]
    assert sorted(r["seq"] for r in readings) == list(range(350))
    line = sensor.wait_for_line(r"samples=\d+ published=", 1)
    assert "published=350 delivered=350" in line, line
    n_sent = int(re.search(r"summaries=(\d+)", line).group(1))
    assert n_sent >= 4     # 3.5 s: a partial first window, 2+ full, the cut

    summaries = [json.loads(p) for p, _ in
                 rec.wait(f"pitemp/{dev}/summary", n_sent)]
    assert len(summaries) == n_sent
    boot = readings[0]["boot"]
    covered = 0
    for s in summaries:
        errors = list(summary_validator.iter_errors(s))
        assert not errors, f"{s}: {errors[0].message}"
        assert (s["device"], s["boot"]) == (dev, boot)
        start, end = ts_us(s["start"]), ts_us(s["end"])
        assert start < end
        window = [cents(r["temp_c"]) for r in readings
                  if start <= ts_us(r["ts"]) < end]
        assert s["n"] == len(window), s
        assert cents(s["min"]) == min(window), s
        assert cents(s["max"]) == max(window), s
        mean = (Decimal(sum(window)) / len(window)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP)
        assert cents(s["mean"]) == mean, (s, sum(window), len(window))
        covered += s["n"]
    # Windows follow each other and leave no reading out.
    assert covered == 350
    assert all(ts_us(a["end"]) <= ts_us(b["start"])
               for a, b in zip(summaries, summaries[1:]))

    # The last one stays retained for whoever subscribes later.
    last = retained(broker.port, f"pitemp/{dev}/summary")
    assert last is not None and json.loads(last) == summaries[-1]


def test_summary_period_zero_turns_the_stream_off(bins, broker, procs,
                                                  recorder):
    dev = "ha-sum-off"
    rec = recorder(broker.port, [f"pitemp/{dev}/#"])
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--device", dev, "-C", "150",
        "--summary-period", "0"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    rec.wait(f"pitemp/{dev}/temperature", 150)
    rec.wait(f"pitemp/{dev}/status", 2)     # online, offline: all of it is in
    assert rec.on(f"pitemp/{dev}/summary") == []
    assert "summaries=0" in sensor.stderr()


@pytest.mark.parametrize("argv, option", [
    (["--mode", "socket", "--summary-period", "2"], "--summary-period"),
    (["--mode", "socket", "--summary-period", "0"], "--summary-period"),
    (["--mode", "socket", "--ha-discovery"], "--ha-discovery"),
    (["--summary-period", "0", "--ha-discovery"], "--ha-discovery"),
    (["--ha-discovery", "ha/#"], "--ha-discovery"),
    (["--summary-period", "0.01"], "--summary-period"),
])
def test_stream_options_refused_with_exit_2_naming_the_option(
        bins, procs, argv, option):
    p = procs.run("sensor", [bins["sensor"], "--port", "1", *argv])
    assert p.returncode == 2, p.describe()
    assert re.search(rf"pitemp-sensor: error: option {option}\b", p.stderr()), \
        p.describe()


# --------------------------------------------------------------------------
# Home Assistant discovery

def check_config(cfg, dev, period):
    assert cfg["state_topic"] == f"pitemp/{dev}/summary"
    assert cfg["value_template"] == "{{ value_json.mean }}"
    assert cfg["unit_of_measurement"] == "\u00b0C"
    assert cfg["device_class"] == "temperature"
    assert cfg["state_class"] == "measurement"
    assert cfg["name"] and cfg["unique_id"] == f"pitemp_{dev}_temperature"
    assert re.fullmatch(r"sensor\.[a-z0-9_]+", cfg["default_entity_id"]), cfg
    assert "object_id" not in cfg          # deprecated in HA 2025.10
    assert cfg["availability"] == [{
        "topic": f"pitemp/{dev}/status",
        "payload_available": "online", "payload_not_available": "offline"}]
    assert isinstance(cfg["expire_after"], int)
    assert 2 * period < cfg["expire_after"] <= 10 * period
    d = cfg["device"]
    assert d["identifiers"] == [f"pitemp_{dev}"] and d["name"] == dev
    assert "ADC" in d["model"] and d["manufacturer"] and d["sw_version"]


def test_discovery_config_is_retained_and_sent_again(
        bins, broker, procs, recorder):
    dev = "ha-disc-1"
    topic = f"homeassistant/sensor/pitemp_{dev}/config"
    rec = recorder(broker.port, ["homeassistant/#", f"pitemp/{dev}/#"])
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--device", dev, "--ha-discovery",
        "--summary-period", "1"))
    sensor.wait_for_line(r"subscribed to homeassistant/status")

    cfg, _ = rec.wait(topic, 1)[0]
    config = json.loads(cfg)
    check_config(config, dev, 1)
    assert retained(broker.port, topic) == cfg
    # Its state: a summary, whose mean is what the template reads.
    s = json.loads(rec.wait(f"pitemp/{dev}/summary", 1)[0][0])
    assert -40 <= s["mean"] <= 125

    # Home Assistant restarts: its birth message brings the config back,
    # also right after the last one (held back, not lost, by the 1/s limit).
    mqtt_publish_all(broker.port, [("homeassistant/status", b"online")])
    rec.wait(topic, 2)
    mqtt_publish_all(broker.port, [("homeassistant/status", b"offline")])
    mqtt_publish_all(broker.port, [("homeassistant/status", b"online")])
    got = rec.wait(topic, 3)
    assert all(p == cfg for p, _ in got)

    # Every connect: clear the retained config, restart the broker; once
    # the sensor is back the config is there again.
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port),
                    "-t", topic, "-r", "-n", "-q", "1"], check=True, timeout=10)
    assert retained(broker.port, topic, timeout=2) is None
    broker.stop()
    broker.start()
    assert wait_retained(broker.port, topic, cfg, 30), sensor.describe()
    assert len(re.findall(SENT_ON_CONNECT, sensor.stderr())) == 2

    # A clean stop: unavailable (status offline), not deleted (config kept).
    sensor.signal(signal.SIGTERM)
    assert sensor.wait_exit(15) == 0, sensor.describe()
    assert retained(broker.port, f"pitemp/{dev}/status") == b"offline"
    assert retained(broker.port, topic) == cfg


def test_discovery_prefix_is_taken_from_the_option(bins, broker, procs,
                                                    recorder):
    dev = "ha.disc-2"           # '.' is not allowed in a discovery topic
    rec = recorder(broker.port, ["site1/ha/#"])
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--device", dev, "--ha-discovery", "site1/ha",
        "--summary-period", "2", "-C", "50"))
    assert sensor.wait_exit(20) == 0, sensor.describe()
    cfg = json.loads(rec.wait("site1/ha/sensor/pitemp_ha_disc-2/config", 1)[0][0])
    check_config(cfg, dev, 2)
    assert cfg["default_entity_id"] == "sensor.pitemp_ha_disc_2_temperature"
    assert re.search(r"subscribed to site1/ha/status", sensor.stderr())
