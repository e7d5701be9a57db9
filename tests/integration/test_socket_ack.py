"""Socket mode's application acknowledgement (lib/pt_ack.h, docs/spec.md
"Socket mode"): a pitemp-sensor counts as delivered only what the sink
answered as stored, whatever the sink's kernel took; and what a user sees
who points the sensor at `nc -l`, or a plain `nc` at the sink.

The real programs and a real nc (netcat-openbsd) on free ports of
127.0.0.1; readiness is a log line or a listening socket, never a bare
sleep; every process is stopped by its PID.
"""

import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import bounded_polls, free_port
from faults import figure
from sockets import (payload, rows_of, sensor_summary, socket_sensor,
                     socket_sink, summary_ints)


def listening(port):
    """True when something listens on 127.0.0.1:port (/proc/net/tcp, so
    that a one-shot listener like `nc -l` is not used up by the check)."""
    want = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == want and f[3] == "0A":
            return True
    return False


def start_nc_listener(procs, port, name="nc"):
    nc = procs.start(name, ["nc", "-l", "127.0.0.1", str(port)])
    for _ in bounded_polls(10):
        if listening(port):
            return nc
        if not nc.running():
            break
    pytest.fail("nc -l is not listening\n" + nc.describe())


# --------------------------------------------------------------------------
# The reproducer

def test_refused_sensor_counts_as_delivered_only_what_the_sink_stored(
        bins, procs, workdir):
    """--max-clients 1: sensor s1 holds the slot, an idle connection holds
    the one slot for orderly refusals, and sensor s2 (--count 300) is
    refused again and again, some connections closed unread with readings
    its kernel had already sent and the sink's kernel acknowledged. s2
    counts a reading delivered only when the sink answers for it, so it
    sends every one again until it is served: it exits 0 with delivered
    300, and the file holds s2's seq 0..299 once each, with no gap. (Before
    the acknowledgement, s2 reported delivered=300 and exit 0 while the
    file held only seq 97..299.)"""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out,
                       "--max-clients", "1")
    s1 = socket_sensor(procs, bins, port, "--count", "400", "--rate", "100",
                       "--device", "s1", name="s1")
    sink.wait_for_line(r"client 127\.0\.0\.1:\d+ connected$")
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s2 = socket_sensor(procs, bins, port, "--count", "300", "--rate",
                           "100", "--device", "s2", name="s2")
        sink.wait_for_line(r"refused: no slot left, closed unread", 15)
        assert s1.wait_exit(30) == 0, s1.describe()
        assert s2.wait_exit(60) == 0, s2.describe()
    finally:
        idle.close()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()

    k = sensor_summary(s2)
    rows = rows_of(out)
    s2_seqs = [s for d, s in rows if d == "s2"]
    figure(workdir, f"refused s2: delivered={k['delivered']} "
                    f"connects={k['connects']} stored={len(s2_seqs)}")
    assert k["delivered"] == 300 and k["failed"] == 0
    assert sorted(s2_seqs) == list(range(300)), \
        f"missing: {sorted(set(range(300)) - set(s2_seqs))[:20]}"
    assert sorted(s for d, s in rows if d == "s1") == list(range(400))
    s = summary_ints(sink)
    assert s["gaps"] == 0 and s["stored"] == 700, s


# --------------------------------------------------------------------------
# The sink says so when a boot's first reading is not seq 0

def test_sink_reports_a_boot_whose_first_reading_is_not_seq_0(
        bins, procs, workdir):
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "203", "--output", out,
                       "--timeout", "20")
    t0 = 1.8e9
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"".join(payload("late", "00000000000000ab", i, t0) + b"\n"
                           for i in range(97, 300)))
        c.shutdown(socket.SHUT_WR)
        assert sink.wait_exit(20) == 0, sink.describe()
    assert re.search(r"^pitemp-sink: warning: gap: late boot 00000000000000ab: "
                     r"the first reading seen is seq 97: 97 reading\(s\) "
                     r"before it never arrived$", sink.stderr(), re.M), \
        sink.describe()
    assert summary_ints(sink) == {"stored": 203, "invalid": 0,
                                  "duplicates": 0, "gaps": 97}


# --------------------------------------------------------------------------
# nc on either side

def test_sensor_pointed_at_nc_listener_streams_but_counts_nothing_delivered(
        bins, procs, workdir):
    """`nc -l` prints what arrives and never answers. The sensor says once
    that the peer is not a pitemp-sink, goes on streaming (past its
    buffer: at --rate 0 it holds 1000 readings, and lets the oldest one
    already written go for each new one, counted as unacked), counts none
    as delivered, and with --count exits 1 saying why."""
    port = free_port()
    nc = start_nc_listener(procs, port)
    sensor = socket_sensor(procs, bins, port, "--count", "3000",
                           "--rate", "0", "--device", "to-nc")
    assert sensor.wait_exit(60) == 1, sensor.describe()
    assert nc.wait_exit(10) == 0, nc.describe()
    lines = nc.stdout_bytes().decode().splitlines()
    assert lines[0] == "pitemp-sensor 1", lines[:2]
    assert len(lines) == 3001
    assert all('"device":"to-nc"' in l for l in lines[1:])
    err = sensor.stderr()
    assert re.search(rf"warning: 127\.0\.0\.1:{port} sent no greeting within "
                     r"3000 ms: not a pitemp-sink \(nc -l\?\)", err), err
    assert re.search(rf"warning: 3000 readings not acknowledged by "
                     rf"127\.0\.0\.1:{port} are discarded at exit \(the peer "
                     r"never acknowledges: not a pitemp-sink\)", err), err
    k = sensor_summary(sensor)
    assert k["delivered"] == 0 and k["published"] == 3000
    assert re.search(r"unacked=2000 ", err), err


def run_nc_client(workdir, port, text, name):
    """`nc -N 127.0.0.1 PORT < file`: send, half-close, print what comes
    back until the sink closes."""
    src = workdir / f"{name}.in"
    src.write_bytes(text)
    with open(src, "rb") as stdin:
        r = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], stdin=stdin,
                           capture_output=True, timeout=30)
    assert r.returncode == 0, r
    return r.stdout.decode()


def test_plain_nc_at_the_sink_is_stored_and_gets_acks_only_if_it_asks(
        bins, procs, workdir):
    """A plain client (nc, a script) sends readings and gets nothing back,
    as before acks existed: it is never made to read. One whose first
    line is the sensor's hello, `pitemp-sensor 1`, gets the greeting and
    the acks, readable as they are."""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out)
    t0 = 1.8e9
    plain = b"".join(payload("nc-a", "00000000000000aa", i, t0) + b"\n"
                     for i in range(50))
    assert run_nc_client(workdir, port, plain, "plain") == ""
    asking = (b"pitemp-sensor 1\n"
              + b"".join(payload("nc-b", "00000000000000bb", i, t0) + b"\n"
                         for i in range(20))
              + b"not json\n")
    answer = run_nc_client(workdir, port, asking, "asking")
    lines = answer.splitlines()
    assert lines[0] == "pitemp-sink 1", answer
    assert all(re.fullmatch(r"ack \d+( \d+)?", l) for l in lines[1:]), answer
    assert lines[-1] == "ack 21 1", answer      # 20 stored, 1 rejected
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    rows = rows_of(out)
    assert [s for d, s in rows if d == "nc-a"] == list(range(50))
    assert [s for d, s in rows if d == "nc-b"] == list(range(20))
    assert summary_ints(sink)["invalid"] == 1
