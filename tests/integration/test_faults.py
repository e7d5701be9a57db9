"""Delivery under faults (issue #4): QoS 1 end to end, every reading in the
sink's file exactly once, when the broker, the sink or the network fails.

Real mosquitto (generated from the shipped dev profile, restarted on the
same port and persistence directory), the real programs, real files.
Faults are injected by PID: kill -9 of the broker or the sink, SIGSTOP of
the sink; network faults run in tests/rig/netns.py's two-host rig.

Each test prints its figures (pytest -s shows them; they also go to
$PITEMP_BUILD/test-tmp/<test>/figures.txt). Tests marked `slow` are left
out of the sanitizer pass (make asan: -m "not slow").
"""

import re
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import (TEXT_HEADER, TEXT_LINE_RE, bounded_polls, free_port,
                      parse_summary, sensor_argv, sink_argv)
from faults import (assert_exactly_once, counters, figure, kill9, patch_conf,
                    text_lines, wait_lines)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rig"))

SUBSCRIBED = r"pitemp-sink: info: subscribed to "
CONNECTED = r"pitemp-sensor: info: connected to "


# --------------------------------------------------------------------------
# Helpers


def sink_logger(procs, bins, port, out, sink_id, name, fmt="text"):
    return procs.start(name, sink_argv(
        bins, port, "--count", "0", "--id", sink_id, "--output", out,
        "--format", fmt))


# --------------------------------------------------------------------------
# Broker failures

def _kill_broker_and_time_recovery(broker, out, workdir, label):
    """kill -9 the broker, restart it on the same port and persistence
    directory, and return the seconds until the sink's file grows again."""
    before = len(text_lines(out))
    kill9(broker.proc)
    t0 = time.monotonic()
    broker.start()
    for _ in bounded_polls(30):
        if len(text_lines(out)) > before:
            break
    dt = time.monotonic() - t0
    figure(workdir, f"{label}: readings flowing again {dt:.2f} s after the "
           f"broker restart")
    return dt


def test_broker_kill9_twice_sink_online_loses_nothing(
        bins, broker_factory, procs, workdir):
    broker = broker_factory(port=free_port()).start()
    out = workdir / "readings.txt"
    sink = sink_logger(procs, bins, broker.port, out, "faults-sink-on", "sink")
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--count", "2000",
        "--device", "kb-online", "--id", "faults-sensor-on"))
    sensor.wait_for_line(CONNECTED)

    for k, at in enumerate((500, 1200), start=1):
        wait_lines(out, at, 30, (sink, sensor))
        _kill_broker_and_time_recovery(broker, out, workdir, f"broker kill {k}")

    assert sensor.wait_exit(60) == 0, sensor.describe()
    assert wait_lines(out, 2000, 30, (sink,)) >= 2000, sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    assert_exactly_once(out, "kb-online", 2000)
    s = parse_summary(sink)
    figure(workdir, f"sink online: duplicates absorbed by dedup "
           f"{s['duplicates']}, sensor {counters(sensor)}")


def test_broker_kill9_twice_sink_offline_loses_nothing(
        bins, broker_factory, procs, workdir):
    """The sink (persistent session) is stopped before each kill and
    restarted after: what the broker queued for it must survive kill -9."""
    broker = broker_factory(port=free_port()).start()
    out = workdir / "readings.txt"
    sid = "faults-sink-off"
    sink = sink_logger(procs, bins, broker.port, out, sid, "sink.1")
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--count", "2000",
        "--device", "kb-offline", "--id", "faults-sensor-off"))
    sensor.wait_for_line(CONNECTED)

    for k, at in enumerate((400, 1100), start=1):
        wait_lines(out, at, 30, (sink, sensor))
        sink.signal(signal.SIGTERM)
        assert sink.wait_exit(10) == 0, sink.describe()
        # Readings queue up in the broker for the offline sink.
        time.sleep(2)  # fault timing, not readiness: 2 s of queued readings
        kill9(broker.proc)
        t0 = time.monotonic()
        broker.start()
        sink = sink_logger(procs, bins, broker.port, out, sid, f"sink.{k + 1}")
        sink.wait_for_line(SUBSCRIBED)
        before = len(text_lines(out))
        for _ in bounded_polls(30):
            if len(text_lines(out)) > before:
                break
        figure(workdir, f"broker kill {k} (sink offline): readings flowing "
               f"again {time.monotonic() - t0:.2f} s after the broker restart")

    assert sensor.wait_exit(60) == 0, sensor.describe()
    wait_lines(out, 2000, 30, (sink,))
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    # mosquitto 2.0 acknowledges a publish before its save (at the end of
    # that loop iteration, autosave_interval 1), so a kill -9 inside that
    # window loses the reading it just acknowledged: measured 0-1 per
    # 2 kills. Allowed here: at most 1 per kill, none duplicated, and
    # every one reported by the sink as a gap (never hidden).
    seqs = [int(l.split()[0]) for l in text_lines(out)]
    assert len(seqs) == len(set(seqs)), "duplicate lines"
    missing = sorted(set(range(2000)) - set(seqs))
    gaps = sum(int(parse_summary(p)["gaps"]) for p in procs.all
               if p.name.startswith("sink."))
    figure(workdir, f"sink offline: lost {len(missing)} {missing[:10]} in 2 "
           f"broker kills, sink gaps reported {gaps}; sensor {counters(sensor)}")
    assert len(missing) <= 2, missing
    assert gaps >= len(missing), (missing, gaps)
    for line in text_lines(out):
        assert TEXT_LINE_RE.match(line), f"torn or malformed: {line!r}"


