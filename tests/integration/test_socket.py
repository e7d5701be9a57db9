"""Socket mode end to end (SPEC.md: newline-delimited JSON over plain TCP):
pitemp-sensor --mode socket -> pitemp-sink --mode socket, and Python
clients standing in for sensors, good and hostile. The real programs on
free ports of 127.0.0.1, real files; readiness is a log line or a state,
never a bare sleep; every process is stopped by its PID.

Tests that measure something print it (pytest -s shows it) and keep it in
$PITEMP_BUILD/test-tmp/<test>/figures.txt.
"""

import json
import random
import re
import signal
import socket
import time

import pytest

from conftest import bounded_polls, free_port
from faults import figure
from sockets import (LINE_MAX, SENSOR_CONNECTED, client, count_lines, payload,
                     peer, rows_of, sees_close, sensor_summary, socket_sensor,
                     socket_sink, summary_ints, wait_count, wait_rows)


# --------------------------------------------------------------------------
# Helpers


# --------------------------------------------------------------------------
# 1. Happy path

def test_socket_sensor_to_sink_stores_100_readings(bins, procs, workdir):
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "100", "--output", out,
                       "--timeout", "30")
    sensor = socket_sensor(procs, bins, port, "--count", "100",
                           "--device", "s1")

    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert sink.wait_exit(30) == 0, sink.describe()
    sensor.wait_for_line(SENSOR_CONNECTED.format(port=port), 1)
    rows = rows_of(out)
    assert rows == [("s1", i) for i in range(100)]
    assert summary_ints(sink) == {"stored": 100, "invalid": 0,
                                  "duplicates": 0, "gaps": 0}
    k = sensor_summary(sensor)
    assert (k["published"], k["delivered"], k["connects"]) == (100, 100, 1)
    assert re.search(r"client 127\.0\.0\.1:\d+ connected", sink.stderr())


# --------------------------------------------------------------------------
# 2. Reassembly of 10,000 lines cut anywhere

def test_10000_lines_in_random_chunks_arrive_exactly_once(bins, procs,
                                                          workdir):
    """A Python client writes 10,000 valid readings as one byte stream cut
    into chunks of 1..4096 bytes (fixed seed), so lines are split at every
    kind of place; each arrives once, whole."""
    n = 10000
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", str(n), "--output", out,
                       "--timeout", "30")
    boot = "0123456789abcdef"
    t0 = int(time.time()) - 200
    stream = b"".join(payload("py-1", boot, i, t0) + b"\n" for i in range(n))
    rnd = random.Random(20261124)
    with client(port) as c:
        off = 0
        while off < len(stream):
            k = rnd.randint(1, 4096)
            c.sendall(stream[off:off + k])
            off += k
        # Done writing; the sink closes its side once it has its 10,000.
        c.shutdown(socket.SHUT_WR)
        assert sees_close(c, 30), "the sink never closed the connection"
    assert sink.wait_exit(30) == 0, sink.describe()

    rows = rows_of(out)
    assert len(rows) == n
    assert sorted(s for _, s in rows) == list(range(n))
    assert {d for d, _ in rows} == {"py-1"}
    assert [s for _, s in rows] == list(range(n)), "not in arrival order"
    assert summary_ints(sink) == {"stored": n, "invalid": 0,
                                  "duplicates": 0, "gaps": 0}
    assert "invalid payload" not in sink.stderr()


# --------------------------------------------------------------------------
# 3. Several sensors at once

def test_three_sensors_at_once(bins, procs, workdir):
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "600", "--output", out,
                       "--timeout", "30")
    sensors = [socket_sensor(procs, bins, port, "--count", "200",
                             "--device", d, name=f"sensor-{d}")
               for d in ("s1", "s2", "s3")]
    for s in sensors:
        assert s.wait_exit(30) == 0, s.describe()
    assert sink.wait_exit(30) == 0, sink.describe()

    rows = rows_of(out)
    assert len(rows) == 600
    for d in ("s1", "s2", "s3"):
        # In order per device: one connection each, TCP keeps the order.
        assert [s for dev, s in rows if dev == d] == list(range(200)), d
    # Interleaved: they really ran at the same time.
    assert rows[:200] != [("s1", i) for i in range(200)] or \
        rows[200:400] != [("s2", i) for i in range(200)]
    assert count_lines(sink, r"client 127\.0\.0\.1:\d+ connected$") == 3
    assert summary_ints(sink) == {"stored": 600, "invalid": 0,
                                  "duplicates": 0, "gaps": 0}


# --------------------------------------------------------------------------
# 4. Hostile peers while a good sensor goes on

GARBAGE_SEED = 4242


