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
from pathlib import Path

import pytest

from conftest import (TEXT_HEADER, bounded_polls, free_port, parse_summary,
                      read_text_readings)

LINE_MAX = 1024                 # SPEC.md: a payload over 1024 bytes is invalid
SENSOR_CONNECTED = r"pitemp-sensor: info: connected to 127\.0\.0\.1:{port}$"
SENSOR_SUMMARY_RE = re.compile(
    r"samples=(?P<samples>\d+) published=(?P<published>\d+) "
    r"delivered=(?P<delivered>\d+) failed=(?P<failed>\d+) "
    r"dropped=(?P<dropped>\d+) .*connects=(?P<connects>\d+)")


# --------------------------------------------------------------------------
# Helpers

def figure(workdir, text):
    """Record a measured figure: printed, and kept beside the logs."""
    print(f"FIGURE: {text}")
    with open(workdir / "figures.txt", "a") as f:
        f.write(text + "\n")


def socket_sink(procs, bins, port, *extra, name="sink"):
    """Start pitemp-sink --mode socket on 127.0.0.1:port; return it once it
    logs that it listens."""
    sink = procs.start(name, [bins["sink"], "--mode", "socket",
                              "--bind", "127.0.0.1", "--port", str(port),
                              *extra])
    sink.wait_for_line(
        rf"^pitemp-sink: info: listening on 127\.0\.0\.1:{port}$")
    return sink


def socket_sensor(procs, bins, port, *extra, name="sensor"):
    return procs.start(name, [bins["sensor"], "--mode", "socket",
                              "--host", "127.0.0.1", "--port", str(port),
                              *extra])


def sensor_summary(proc):
    for line in reversed(proc.stderr_lines()):
        m = SENSOR_SUMMARY_RE.search(line)
        if m:
            return {k: int(v) for k, v in m.groupdict().items()}
    pytest.fail(f"{proc.name}: no summary line\n" + proc.describe())


def summary_ints(proc):
    s = parse_summary(proc)
    return {k: int(s[k]) for k in ("stored", "invalid", "duplicates", "gaps")}


def rows_of(path):
    """[(device, seq), ...] of a text-format file, in file order; checks the
    single header and the line format."""
    header, rows = read_text_readings(path)
    assert header == TEXT_HEADER, f"{path}: header {header!r}"
    text = Path(path).read_text()
    assert text.count("\n#") == 0, f"{path}: more than one header line"
    return [(r["device"], int(r["seq"])) for r in rows]


def reading_rows(path):
    """Number of reading lines (not the header) now in the file; 0 when it
    does not exist yet."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return 0
    return sum(1 for l in data.split(b"\n") if l and not l.startswith(b"#"))


def wait_rows(path, n, timeout, alive=()):
    for _ in bounded_polls(timeout):
        if reading_rows(path) >= n:
            return
        for p in alive:
            if not p.running():
                pytest.fail(f"{p.name} exited early\n" + p.describe())
    pytest.fail(f"{path}: fewer than {n} readings after {timeout} s "
                f"({reading_rows(path)})")


def wait_until(cond, timeout, what):
    for _ in bounded_polls(timeout):
        if cond():
            return
    pytest.fail(f"not within {timeout} s: {what}")


def count_lines(proc, pattern):
    rx = re.compile(pattern)
    return sum(1 for l in proc.stderr_lines() if rx.search(l))


def wait_count(proc, pattern, n, timeout=10):
    """Wait until `pattern` has appeared at least n times in proc's log."""
    for _ in bounded_polls(timeout):
        if count_lines(proc, pattern) >= n:
            return
    pytest.fail(f"{proc.name}: /{pattern}/ not seen {n} times within "
                f"{timeout} s\n" + proc.describe())