# --------------------------------------------------------------------------
# Sink failures

@pytest.mark.parametrize("fmt", ["text", "csv", "jsonl"])
def test_sink_kill9_twice_count0_loses_nothing_writes_nothing_twice(
        bins, broker, procs, workdir, fmt):
    out = workdir / f"readings.{fmt}"
    sid = f"faults-sink-kill-{fmt}"
    sink = sink_logger(procs, bins, broker.port, out, sid, "sink.1", fmt)
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "200", "--count", "2000",
        "--device", "sk-" + fmt))
    sensor.wait_for_line(CONNECTED)

    for k, at in enumerate((500, 1200), start=1):
        wait_lines(out, at, 30, (sink, sensor))
        kill9(sink)
        sink = sink_logger(procs, bins, broker.port, out, sid,
                           f"sink.{k + 1}", fmt)
        sink.wait_for_line(SUBSCRIBED)

    assert sensor.wait_exit(60) == 0, sensor.describe()
    n_header = 0 if fmt == "jsonl" else 1
    assert wait_lines(out, 2000 + n_header - (fmt == "text"), 30, (sink,)), \
        sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    if fmt == "text":
        assert_exactly_once(out, "sk-text", 2000)
    else:
        _assert_exactly_once_structured(out, fmt, "sk-" + fmt, 2000)
    s = parse_summary(sink)
    figure(workdir, f"sink kill -9 x2 ({fmt}): last run duplicates="
           f"{s['duplicates']} gaps={s['gaps']}")


def _assert_exactly_once_structured(path, fmt, device, n):
    import csv
    import io
    import json
    data = Path(path).read_bytes()
    assert data.endswith(b"\n"), f"{path}: torn last line {data[-80:]!r}"
    text = data.decode()
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][0] == "device", rows[0]
        assert all(len(r) == 8 for r in rows[1:]), "malformed csv line"
        keys = [(r[0], r[1], int(r[2])) for r in rows[1:]]
    else:
        docs = [json.loads(l) for l in text.splitlines()]
        keys = [(d["device"], d["boot"], d["seq"]) for d in docs]
    assert {k[0] for k in keys} == {device}
    assert len({k[1] for k in keys}) == 1
    seqs = [k[2] for k in keys]
    dup = len(seqs) - len(set(seqs))
    missing = sorted(set(range(n)) - set(seqs))
    assert dup == 0 and not missing and len(seqs) == n, (
        f"{path}: {len(seqs)} lines, {dup} duplicate, {len(missing)} missing "
        f"(first missing: {missing[:20]})")


def test_sink_repairs_a_torn_last_line_and_goes_on(bins, broker, procs,
                                                   workdir):
    """A power cut mid-write leaves a partial last line: the restarted
    logger cuts it off (that reading was never acknowledged, so the session
    brings it again) and appends complete lines after it."""
    out = workdir / "readings.txt"
    torn = "7 2026-11-24T21:23:04.123456Z torn-dev 22."
    out.write_text(TEXT_HEADER + "\n"
                   "5 2026-11-24T21:23:04.103456Z torn-dev 22.53\n"
                   "6 2026-11-24T21:23:04.113456Z torn-dev 22.54\n" + torn)
    sink = sink_logger(procs, bins, broker.port, out, "faults-torn", "sink")
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "200", "--count", "50",
        "--device", "torn-new"))
    assert sensor.wait_exit(20) == 0, sensor.describe()
    assert wait_lines(out, 52, 20, (sink,)) >= 52
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    data = out.read_text()
    assert torn not in data.replace(torn + " ", "")   # no fragment left
    lines = data.split("\n")
    assert lines[-1] == "" and lines[0] == TEXT_HEADER
    for line in lines[1:-1]:
        assert TEXT_LINE_RE.match(line), f"torn or malformed: {line!r}"
    assert lines[1].startswith("5 ") and lines[2].startswith("6 ")
    new = [int(l.split()[0]) for l in lines[3:-1]]
    assert new == list(range(50)), new


