"""Floods an outside party can send at will, and who may speak in socket
mode: the sink's log stays a few lines a second per cause, each saying how
many like it were held back, while its counters count every one
(lib/ratelimit.c); --allow CIDR limits socket mode's peers (sink/allow.c).

Real mosquitto, real programs, real TCP on 127.0.0.1 and ::1; bounded waits.
"""

import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import bounded_polls, free_port, parse_summary, sink_argv
from faults import figure
from sockets import (rows_of, sensor_summary, socket_sensor, socket_sink,
                     summary_ints)

SUBSCRIBED = r"pitemp-sink: info: subscribed to pitemp/\+/temperature"
HELD_RE = re.compile(r"; (\d+) more like it held back$")
HELD_ALONE_RE = re.compile(r": (\d+) more line\(s\) held back$")
BURST = 5           # lines per second per cause (lib/pt_ratelimit.h)


def accounted(lines, what):
    """(lines printed for `what`, events they account for): each line is
    one event, plus what its '; N more like it held back' or a line of its
    own 'what: N more line(s) held back' says."""
    printed = events = 0
    for l in lines:
        if what not in l:
            continue
        printed += 1
        m = HELD_ALONE_RE.search(l)
        if m and l.split("warning: ", 1)[-1].startswith(what + ":"):
            events += int(m.group(1))
            continue
        events += 1
        m = HELD_RE.search(l)
        if m:
            events += int(m.group(1))
    return printed, events


def bad_payload(i):
    kinds = ('{"device":"flood","seq":%d}' % i,
             'not json %d' % i,
             '{"device":"flood","boot":"0123456789abcdef","seq":%d,'
             '"ts":"2026-11-24T21:23:04.123456Z","temp_c":999}' % i)
    return kinds[i % 3]


def test_50000_invalid_mqtt_payloads_give_a_few_log_lines_and_every_count(
        bins, broker_factory, procs, workdir):
    n = 50000
    # The dev profile saves its database after every change (a write and
    # an fsync per message): 50,000 messages would take minutes here. What
    # is tested is the sink, so this broker keeps nothing on disk.
    broker = broker_factory()
    broker.conf.write_text(broker.conf.read_text().replace(
        "persistence true", "persistence false"))
    broker.start()
    out = workdir / "readings.txt"
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0",
                                         "-o", out))
    sink.wait_for_line(SUBSCRIBED)
    src = workdir / "bad.txt"
    src.write_text("".join(bad_payload(i) + "\n" for i in range(n)))
    t0 = time.monotonic()
    with open(src, "rb") as stdin:
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p",
                            str(broker.port), "-q", "1", "-l", "-t",
                            "pitemp/flood/temperature"], stdin=stdin,
                           capture_output=True, timeout=120)
    assert r.returncode == 0, r
    # The sink has them all once a good reading sent after them is stored.
    sensor = procs.start("sensor", [bins["sensor"], "-h", "127.0.0.1", "-p",
                                    str(broker.port), "-C", "5",
                                    "--device", "after-flood"])
    assert sensor.wait_exit(60) == 0, sensor.describe()
    for _ in bounded_polls(60):
        if out.exists() and "after-flood" in out.read_text():
            break
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    elapsed = time.monotonic() - t0

    lines = sink.stderr_lines()
    printed, events = accounted(lines, "invalid payload")
    figure(workdir, f"{n} invalid payloads in {elapsed:.1f} s: "
                    f"{printed} 'invalid payload' lines, {len(lines)} lines "
                    f"in all")
    assert parse_summary(sink)["invalid"] == str(n)
    assert events == n, "the held-back counts do not add up"
    # At most BURST lines per second plus one 'held back' line per second.
    assert printed <= (BURST + 1) * (int(elapsed) + 2), printed
    assert len(lines) < 200, "\n".join(lines[:50])
    assert all(l.isprintable() for l in lines)