def payload(device, boot, seq, t0):
    """A valid reading as the schema has it (no optional fields)."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + seq // 100))
    ts += ".%06dZ" % ((seq % 100) * 10000)
    temp = 20.0 + (seq % 500) / 100.0
    return (f'{{"device":"{device}","boot":"{boot}","seq":{seq},'
            f'"ts":"{ts}","temp_c":{temp:.2f}}}').encode()


def client(port):
    """A connected plain TCP client."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def peer(sock):
    """How the sink names this client: "127.0.0.1:PORT"."""
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def sees_close(sock, timeout):
    """True when the sink closed this connection (EOF or reset) within
    `timeout` s. The sink never sends data in socket mode."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    assert data == b"", f"the sink sent data: {data!r}"
    return True


def proc_state(pid):
    """The one-letter state of a process from /proc (T: stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def freeze(proc):
    proc.signal(signal.SIGSTOP)
    wait_until(lambda: proc_state(proc.pid) in ("T", "t"), 5,
               f"{proc.name} stopped")


def rx_queued(port):
    """Bytes waiting, unread, in the receive queues of the sink's
    established connections on local port `port` (/proc/net/tcp)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            local, state, queues = f[1], f[3], f[4]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if state not in ("01", "08"):     # ESTABLISHED, CLOSE_WAIT
                continue
            total += int(queues.split(":")[1], 16)
    return total


def segments(seqs, cuts):
    """Split a file's seqs at the row counts `cuts` (one per sink instance
    that ended) into per-instance lists."""
    out, start = [], 0
    for c in list(cuts) + [len(seqs)]:
        out.append(seqs[start:c])
        start = c
    return out


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
    flood = [client(port) for _ in range(20)]
    served = set()
    for _ in bounded_polls(10):
        served = {c for c in flood
                  if re.search(rf"client {re.escape(peer(c))} connected$",
                               sink.stderr(), re.M)}
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


def test_sensor_refused_over_max_clients_loses_nothing(bins, procs, workdir):
    """A sensor that finds the sink full (--max-clients) must keep its
    readings until it is served: once the slot frees, every reading it
    counts as delivered is in the file.

    TCP completes the handshake and takes data before accept(), so by the
    time the sink refuses a connection the sensor may have written readings
    on it that the sink's kernel acknowledged (and the sensor retired).
    The sink therefore refuses in order: a FIN at once, then it reads and
    stores what the sensor had sent until the sensor closes; the sensor
    keeps the rest and retries."""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out,
                       "--max-clients", "1")
    holder = client(port)
    sink.wait_for_line(rf"client {re.escape(peer(holder))} connected$")
    sensor = socket_sensor(procs, bins, port, "--count", "50",
                           "--rate", "100", "--device", "late")
    # Refused twice: the second time it had readings queued to write.
    wait_count(sensor, r"connection to 127\.0\.0\.1:\d+ (lost|ended)", 2)
    holder.close()
    assert sensor.wait_exit(30) == 0, sensor.describe()
    k = sensor_summary(sensor)
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    stored = sorted(s for _, s in rows_of(out))
    figure(workdir, f"refused sensor: delivered={k['delivered']} "
                    f"connects={k['connects']} stored={len(stored)}")
    assert k["delivered"] == 50
    assert stored == list(range(50)), \
        f"{50 - len(stored)} of 50 'delivered' readings not stored"


# --------------------------------------------------------------------------
# 5. Sink restarts under a running sensor

def _restart_run(bins, procs, workdir, kill_sig, stall_bytes=0):
    """Sink logger (--count 0, append) and a sensor --count 1500 at 100 Hz;
    after 300 and after 800 stored readings the sink is ended with
    kill_sig and started again on the same file once the sensor has failed
    to reconnect. Returns (sensor, last sink, file seqs, cuts, rx) where
    cuts[i] is the number of readings in the file when instance i ended
    and rx[i] the bytes unread in its socket buffers at that moment
    (SIGKILL only: both programs are frozen first so that it is exact).
    With stall_bytes, the sink is frozen alone first until that many bytes
    wait unread for it: a sink stalled (disk, scheduling) when it dies."""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out,
                       name="sink.1")
    sensor = socket_sensor(procs, bins, port, "--count", "1500",
                           "--rate", "100", "--device", "r1")
    refused = (rf"cannot connect to 127\.0\.0\.1:{port}: "
               r"Connection refused; retrying")
    cuts, rx = [], []
    for i, at in enumerate((300, 800), start=1):
        wait_rows(out, at, 20, alive=(sink, sensor))
        if kill_sig == signal.SIGKILL:
            if stall_bytes:
                freeze(sink)
                wait_until(lambda: rx_queued(port) >= stall_bytes, 10,
                           f"{stall_bytes} bytes queued for the frozen sink")
            # Freeze the sensor, then the sink: nothing moves while we
            # read how much the sink's kernel holds for it, unread.
            freeze(sensor)
            freeze(sink)
            rx.append(rx_queued(port))
            sink.signal(signal.SIGKILL)
            sink.wait_exit(10)
            cuts.append(reading_rows(out))
            sensor.signal(signal.SIGCONT)
        else:
            sink.signal(kill_sig)
            assert sink.wait_exit(10) == 0, sink.describe()
            cuts.append(reading_rows(out))
            rx.append(0)
        # Down until the sensor has found the port closed (and holds on to
        # its readings), then back on the same file.
        wait_count(sensor, refused, i, 10)
        assert sensor.running(), sensor.describe()
        sink = socket_sink(procs, bins, port, "--count", "0", "--output",
                           out, name=f"sink.{i + 1}")
    assert sensor.wait_exit(40) == 0, sensor.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    rows = rows_of(out)         # one header, every line well formed
    assert {d for d, _ in rows} == {"r1"}
    return sensor, sink, [s for _, s in rows], cuts, rx


def _boundaries(seqs, cuts):
    """Per restart: (last seq of the old instance, first of the new one)."""
    segs = segments(seqs, cuts)
    for i, seg in enumerate(segs):
        assert seg, f"instance {i + 1} stored nothing"
        # One connection per instance: in order, nothing skipped.
        assert seg == list(range(seg[0], seg[0] + len(seg))), \
            f"instance {i + 1}: seqs not contiguous"
    assert segs[0][0] == 0 and segs[-1][-1] == 1499
    return [(a[-1], b[0]) for a, b in zip(segs, segs[1:])]


def test_sink_sigterm_restarts_lose_nothing(bins, procs, workdir):
    """SIGTERM is the orderly stop: the sink sends every client a FIN and
    reads until each has closed, so whatever a sensor wrote before it saw
    the FIN is stored; what the sink's TCP had not acknowledged when the
    sensor closed is sent again to the next instance. Every seq 0..1499
    is in the file.

    Duplicates: dedup state lives in one sink process, so a reading the
    new instance gets again (stored by the old one, its acknowledgement
    not yet seen by the sensor when the connection ended) is written a
    second time. With the FIN acknowledging everything received before it,
    that window is a reading or two at most; recovering the dedup state
    from the file's tail (sink/recover.c, in progress) closes it. Until
    then the test reports the count and asserts only that every duplicate
    sits at a restart boundary."""
    sensor, sink, seqs, cuts, _ = _restart_run(bins, procs, workdir,
                                               signal.SIGTERM)
    assert set(seqs) == set(range(1500)), \
        f"missing: {sorted(set(range(1500)) - set(seqs))[:50]}"
    dups = 0
    for last, first in _boundaries(seqs, cuts):
        assert first <= last + 1, f"lost {first - last - 1} after seq {last}"
        dups += last + 1 - first
    assert len(seqs) == 1500 + dups
    k = sensor_summary(sensor)
    assert (k["published"], k["delivered"], k["connects"]) == (1500, 1500, 3)
    assert count_lines(sensor, r"warning: connection to .* lost: closed by "
                       r"the peer; \d+ reading\(s\) kept to send again|"
                       r"info: connection to .* ended: closed by the peer") == 2
    figure(workdir, f"sigterm x2: lines={len(seqs)} distinct={len(set(seqs))}"
                    f" duplicates={dups} lost=0 cuts={cuts}")


@pytest.mark.parametrize("stall_bytes", [0, 6000],
                         ids=["running", "stalled"])
def test_sink_sigkill_restarts_lose_nothing(bins, procs, workdir, stall_bytes):
    """SIGKILL gives the sink no drain. The sensor keeps each reading until
    the sink answers that it stored it (lib/pt_ack.h): bytes the sink's
    kernel acknowledged but the sink never read, or held in its line
    buffer, are not answered, so the sensor sends them again, oldest
    first, to the next instance; what the old one stored but could not
    answer is dropped there by the dedup from the file's tail.

    Asserted: each instance's readings are contiguous (one TCP connection,
    in order), the file holds every seq 0..1499 exactly once, and the
    sensor exits 0 with all 1500 answered.

    "stalled": the sink is frozen before each kill until some 6000 bytes
    (about 45 readings) wait unread for it, as when a sink stalls on its
    disk and then dies. With the kernel's TCP acknowledgement as the
    sensor's proof (SIOCOUTQ, before application acks), each such kill
    lost those ~45 readings."""
    sensor, sink, seqs, cuts, rx = _restart_run(bins, procs, workdir,
                                                signal.SIGKILL, stall_bytes)
    for (last, first), q in zip(_boundaries(seqs, cuts), rx):
        figure(workdir, f"sigkill after seq {last}: unread bytes={q} "
                        f"next instance started at seq {first}")
        assert first == last + 1, \
            f"after seq {last} the next instance started at {first}"
    assert seqs == list(range(1500)), \
        f"missing: {sorted(set(range(1500)) - set(seqs))[:20]}"
    k = sensor_summary(sensor)
    assert (k["published"], k["delivered"]) == (1500, 1500)
    figure(workdir, f"sigkill x2 ({'stalled' if stall_bytes else 'running'}"
                    f" sink): unread bytes at the kills={rx} lost=0 "
                    f"duplicated=0")


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