def garbage_lines():
    """Binary lines (every byte value but LF and CR, NUL included) and
    near-miss JSON; none is a valid reading, none is empty or over the
    limit."""
    rnd = random.Random(GARBAGE_SEED)
    pool = bytes(b for b in range(256) if b not in (0x0a, 0x0d))
    lines = [bytes(rnd.choice(pool) for _ in range(rnd.randint(1, 200)))
             for _ in range(40)]
    good = json.loads(payload("hostile", "0123456789abcdef", 1, 1.8e9))
    for over in ({"temp_c": 130}, {"colour": "red"}, {"seq": -1},
                 {"boot": "0123456789ABCDEF"}, {"ts": "yesterday"}):
        doc = dict(good)
        doc.update(over)
        lines.append(json.dumps(doc, separators=(",", ":")).encode())
    lines += [b"\x00", b"{}", b"[]", b"null", b'{"device":"hostile"',
              b"\xff\xfe{\"device\":\"hostile\"}"]
    return lines


def test_hostile_peers_do_not_disturb_a_good_sensor(bins, procs, workdir):
    """A sink logger (--count 0, --idle-timeout 2, --max-clients 4) serves
    a good sensor at 100 Hz while, one after the other: two clients send
    over-long lines, one stays silent, one sends binary garbage, and a
    flood of connections goes over the client limit. Each hostile client
    is closed (or refused) with a log line and sees its connection end;
    the good sensor keeps its one connection, and the file ends up holding
    exactly its readings, seq 0 to the last one it reports delivered."""
    port = free_port()
    out = workdir / "readings.txt"
    # -d: every log line (no rate limit), so each hostile act's own line
    # can be checked; test_flood.py checks the limit.
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out,
                       "--idle-timeout", "2", "--max-clients", "4", "-d")
    sensor = socket_sensor(procs, bins, port, "--rate", "100",
                           "--device", "good")
    sensor.wait_for_line(SENSOR_CONNECTED.format(port=port))
    wait_rows(out, 20, 10, alive=(sink, sensor))

    # (a) Over-long lines: 2000 bytes with no newline; 1500 and a newline.
    a1, a2 = client(port), client(port)
    a1.sendall(b"x" * 2000)
    a2.sendall(b"{" + b"y" * 1499 + b"\n")
    sink.wait_for_line(
        rf"^pitemp-sink: warning: client {re.escape(peer(a1))}: line longer "
        rf"than the {LINE_MAX}-byte limit; closing$")
    sink.wait_for_line(
        rf"^pitemp-sink: warning: client {re.escape(peer(a2))}: "
        rf"(line of 1500 bytes is over the|line longer than the) "
        rf"{LINE_MAX}-byte limit; closing$")
    for c in (a1, a2):
        assert sees_close(c, 5), f"{peer(c)} still open after its long line"
        sink.wait_for_line(rf"client {re.escape(peer(c))} disconnected "
                           r"\(line too long\) after 0 line\(s\)$")
        c.close()

    # (b) A client that sends nothing is dropped after --idle-timeout 2.
    idle = client(port)
    sink.wait_for_line(rf"client {re.escape(peer(idle))} connected$")
    assert sees_close(idle, 10), "the idle client was not dropped"
    sink.wait_for_line(
        rf"^pitemp-sink: warning: client {re.escape(peer(idle))}: nothing "
        rf"received for 2000 ms \(--idle-timeout\); closing$", 1)
    sink.wait_for_line(rf"client {re.escape(peer(idle))} disconnected "
                       r"\(idle\) after 0 line\(s\)$", 1)
    idle.close()

    # (c) Binary garbage and near misses, one line each: every line is
    # rejected with a reason; the client itself is not closed for it.
    bad = garbage_lines()
    g = client(port)
    g_peer = peer(g)
    g.sendall(b"".join(l + b"\n" for l in bad))
    warn = (rf"^pitemp-sink: warning: invalid payload from "
            rf"{re.escape(g_peer)}: \S")
    wait_count(sink, warn, len(bad))
    assert not sees_close(g, 0.1), "a client sending invalid lines was closed"
    g.close()
    sink.wait_for_line(rf"client {re.escape(g_peer)} disconnected "
                       rf"\(closed by the peer\) after {len(bad)} line\(s\)$")
    assert count_lines(sink, warn) == len(bad)
    invalid_lines = [l for l in sink.stderr_lines() if "invalid payload" in l]
    for l in invalid_lines:
        # The log stays one printable line per event, whatever came in.
        assert l.isprintable(), repr(l)
    near = [l for l in invalid_lines if "temp_c" in l or "colour" in l]
    assert len(near) >= 2, invalid_lines

    # (d) A flood beyond --max-clients (4): with the sensor connected, 3
    # more are served; 4 are refused in order (a FIN at once, read until
    # they close, at most 2 s); the other 13, beyond the closing slots, are
    # closed unread.
    # Only lines from here on: a flood client may get the local port of a
    # client above (the kernel reuses ephemeral ports).
    before = len(sink.stderr())
    flood = [client(port) for _ in range(20)]
    served = set()
    for _ in bounded_polls(10):
        served = {c for c in flood
                  if re.search(rf"client {re.escape(peer(c))} connected$",
                               sink.stderr()[before:], re.M)}
        hard_n = count_lines(sink, r"refused: no slot left, closed unread")
        if len(served) == 3 and hard_n >= 4:        # 1, 2, 4, 8 logged
            break
    assert len(served) == 3, sink.describe()
    assert re.search(r"refused: 4 clients already connected \(--max-clients\);"
                     r" 4 refused so far$", sink.stderr(), re.M), \
        sink.describe()
    assert re.search(r"refused: no slot left, closed unread; 8 so far$",
                     sink.stderr(), re.M), sink.describe()
    for c in flood:
        if c not in served:
            assert sees_close(c, 5), f"refused {peer(c)} not closed"
    for c in served:
        assert not sees_close(c, 0.1), f"served {peer(c)} closed at once"
    names = [peer(c) for c in served]
    for c in flood:
        c.close()
    for name in names:
        sink.wait_for_line(rf"client {re.escape(name)} disconnected "
                           r"\((closed by the peer|idle)\) after 0 line")
    assert sensor.running() and sink.running()

    # Stop the sensor, then the sink; every reading of the good sensor is
    # in the file, and nothing else.
    sensor.signal(signal.SIGTERM)
    assert sensor.wait_exit(15) == 0, sensor.describe()
    k = sensor_summary(sensor)
    sink.wait_for_line(r"disconnected \(closed by the peer\) after "
                       rf"{k['delivered']} line\(s\)$")
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()

    assert k["connects"] == 1, "the good sensor's connection did not stay"
    assert "lost" not in sensor.stderr(), sensor.describe()
    assert k["delivered"] == k["published"] > 100
    rows = rows_of(out)
    assert {d for d, _ in rows} == {"good"}, "hostile input was stored"
    assert [s for _, s in rows] == list(range(k["delivered"]))
    s = summary_ints(sink)
    assert s == {"stored": k["delivered"], "invalid": len(bad),
                 "duplicates": 0, "gaps": 0}, sink.describe()
    figure(workdir, f"hostile: good sensor delivered={k['delivered']} "
                    f"stored={s['stored']} invalid={s['invalid']}")