def test_flood_of_invalid_lines_and_refused_peers_in_socket_mode(
        bins, procs, workdir):
    """One client writes 50,000 invalid lines, 300 connections come from a
    peer outside --allow, and a sensor in the allowed network goes on: the
    log stays short, every invalid line and every refused peer is counted,
    and the sensor's readings are all stored."""
    n, peers = 50000, 300
    port = free_port()
    out = workdir / "readings.txt"
    # Dual stack: IPv4 peers arrive as ::ffff:127.0.0.1; only ::1 allowed.
    sink = procs.start("sink", [bins["sink"], "--mode", "socket", "--bind",
                                "::", "--port", str(port), "-C", "0",
                                "-o", out, "--allow", "::1/128"])
    sink.wait_for_line(rf"listening on :::{port}$")
    sink.wait_for_line(r"accepting only peers in ::1/128 \(--allow\)$", 1)
    assert "no authentication" not in sink.stderr()
    t0 = time.monotonic()
    with socket.create_connection(("::1", port), timeout=10) as c:
        c.sendall(b"".join(bad_payload(i).encode() + b"\n"
                           for i in range(n)))
    for _ in range(peers):
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=5) as c:
                c.sendall(b'{"device":"intruder"}\n')
        except OSError:
            pass        # reset by the sink before we wrote: refused too
    sensor = procs.start("sensor", [bins["sensor"], "--mode", "socket",
                                    "-h", "::1", "-p", str(port), "-C", "100",
                                    "--rate", "0", "--device", "inside"])
    assert sensor.wait_exit(60) == 0, sensor.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    elapsed = time.monotonic() - t0

    lines = sink.stderr_lines()
    inv_printed, inv_events = accounted(lines, "invalid payload")
    ref_printed, ref_events = accounted(lines, "refused: not in --allow")
    figure(workdir, f"socket flood in {elapsed:.1f} s: {n} invalid lines -> "
                    f"{inv_printed} log lines; {peers} refused peers -> "
                    f"{ref_printed} log lines; {len(lines)} lines in all")
    assert summary_ints(sink)["invalid"] == n
    assert inv_events == n
    assert re.search(rf"clients: served=2 refused_over_limit=0 "
                     rf"refused_not_allowed={peers}$", sink.stderr(), re.M), \
        sink.describe()
    for printed in (inv_printed, ref_printed):
        assert printed <= (BURST + 1) * (int(elapsed) + 2), printed
    assert len(lines) < 200
    assert {d for d, _ in rows_of(out)} == {"inside"}
    assert sorted(s for _, s in rows_of(out)) == list(range(100))


def test_allow_refuses_peers_outside_and_serves_those_inside(bins, procs,
                                                             workdir):
    """--allow 10.0.0.0/8 on 127.0.0.1: a local sensor is refused (logged
    and counted, nothing it sent is stored, it keeps its readings); the
    same sink with --allow 127.0.0.0/8 takes them all."""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "-C", "0", "-o", out,
                       "--allow", "10.0.0.0/8", name="sink.1")
    sensor = socket_sensor(procs, bins, port, "-C", "50", "--rate", "100",
                           "--device", "outside")
    sink.wait_for_line(r"client 127\.0\.0\.1:\d+ refused: not in --allow; "
                       r"1 refused so far$")
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert re.search(r"clients: served=0 refused_over_limit=0 "
                     r"refused_not_allowed=[1-9]\d*$", sink.stderr(), re.M)
    assert sensor.running(), "the refused sensor gave up its readings"
    assert rows_of(out) == []

    sink = socket_sink(procs, bins, port, "-C", "0", "-o", out,
                       "--allow", "127.0.0.0/8", name="sink.2")
    assert sensor.wait_exit(60) == 0, sensor.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert [s for _, s in rows_of(out)] == list(range(50))
    k = sensor_summary(sensor)
    assert k["delivered"] == 50


def test_socket_sink_without_allow_says_it_has_no_authentication(
        bins, procs, workdir):
    port = free_port()
    sink = socket_sink(procs, bins, port, "-C", "0", "-o",
                       workdir / "r.txt")
    sink.wait_for_line(
        rf"^pitemp-sink: warning: socket mode has no authentication: anyone "
        rf"who reaches 127\.0\.0\.1:{port} can store readings \(--allow CIDR "
        rf"limits the peers; or use MQTT with the secure broker profile\)$",
        5)


@pytest.mark.parametrize("value", ["10.0.0.0/33", "10.1.2.3/8", "nowhere",
                                   "10.0.0.0/8,"])
def test_bad_allow_is_a_usage_error_naming_it(bins, procs, workdir, value):
    out = workdir / "r.txt"
    p = procs.run("sink", [bins["sink"], "--mode", "socket", "--bind",
                           "127.0.0.1", "--port", str(free_port()),
                           "-o", out, "--allow", value])
    assert p.returncode == 2, p.describe()
    assert re.search(r"^pitemp-sink: error: option --allow: '", p.stderr(),
                     re.M), p.describe()
    assert not out.exists()