# --------------------------------------------------------------------------
# Slow consumer: the broker's queue overflows, the sink says so

def test_sink_too_slow_for_the_broker_queue_reports_the_gap(
        bins, broker_factory, procs, workdir):
    broker = broker_factory(port=free_port())
    patch_conf(broker.conf, max_queued_messages=100)
    broker.start()
    out = workdir / "readings.txt"
    sink = sink_logger(procs, bins, broker.port, out, "faults-slow", "sink")
    sink.wait_for_line(SUBSCRIBED)
    # Stopped for 1.5 s while the sensor sends 1000 readings/s: the
    # broker holds 100 in flight + 100 queued and drops the rest. The
    # sensor goes on after SIGCONT, so later readings show the hole.
    n = 3000
    sink.signal(signal.SIGSTOP)
    try:
        sensor = procs.start("sensor", sensor_argv(
            bins, broker.port, "--rate", "1000", "--count", str(n),
            "--device", "slow-dev"))
        sensor.wait_for_line(CONNECTED)
        time.sleep(1.5)   # fault duration, not readiness
    finally:
        sink.signal(signal.SIGCONT)
    assert sensor.wait_exit(30) == 0, sensor.describe()
    for _ in bounded_polls(20):
        if any(l.startswith(f"{n - 1} ") for l in text_lines(out)):
            break
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    s = parse_summary(sink)
    stored, gaps = int(s["stored"]), int(s["gaps"])
    assert stored < n, "the broker queue limit was not reached"
    assert gaps > 0, sink.describe()
    assert any(re.search(r"warning: gap: slow-dev boot [0-9a-f]{16}: \d+ "
                         r"reading\(s\) missing before seq \d+", l)
               for l in sink.stderr_lines()), sink.describe()
    assert stored + gaps == n, (stored, gaps)
    figure(workdir, f"slow sink, max_queued_messages 100: stored={stored} "
           f"gaps={gaps} (all reported)")


# --------------------------------------------------------------------------
# Long run: message ids wrap many times

@pytest.mark.slow
def test_200k_readings_rate0_qos1_none_lost(bins, broker_factory, procs,
                                           workdir):
    """Message ids (1..65535, allocated by paho) wrap three times; no
    reading may be lost or repeated. This is about the clients and the
    wire, not broker crash safety: the shipped autosave_interval 1 makes
    mosquitto write its database (with fsync) once per message, which caps
    a --rate 0 run near the disk's fsync rate (~400/s here) and would make
    this test take ~8 minutes, so this broker saves every 10000 changes."""
    n = 200_000
    broker = broker_factory(port=free_port())
    patch_conf(broker.conf, autosave_interval=10000)
    broker.start()
    out = workdir / "readings.txt"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", str(n), "--output", out,
        "--timeout", "240"))
    sink.wait_for_line(SUBSCRIBED)
    t0 = time.monotonic()
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "0", "--count", str(n),
        "--device", "long-run"))
    assert sensor.wait_exit(240) == 0, sensor.describe()
    t_sensor = time.monotonic() - t0
    assert sink.wait_exit(60) == 0, sink.describe()
    t_sink = time.monotonic() - t0
    assert_exactly_once(out, "long-run", n)
    s = parse_summary(sink)
    assert (s["stored"], s["duplicates"], s["gaps"]) == (str(n), "0", "0")
    figure(workdir, f"200k at --rate 0, QoS 1: sensor {n / t_sensor:.0f} "
           f"readings/s acknowledged ({t_sensor:.1f} s), sink complete after "
           f"{t_sink:.1f} s; latency p50 {s['p50']} ms p99 {s['p99']} ms")


# --------------------------------------------------------------------------
# Network failures: two hosts in network namespaces (tests/rig/netns.py)