# --------------------------------------------------------------------------
# 5. Sink restarts under a running sensor


# --------------------------------------------------------------------------
# 6. Usage and startup errors

def test_sensor_socket_mode_port_0_is_a_usage_error(bins, procs):
    p = procs.run("sensor", [bins["sensor"], "--mode", "socket", "--host",
                             "127.0.0.1", "--port", "0", "--count", "1"])
    assert p.returncode == 2, p.describe()
    assert re.search(r"^pitemp-sensor: error: option --port: '0'",
                     p.stderr(), re.M), p.describe()
    assert "connected" not in p.stderr()


@pytest.mark.parametrize("opt,val", [("--max-clients", "0"),
                                     ("--max-clients", "x"),
                                     ("--idle-timeout", "-1")])
def test_sink_bad_socket_option_is_a_usage_error(bins, procs, workdir, opt,
                                                 val):
    out = workdir / "readings.txt"
    p = procs.run("sink", [bins["sink"], "--mode", "socket", "--bind",
                           "127.0.0.1", "--port", str(free_port()),
                           "--output", out, opt, val])
    assert p.returncode == 2, p.describe()
    assert re.search(rf"^pitemp-sink: error: option {opt}: '{re.escape(val)}'",
                     p.stderr(), re.M), p.describe()
    assert "listening" not in p.stderr()
    assert not out.exists()


def test_sink_bad_bind_address_fails_naming_it(bins, procs, workdir):
    out_dir = workdir / "out"
    out_dir.mkdir()
    p = procs.run("sink", [bins["sink"], "--mode", "socket", "--bind",
                           "256.1.1.1", "--port", str(free_port()),
                           "--output", out_dir / "readings.txt"])
    assert p.returncode != 0, p.describe()
    assert re.search(r"^pitemp-sink: error: .*--bind.*'256\.1\.1\.1'",
                     p.stderr(), re.M), p.describe()
    assert "listening" not in p.stderr()
    assert list(out_dir.iterdir()) == [], "a failed start left files"


def test_sink_port_in_use_exits_1(bins, procs, workdir):
    out_dir = workdir / "out"
    out_dir.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = procs.run("sink", [bins["sink"], "--mode", "socket", "--bind",
                               "127.0.0.1", "--port", str(port),
                               "--output", out_dir / "readings.txt"])
    assert p.returncode == 1, p.describe()
    assert re.search(rf"^pitemp-sink: error: cannot listen on "
                     rf"127\.0\.0\.1:{port}: Address already in use$",
                     p.stderr(), re.M), p.describe()
    assert list(out_dir.iterdir()) == [], "a failed start left files"
